"""The toy project the training tests share: a tiny learnable dataset (a depth-2 tree; each text names its
leaf label among filler words), the `tiny-random` encoder, and the helpers that train, warm up, kill and run
stage scripts on it; every run takes a second or two.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from lhmix.data.documents import read_dataset
from lhmix.data.hierarchy import Hierarchy
from lhmix.datasets.contract import PreparedDataset, write_dataset
from lhmix.similarity.precompute import precompute
from lhmix.training.config import TrainConfig, parse_variant
from lhmix.training.progress import TIMING_KEYS
from lhmix.training.run import train, warmup

REPO = Path(__file__).resolve().parents[1]
TREE = {"animal": ["cat", "dog"], "vehicle": ["car", "boat"]}
FILLER = "the a of and some text here about words".split()
# 64 training docs = 4 batches of 16 per epoch.
BASE = dict(seed=0, classifier="tiny-random", max_length=32, batch_size=16, eval_batch_size=8, lr=3e-3,
            warmup_epochs=1, max_epochs=4, patience=5, device="cpu")
# What each mixing (and family) adds to the settings.
MIXING_SETTINGS = {"none": {}, "mixup": {"mixup_beta_a": 1.0}, "lhmix": {"alpha": 1.0, "beta": 0.75},
                   "lhmix_shuffled": {"alpha": 1.0, "beta": 0.75}, "fixed_lambda": {"fixed_lambda": 0.5}}
SIMILARITY = ("lhmix", "lhmix_shuffled")


def make_dataset(folder: Path) -> Path:
    paths = [(top, leaf) for top, leaves in TREE.items() for leaf in leaves]
    hierarchy, id_of = Hierarchy.from_paths(paths)
    rng = np.random.default_rng(0)

    def docs(prefix, n):
        rows = []
        for i in range(n):
            path = paths[i % len(paths)]
            words = [str(w) for w in rng.choice(FILLER, size=int(rng.integers(3, 12)))] + [path[1]]
            rng.shuffle(words)
            rows.append({"id": f"{prefix}{i}", "labels": hierarchy.with_ancestors([id_of[path]]), "text": " ".join(words)})
        return rows

    write_dataset(PreparedDataset("toy", hierarchy,
                                  {"train": docs("tr", 64), "dev": docs("dv", 16), "test": docs("te", 16)}),
                  folder / "data" / "processed" / "toy")
    return folder / "data" / "processed" / "toy"


def make_project(root: Path) -> Path:
    """A project folder as the stages see it: data/processed/toy and data/similarity/toy.pt."""
    data_dir = make_dataset(root)
    hierarchy, splits = read_dataset(data_dir)
    precompute("minilm", hierarchy, splits["train"].labels, max_length=32).save(
        root / "data" / "similarity" / "toy.pt")
    return root


@pytest.fixture(scope="module")
def project(toy_project, tmp_path_factory):
    """The session's toy project (conftest.py; its similarity table loads a model), copied for each test module:
    some write into it."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(toy_project, root, dirs_exist_ok=True)
    return root


def config(variant, warmup_only=False, **overrides) -> TrainConfig:
    family, mixing = parse_variant(variant)
    family_settings = ({"head": "mlm", "mlm_weight": 0.0, "graph": "none"} if family == "prompt"
                       else {"head": None, "graph": None})
    settings = {**BASE, **family_settings, **MIXING_SETTINGS[mixing], **overrides}
    if warmup_only:
        settings["max_epochs"] = None
    return TrainConfig(family=family, mixing=mixing, **settings)


def run(project, tmp_path, variant, name="run", **kwargs) -> Path:
    """Train into tmp_path/name; returns the out dir. kwargs: config overrides and train() options."""
    options = {key: kwargs.pop(key) for key in ("warm_start", "on_epoch_end", "keep_checkpoints") if key in kwargs}
    out = tmp_path / name
    train(config(variant, **kwargs), project / "data" / "processed" / "toy", out, tmp_path / f"{name}-checkpoints",
          similarity_path=project / "data" / "similarity" / "toy.pt", **options)
    return out


def outcome(out: Path) -> dict:
    """Everything a run leaves, timing aside: metrics, curves (full float precision), predictions."""
    metrics = json.loads((out / "metrics.json").read_text())
    for key in TIMING_KEYS:
        metrics.pop(key)
    curves = {path.relative_to(out).as_posix(): path.read_text()
              for path in sorted((out / "live" / "plots").rglob("*.tsv"))}
    return {"metrics": metrics, "curves": curves, "predictions": (out / "predictions.npz").read_bytes()}


def losses_per_epoch(out: Path) -> list[float]:
    rows = (out / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split("\n")[1:]
    return [float(row.split("\t")[1]) for row in rows if row]


def make_warmup(project, tmp_path, family, name="warmup", **options) -> Path:
    state = tmp_path / f"{name}.pt"
    warmup(config(family, warmup_only=True, **options), project / "data" / "processed" / "toy", state,
           tmp_path / f"{name}-out", tmp_path / f"{name}-checkpoints")
    return state


class Killed(Exception):
    pass


def kill_after(epoch):
    def hook(finished):
        if finished == epoch:
            raise Killed
    return hook


PARAMS = {"alpha": 2, "beta": 1, "spread": {"alpha": 10, "beta": 0.9, "fixed_lambda": 0.8},
          "encoder": {"classifier": "tiny-random"},
          "similarity": {"source": "frozen", "label_length": 512, "attention_mask": False},
          "model": {"bert": {}, "prompt": {"head": "linear", "mlm_weight": 0.5, "graph": "none"}},
          "train": {"max_length": 32, "batch_size": 16, "eval_batch_size": 8, "lr": 3e-5, "warmup_epochs": 1,
                    "max_epochs": 4, "patience": 2, "device": "cpu", "mixup_beta_a": 0.4, "fixed_lambda": 0.5,
                    "loss": "per_depth", "early_stopping": "ours"}}


def write_params(project: Path, **train_overrides) -> None:
    params = json.loads(json.dumps(PARAMS))
    params["train"].update({key: BASE[key] for key in ("max_length", "batch_size", "eval_batch_size", "lr",
                                                       "warmup_epochs", "max_epochs", "patience")})
    params["train"].update(train_overrides)
    params["model"]["prompt"] = {"head": "mlm", "mlm_weight": 0.0, "graph": "none"}
    (project / "params.yaml").write_text(yaml.safe_dump(params))


def stage(project: Path, *args, launcher=(), env=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([*launcher, *args], cwd=project, env=environment, capture_output=True, text=True,
                          timeout=300)
