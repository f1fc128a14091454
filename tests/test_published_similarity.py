"""similarity.source: published, LH-Mix's similarity as the released code computes it
(lhmix.model.published_similarity): the label sequences, what padding and the attention mask do to s, gradients
and dropout, the partners it leaves paired with the frozen source, the per-epoch quantiles, the switch's params."""
import json
from types import SimpleNamespace

import pytest
import torch
from transformers import BertConfig, BertModel

from lhmix.core.errors import ParamError
from lhmix.core.params import Params
from lhmix.data.documents import read_dataset
from lhmix.data.hierarchy import Hierarchy
from lhmix.model import mixup
from lhmix.model.encoders import load_tokenizer
from lhmix.model.published_similarity import LabelSequences, label_sequence, pair_similarity
from lhmix.model.similarity_table import SimilarityTable
from lhmix.training.batches import length_batches
from lhmix.training.config import TrainConfig
from lhmix.training.devices import Processes
from lhmix.training.loop import Session
from toy import config, make_warmup, project, run  # noqa: F401  (project is a fixture)

PUBLISHED = {"similarity_source": "published", "label_length": 16, "label_mask": False}


@pytest.fixture(scope="module")
def tree():
    return Hierarchy.from_paths([("animal", "cat"), ("animal", "dog"), ("vehicle", "car")])[0]


def tiny_encoder(seed: int = 0):
    """A seeded random 2-layer BERT whose [CLS] outputs differ between sequences (initializer_range 1: at
    BERT's 0.02 every random [CLS] output is alike), as a model for pair_similarity."""
    torch.manual_seed(seed)
    encoder = BertModel(BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64, max_position_embeddings=512, initializer_range=1.0),
                        add_pooling_layer=False)
    return SimpleNamespace(encoder=encoder.eval(), encoder_mask=lambda mask: mask)


def padded(sequences: list[list[int]], length: int) -> torch.Tensor:
    ids = torch.zeros(len(sequences), length, dtype=torch.long)   # pad id 0
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = torch.tensor(sequence)
    return ids


SEQUENCES = [[1, 5, 6, 2], [1, 7, 8, 9, 2], [1, 10, 2]]
PERM = torch.tensor([1, 2, 0])


# ----------------------------------------------------------------------------- the label sequences

def test_a_label_sequence_is_the_released_codes(tree):
    tokenizer = load_tokenizer("tiny-random")
    ids = {label.name: label.id for label in tree.labels}
    tokens = tokenizer.convert_ids_to_tokens(label_sequence(tokenizer, tree, tree.with_ancestors([ids["cat"]])))
    assert tokens == ["[CLS]", "[unused0]", "animal", "[unused1]", "cat", "[SEP]"]
    # a depth without a label keeps its marker, as released; several labels of a depth are joined by spaces
    tokens = tokenizer.convert_ids_to_tokens(label_sequence(tokenizer, tree, [ids["vehicle"], ids["animal"]]))
    assert tokens == ["[CLS]", "[unused0]", "animal", "vehicle", "[unused1]", "[SEP]"]


def test_label_sequences_are_padded_stored_once_per_local_hierarchy_and_checked(tree):
    tokenizer = load_tokenizer("tiny-random")
    ids = {label.name: label.id for label in tree.labels}
    lists = [tree.with_ancestors([ids["cat"]]), tree.with_ancestors([ids["car"]]), tree.with_ancestors([ids["cat"]])]
    sequences = LabelSequences.build(tokenizer, tree, lists, 12, 512)
    assert sequences.ids.shape == (2, 12)
    assert sequences.rows[0] == sequences.rows[2] != sequences.rows[1]
    batch = sequences.of(torch.tensor([2, 1]))
    assert batch[0].tolist() == label_sequence(tokenizer, tree, lists[2]) + [tokenizer.pad_token_id] * 6
    assert batch[1, 6:].tolist() == [tokenizer.pad_token_id] * 6
    with pytest.raises(ParamError, match=r"similarity.label_length.*at least 6, the tokens of the longest"):
        LabelSequences.build(tokenizer, tree, lists, 5, 512)
    with pytest.raises(ParamError, match=r"similarity.label_length.*at most 512, the classifier's position"):
        LabelSequences.build(tokenizer, tree, lists, 513, 512)


# ----------------------------------------------------------------------------- what padding and the mask do

def test_without_a_mask_long_padding_drives_every_pair_to_s_1():
    """The released code's 512 pads, unmasked, are most of what [CLS] attends to: s of three different label
    sequences is within 0.01 of 1 at 512 tokens, though below 0.95 when they are not padded."""
    model = tiny_encoder()
    with torch.no_grad():
        unpadded = pair_similarity(model, padded(SEQUENCES, 5), PERM)
        long = pair_similarity(model, padded(SEQUENCES, 512), PERM)
    assert unpadded.max() < 0.95
    assert long.min() > 0.99


def test_with_the_mask_s_does_not_depend_on_the_padding_and_differs_from_unmasked():
    model = tiny_encoder()
    with torch.no_grad():
        masked = {length: pair_similarity(model, padded(SEQUENCES, length), PERM, pad_token_id=0)
                  for length in (5, 64, 512)}
        unmasked = pair_similarity(model, padded(SEQUENCES, 512), PERM)
    torch.testing.assert_close(masked[64], masked[5], rtol=0, atol=1e-5)
    torch.testing.assert_close(masked[512], masked[5], rtol=0, atol=1e-5)
    assert (unmasked - masked[512]).abs().min() > 0.1


def test_s_is_computed_in_the_models_mode_and_passes_gradients_to_the_encoder():
    model = tiny_encoder()
    same = padded([SEQUENCES[0], SEQUENCES[0]], 8)
    swap = torch.tensor([1, 0])
    with torch.no_grad():
        assert pair_similarity(model, same, swap).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    model.encoder.train()   # dropout: two documents of one local hierarchy get different [CLS] outputs
    s = pair_similarity(model, same, swap)
    assert s.max() < 1 - 1e-4
    s.sum().backward()   # as released: no torch.no_grad, nothing detached
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


# ----------------------------------------------------------------------------- in the training loop

def toy_session(project, **settings) -> Session:
    data = project / "data" / "processed" / "toy"
    table = SimilarityTable.load(project / "data" / "similarity" / "toy.pt")
    return Session(config("prompt_lhmix", warmup_epochs=0, **settings), data, Processes(), torch.device("cpu"),
                   similarity=table)


def test_the_published_source_leaves_the_partners_of_the_frozen_source(project):
    """No extra draw from the Mixup stream: after every step both sources' generators are in the same state,
    so their partners (randperm of that stream) are the same pairs, step after step."""
    frozen, published = toy_session(project), toy_session(project, **PUBLISHED)
    batches = length_batches(frozen.train_split.lengths, 16, 0, 1)
    for batch in batches:
        indices = torch.tensor(batch)
        before = frozen.mix_generator.get_state()
        assert torch.equal(published.mix_generator.get_state(), before)
        perm_frozen, lam_frozen = frozen.mixing_inputs(indices)
        perm_published, lam_published = published.mixing_inputs(indices)
        assert torch.equal(perm_frozen, perm_published)
        assert lam_frozen is not None and lam_published is None   # published: lambda inside the objective
        frozen.mix_generator.set_state(before)
        published.mix_generator.set_state(before)
        frozen.train_step(batch, True)
        published.train_step(batch, True)
    assert torch.equal(published.mix_generator.get_state(), frozen.mix_generator.get_state())
    documents = sum(len(batch) for batch in batches)
    for name in ("s", "lambda"):   # the published step observed what it mixed with, once per document
        assert published.observed[name][:-1].sum() == documents


def test_a_published_run_continues_the_shared_warmup_and_keeps_each_mixed_epochs_quantiles(project, tmp_path):
    state = make_warmup(project, tmp_path, "prompt")
    out = run(project, tmp_path, "prompt_lhmix", warm_start=state, **PUBLISHED)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 4
    warmup_epoch, *mixed = metrics["history"]
    assert not any(key.startswith(("s_", "lambda_")) for key in warmup_epoch)
    for entry in mixed:
        assert 0 <= entry["s_q05"] <= entry["s_q50"] <= entry["s_q95"] <= 1
        assert 0.5 <= entry["lambda_q05"] <= entry["lambda_q50"] <= entry["lambda_q95"] <= 0.75
    assert metrics["lambda"]["n"] == 3 * 64


def test_an_epochs_summary_is_the_histograms_mean_and_quantiles():
    values = torch.tensor([0.5, 0.5, 0.75, 1.0])
    summary = mixup.epoch_summary({"lambda": (mixup.histogram(values).tolist(), float(values.sum()))})
    # cumulative counts reach 0.05 x 4 and 0.5 x 4 in bin 500 (centre 0.5005), 0.95 x 4 in bin 999
    assert summary == {"lambda_mean": 0.6875, "lambda_q05": 0.5005, "lambda_q50": 0.5005, "lambda_q95": 0.9995}
    assert mixup.epoch_summary({}) == {}


# ----------------------------------------------------------------------------- the switch's parameters

PARAMS = {"encoder": {"classifier": "tiny-random"}, "alpha": 1.0, "beta": 0.75,
          "model": {"prompt": {"head": "mlm", "mlm_weight": 0.0, "graph": "none"}},
          "train": {"max_length": 32, "batch_size": 16, "eval_batch_size": 8, "lr": 1e-3, "warmup_epochs": 1,
                    "max_epochs": 2, "patience": 5, "device": "cpu", "loss": "per_depth", "early_stopping": "ours",
                    "fixed_lambda": 0.5},
          "similarity": {"source": "frozen", "label_length": 512, "attention_mask": False}}


def with_similarity(**similarity) -> Params:
    return Params({**PARAMS, "similarity": {**PARAMS["similarity"], **similarity}})


def test_frozen_reads_only_the_source_and_published_reads_its_padding_and_mask():
    params = with_similarity()
    frozen = TrainConfig.from_params(params, "prompt", "lhmix", 0)
    assert (frozen.similarity_source, frozen.label_length, frozen.label_mask) == ("frozen", None, None)
    assert {key for key in params.read if key.startswith("similarity")} == {"similarity.source"}
    params = with_similarity(source="published", label_length=64, attention_mask=True)
    published = TrainConfig.from_params(params, "prompt", "lhmix_shuffled", 0)
    assert (published.similarity_source, published.label_length, published.label_mask) == ("published", 64, True)
    assert published.run_name().endswith("-a1-b0.75-published64-masked")
    params = with_similarity(source="published")
    TrainConfig.from_params(params, "prompt", "fixed_lambda", 0)
    assert not any(key.startswith("similarity") for key in params.read)   # only LH-Mix and its shuffled control


@pytest.mark.parametrize("similarity, message", [
    ({"source": "learned"}, r"similarity.source.*one of frozen, published"),
    ({"source": "published", "label_length": 1}, r"similarity.label_length"),
    ({"source": "published", "attention_mask": "no"}, r"similarity.attention_mask.*true or false")])
def test_a_bad_similarity_setting_is_a_param_error_naming_it(similarity, message):
    with pytest.raises(ParamError, match=message):
        TrainConfig.from_params(with_similarity(**similarity), "prompt", "lhmix", 0)


def test_a_published_session_holds_each_documents_label_sequence_instead_of_table_rows(project):
    session = toy_session(project, **PUBLISHED)
    hierarchy, splits = read_dataset(project / "data" / "processed" / "toy")
    assert session.similarity_rows is None
    assert session.label_sequences.ids.shape[1] == 16
    assert len(session.label_sequences.rows) == len(splits["train"])
