"""A training step on a GPU never waits for the device: HPT's MLM loss over a fixed budget of positions,
host-drawn random numbers copied without blocking; checked under torch.cuda.set_sync_debug_mode where
CUDA exists, and on the CPU by the budget path's equality with boolean indexing."""
import math

import pytest
import torch

from lhmix.model.classifier import MLM_PROBABILITY, HTCModel, mlm_budget
from lhmix.model.encoders import load_tokenizer
from lhmix.model.inputs import build_inputs
from lhmix.training import loop, session
from lhmix.training.devices import Processes
from tests.test_models import HIERARCHY, batch

TEXTS = ["neural networks learn representations from data and more words here", "genes of a cat",
         "databases hold rows of facts"]


@pytest.fixture(scope="module")
def model_and_batch():
    tokenizer = load_tokenizer("tiny-random")
    model = HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer, mlm_loss=True).eval()
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, 24), tokenizer.pad_token_id)
    return model, input_ids, mask


def test_budget_is_the_binomial_mean_plus_eight_standard_deviations():
    n = 8192
    assert mlm_budget(n) == math.ceil(0.15 * n + 8 * math.sqrt(n * 0.15 * 0.85)) + 8 == 1496
    assert mlm_budget(10) == 10  # never more than the positions there are
    assert MLM_PROBABILITY == 0.15


@pytest.mark.parametrize("budget", [None, 40, 72])
def test_budget_path_equals_boolean_indexing(model_and_batch, budget):
    model, input_ids, mask = model_and_batch
    corrupted, chosen = model.corrupt_text(input_ids, mask, torch.Generator().manual_seed(3))
    assert 0 < int(chosen.sum()) <= 40
    with torch.no_grad():
        hidden = model.encode(corrupted, mask)
        exact = model.mlm_loss(hidden, chosen, input_ids)
        gathered = model.mlm_loss(hidden, chosen, input_ids, budget=budget)
    assert gathered.item() == pytest.approx(exact.item(), rel=1e-6)


def test_budget_path_is_zero_when_nothing_was_chosen(model_and_batch):
    model, input_ids, mask = model_and_batch
    with torch.no_grad():
        hidden = model.encode(input_ids, mask)
        none = torch.zeros_like(mask, dtype=torch.bool)
        assert model.mlm_loss(hidden, none, input_ids, budget=8).item() == 0.0


def test_budget_path_gradients_equal_boolean_indexing(model_and_batch):
    model, input_ids, mask = model_and_batch
    _, chosen = model.corrupt_text(input_ids, mask, torch.Generator().manual_seed(5))
    grads = []
    for budget in (None, 48):
        model.zero_grad()
        model.mlm_loss(model.encode(input_ids, mask), chosen, input_ids, budget).backward()
        grads.append(model.mlm_transform.dense.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-7)


def test_an_overflowing_budget_stops_the_run_naming_the_step():
    class Objective:
        mlm_overflows = torch.tensor(2)
    with pytest.raises(loop.MlmBudgetExceeded, match="in 2 batch.* epoch 3, step 50"):
        loop._check_mlm_budget(Objective(), 3, 50)
    Objective.mlm_overflows = torch.tensor(0)
    loop._check_mlm_budget(Objective(), 3, 50)


@pytest.mark.parametrize("value, threads", [(None, None), ("1", 1), ("3", 3)])
def test_threads_follow_omp_num_threads_when_the_runner_sets_it(monkeypatch, value, threads):
    if value is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(session.os, "cpu_count", lambda: 8)
        assert session.cpu_threads(Processes(local_world_size=2)) == 4
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert session.cpu_threads(Processes(local_world_size=2)) == threads


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_omp_num_threads_is_named(monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with pytest.raises(session.LhmixError, match="OMP_NUM_THREADS"):
        session.cpu_threads(Processes())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: run by make gpu-check on a GPU")
@pytest.mark.parametrize("variant", ["prompt", "prompt_lhmix", "prompt_mixup", "bert"])
def test_no_host_synchronisation_inside_a_cuda_training_step(variant, tmp_path):
    from tests.script_loader import load_script
    assert load_script("tools/gpu_check.py").sync_free_steps(variant, tmp_path) == "none"


def test_the_4d_mask_built_for_a_gpu_gives_the_encoders_own_result(model_and_batch):
    """What encoder_mask gives on a GPU (SDPA), checked on the CPU against transformers' own 2-D handling."""
    model, input_ids, mask = model_and_batch
    assert model.encoder.config._attn_implementation == "sdpa"
    assert (mask == 0).any()  # padded rows: the mask matters
    with torch.no_grad():
        own = model.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        built = model.encoder(input_ids=input_ids, attention_mask=mask.bool()[:, None, None, :]).last_hidden_state
    torch.testing.assert_close(built, own, rtol=1e-5, atol=1e-6)
    assert model.encoder_mask(mask) is mask  # on the CPU, unchanged
