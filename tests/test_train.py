"""lhmix.train: the loop of all six variants, warm start, resume, determinism, guards, DDP.

A tiny learnable dataset (a depth-2 tree; each text names its leaf label among filler words) and
the `tiny-random` encoder keep every run to a second or two.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lhmix import losses, mixup
from lhmix.contract import PreparedDataset, write_dataset
from lhmix.data import read_dataset
from lhmix.errors import LhmixError, ParamError
from lhmix.hierarchy import Hierarchy
from lhmix.similarity import precompute
from lhmix.train import VARIANTS, NonFiniteLoss, TrainConfig, parse_variant, train, warmup

REPO = Path(__file__).resolve().parents[1]
TREE = {"animal": ["cat", "dog"], "vehicle": ["car", "boat"]}
FILLER = "the a of and some text here about words".split()
TIMING = ("train_seconds", "examples_per_second")
# 64 training docs = 4 batches of 16 per epoch.
BASE = dict(seed=0, classifier="tiny-random", max_length=32, batch_size=16, eval_batch_size=8, lr=3e-3,
            warmup_epochs=1, max_epochs=4, patience=5, alpha=1.0, beta=0.75)


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
            rows.append({"id": f"{prefix}{i}", "labels": hierarchy.close([id_of[path]]), "text": " ".join(words)})
        return rows

    write_dataset(PreparedDataset("toy", hierarchy,
                                  {"train": docs("tr", 64), "dev": docs("dv", 16), "test": docs("te", 16)}),
                  folder / "data" / "processed" / "toy")
    return folder / "data" / "processed" / "toy"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder as the stages see it: data/processed/toy and data/similarity/toy.pt."""
    root = tmp_path_factory.mktemp("project")
    data_dir = make_dataset(root)
    hierarchy, splits = read_dataset(data_dir)
    precompute("tiny-random", hierarchy, splits["train"].labels, max_length=32).save(
        root / "data" / "similarity" / "toy.pt")
    return root


def config(variant, **overrides) -> TrainConfig:
    return TrainConfig(variant=variant, **{**BASE, **overrides})


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
    for key in TIMING:
        metrics.pop(key)
    curves = {path.relative_to(out).as_posix(): path.read_text()
              for path in sorted((out / "live" / "plots").rglob("*.tsv"))}
    return {"metrics": metrics, "curves": curves, "predictions": (out / "predictions.npz").read_bytes()}


def losses_per_epoch(out: Path) -> list[float]:
    rows = (out / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split("\n")[1:]
    return [float(row.split("\t")[1]) for row in rows if row]


class Spy:
    """Counts calls of the Mixup functions, recorded per epoch through on_epoch_end."""

    def __init__(self, monkeypatch):
        self.calls, self.per_epoch = {"permutation": 0, "beta_ratio": 0, "lhmix_ratio": 0}, {}
        for name in self.calls:
            monkeypatch.setattr(mixup, name, self.counting(name, getattr(mixup, name)))

    def counting(self, name, function):
        def wrapper(*args, **kwargs):
            self.calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    def __call__(self, epoch):
        self.per_epoch[epoch] = dict(self.calls)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_learns_and_mixes_only_after_warmup(project, tmp_path, monkeypatch, variant):
    spy = Spy(monkeypatch)
    out = run(project, tmp_path, variant, max_epochs=3, on_epoch_end=spy)
    epoch_losses = losses_per_epoch(out)
    assert len(epoch_losses) == 3 and epoch_losses[-1] < epoch_losses[0]
    _, mixing = parse_variant(variant)
    batches = 4
    assert spy.per_epoch[1] == {"permutation": 0, "beta_ratio": 0, "lhmix_ratio": 0}  # warm-up: no draw
    expected = {"permutation": batches * 2 * (mixing != "none"),
                "beta_ratio": batches * 2 * (mixing == "mixup"),
                "lhmix_ratio": batches * 2 * (mixing == "lhmix")}
    assert spy.per_epoch[3] == expected
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["variant"] == variant and metrics["epochs_run"] == 3 and metrics["num_docs"] == 16
    assert 0 <= metrics["micro_f1"] <= 1 and set(metrics["per_depth"]) == {"1", "2"}
    assert (metrics["alpha"], metrics["beta"]) == ((1.0, 0.75) if mixing == "lhmix" else (None, None))
    assert metrics["stop_reason"] == "epoch_cap" and not metrics["stopped_early"]
    # what the mixing used: one lambda per mixed sample (2 mixed epochs x 64 docs), s for LH-Mix only
    assert ("lambda" in metrics) == (mixing != "none") and ("s" in metrics) == (mixing == "lhmix")
    if mixing != "none":
        assert metrics["lambda"]["n"] == 2 * 64 and 0 <= metrics["lambda"]["q05"] <= metrics["lambda"]["q95"] <= 1
    if mixing == "lhmix":  # lambda = -(beta - 0.5) s + beta with alpha 1, beta 0.75: the means agree exactly
        assert metrics["lambda"]["mean"] == pytest.approx(0.75 - 0.25 * metrics["s"]["mean"], abs=1e-5)
    # the resume state goes once the outputs are written; the best model stays
    assert not (tmp_path / "run-checkpoints" / "last.pt").exists()
    assert (tmp_path / "run-checkpoints" / "best.pt").is_file()


def test_outputs_predictions_and_curves(project, tmp_path):
    out = run(project, tmp_path, "prompt", max_epochs=10)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["micro_f1"] > 0.5  # learnable: the text names its label
    with np.load(out / "predictions.npz") as archive:
        ids, num_labels = archive["ids"].tolist(), int(archive["num_labels"])
        predicted = np.unpackbits(archive["packed"], axis=1, count=num_labels).astype(bool)
    _, splits = read_dataset(project / "data" / "processed" / "toy")
    assert ids == splits["test"].ids and predicted.shape == (16, 6)
    gold = np.zeros_like(predicted)
    for row, labels in enumerate(splits["test"].labels):
        gold[row, labels] = True
    tp, fp, fn = (predicted & gold).sum(), (predicted & ~gold).sum(), (~predicted & gold).sum()
    assert metrics["micro_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    dev_macro = [float(r.split("\t")[1]) for r in
                 (out / "live/plots/metrics/dev/macro_f1.tsv").read_text().split("\n")[1:] if r]
    assert len(dev_macro) == 10 and metrics["dev_macro_f1"] == max(dev_macro)
    assert metrics["best_epoch"] == 1 + dev_macro.index(max(dev_macro))
    assert metrics["examples_per_second"] > 0 and metrics["train_docs"] == 64


def test_early_stopping_counts_from_the_best_epoch(project, tmp_path):
    out = run(project, tmp_path, "bert", max_epochs=12, patience=2, lr=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["epochs_run"] == metrics["best_epoch"] + 2


def test_same_seed_same_outcome_other_seed_differs(project, tmp_path):
    first = outcome(run(project, tmp_path, "prompt_mixup", name="a"))
    second = outcome(run(project, tmp_path, "prompt_mixup", name="b"))
    assert first == second
    other = outcome(run(project, tmp_path, "prompt_mixup", name="c", seed=1))
    assert other["curves"] != first["curves"]


@pytest.mark.parametrize("variant", ["prompt_lhmix", "bert_mixup"])
def test_warm_start_gives_the_uninterrupted_outcome(project, tmp_path, variant):
    family, _ = parse_variant(variant)
    options = dict(warmup_epochs=2, max_epochs=4)
    state = tmp_path / "warmup.pt"
    warmup(config(family, **options), project / "data" / "processed" / "toy", state, tmp_path / "wu-checkpoints")
    assert state.is_file() and not (tmp_path / "wu-checkpoints").exists()
    epochs_trained = []
    warm = run(project, tmp_path, variant, name="warm", warm_start=state, on_epoch_end=epochs_trained.append,
               **options)
    assert epochs_trained == [3, 4]
    scratch = run(project, tmp_path, variant, name="scratch", **options)
    assert outcome(warm) == outcome(scratch)
    assert len(losses_per_epoch(warm)) == 4  # the warm-up's epochs are in the curves


def test_warm_start_from_other_settings_is_refused(project, tmp_path):
    state = tmp_path / "warmup.pt"
    warmup(config("prompt", seed=1), project / "data" / "processed" / "toy", state, tmp_path / "wu")
    with pytest.raises(LhmixError, match="seed: 1 there, 0 here"):
        run(project, tmp_path, "prompt_mixup", warm_start=state)
    with pytest.raises(LhmixError, match="family: 'prompt' there, 'bert' here"):
        run(project, tmp_path, "bert_mixup", warm_start=state, seed=1)


class Killed(Exception):
    pass


def kill_after(epoch):
    def hook(finished):
        if finished == epoch:
            raise Killed
    return hook


def test_killed_run_resumes_with_the_uninterrupted_outcome(project, tmp_path):
    with pytest.raises(Killed):
        run(project, tmp_path, "bert_lhmix", name="killed", on_epoch_end=kill_after(2))
    assert (tmp_path / "killed-checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "killed" / "metrics.json").exists()
    epochs_trained = []
    resumed = run(project, tmp_path, "bert_lhmix", name="killed", on_epoch_end=epochs_trained.append)
    assert epochs_trained == [3, 4]
    assert outcome(resumed) == outcome(run(project, tmp_path, "bert_lhmix", name="whole"))


def test_checkpoint_of_other_settings_is_not_resumed(project, tmp_path):
    with pytest.raises(Killed):
        run(project, tmp_path, "prompt", max_epochs=2, on_epoch_end=kill_after(1))
    epochs_trained = []
    run(project, tmp_path, "prompt", max_epochs=2, lr=1e-3, on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2]


def test_nan_loss_stops_naming_the_step_and_writes_no_metrics(project, tmp_path, monkeypatch):
    calls, real = [], losses.zmlce

    def poisoned(logits, targets, depth_slices):
        calls.append(1)
        loss = real(logits, targets, depth_slices)
        return loss * float("nan") if len(calls) == 7 else loss  # 4 steps per epoch: epoch 2, step 3

    monkeypatch.setattr(losses, "zmlce", poisoned)
    with pytest.raises(NonFiniteLoss, match="epoch 2, step 3"):
        run(project, tmp_path, "prompt")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_exploding_learning_rate_is_caught(project, tmp_path):
    with pytest.raises(NonFiniteLoss, match=r"epoch \d+, step \d+"):
        run(project, tmp_path, "bert", lr=1e30, max_epochs=3)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_train_fraction_subset(project, tmp_path):
    out = run(project, tmp_path, "prompt", train_fraction=0.5, max_epochs=1, warmup_epochs=0)
    assert json.loads((out / "metrics.json").read_text())["train_docs"] == 32


def test_mlm_auxiliary_loss_runs(project, tmp_path):
    out = run(project, tmp_path, "prompt", mlm_weight=0.5, max_epochs=2)
    plain = run(project, tmp_path, "prompt", name="plain", max_epochs=2)
    assert losses_per_epoch(out)[0] > losses_per_epoch(plain)[0]  # the MLM term adds to the loss


@pytest.mark.parametrize("alpha, beta, wrong", [(0, 0.75, "alpha"), (-1, 0.75, "alpha"), (1, 0.5, "beta"),
                                                (1, 1.01, "beta"), (None, 0.75, "alpha"), (1, None, "beta")])
def test_bad_ratio_parameters_fail_at_configuration(alpha, beta, wrong):
    with pytest.raises(ParamError, match=f"'{wrong}'"):
        TrainConfig(variant="prompt_lhmix", seed=0, alpha=alpha, beta=beta)


def test_config_from_params_casts_and_checks():
    params = {"train": {"lr": "3e-5", "batch_size": 16.0, "max_epochs": 4}, "encoder": {"classifier": "x"}}
    built = TrainConfig.from_params(params, "prompt_none", "2", "0.5", alpha=2, beta=1)
    assert built.variant == "prompt" and built.seed == 2 and built.lr == 3e-5 and built.batch_size == 16
    assert built.alpha is None and built.train_fraction == 0.5  # alpha/beta belong to LH-Mix only
    lhmix = TrainConfig.from_params(params, "bert_lhmix", 0, alpha=2, beta=1)
    assert (lhmix.alpha, lhmix.beta) == (2.0, 1.0) and isinstance(lhmix.alpha, float)
    assert lhmix.run_name() == "bert_lhmix-s0-a2-b1"
    with pytest.raises(ParamError, match="train.lrr"):
        TrainConfig.from_params({"train": {"lrr": 1}}, "bert", 0)
    with pytest.raises(ParamError, match="variant"):
        TrainConfig(variant="prompt_cutmix", seed=0)
    with pytest.raises(ParamError, match="train.warmup_epochs"):
        TrainConfig(variant="bert", seed=0, warmup_epochs=5, max_epochs=4)
    with pytest.raises(ParamError, match="train.mixup_beta_a"):
        TrainConfig(variant="bert_mixup", seed=0, mixup_beta_a=0)


def write_params(project: Path, **train_overrides) -> None:
    train_params = {key: BASE[key] for key in ("max_length", "batch_size", "eval_batch_size", "lr",
                                               "warmup_epochs", "max_epochs", "patience")}
    train_params.update(mixup_beta_a=1.0, mlm_weight=0.0, device="cpu", **train_overrides)
    (project / "params.yaml").write_text(yaml.safe_dump(
        {"encoder": {"classifier": "tiny-random", "similarity": "tiny-random"}, "train": train_params}))


def stage(project: Path, *args, launcher=()) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launcher, *args], cwd=project, env=environment, capture_output=True, text=True,
                          timeout=300)


def test_stage_rejects_bad_beta_before_training(project):
    write_params(project)
    done = stage(project, sys.executable, str(REPO / "stages" / "train.py"), "--dataset", "toy",
                 "--variant", "prompt_lhmix", "--seed", "0", "--alpha", "1", "--beta", "0.4",
                 "--out", "runs/bad")
    assert done.returncode == 1
    assert "parameter 'beta' = 0.4: expected a number in (0.5, 1]" in done.stderr
    assert not (project / "runs" / "bad").exists() and not (project / "checkpoints").exists()


def test_ddp_two_processes_on_cpu(project):
    write_params(project, max_epochs=2)
    done = stage(project, "--nproc_per_node", "2", "--standalone", str(REPO / "stages" / "train.py"),
                 "--dataset", "toy", "--variant", "prompt_mixup", "--seed", "0", "--out", "runs/ddp",
                 launcher=(sys.executable, "-m", "torch.distributed.run"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("wrote runs/ddp") == 1  # rank 0 alone writes
    metrics = json.loads((project / "runs" / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs_run"] == 2 and metrics["train_docs"] == 64
