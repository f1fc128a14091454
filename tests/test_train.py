"""lhmix.training: the loop of all six variants, warm start, resume, determinism, guards, DDP.

A tiny learnable dataset (a depth-2 tree; each text names its leaf label among filler words) and
the `tiny-random` encoder keep every run to a second or two.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lhmix.core.errors import LhmixError, ParamError
from lhmix.core.params import Params
from lhmix.data.documents import read_dataset
from lhmix.data.hierarchy import Hierarchy
from lhmix.datasets.contract import PreparedDataset, write_dataset
from lhmix.model import losses, mixup
from lhmix.similarity.precompute import precompute
from lhmix.training import checkpoints
from lhmix.training.config import VARIANTS, TrainConfig, parse_variant
from lhmix.training.loop import NonFiniteLoss
from lhmix.training.progress import TIMING_KEYS, Progress
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


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder as the stages see it: data/processed/toy and data/similarity/toy.pt."""
    root = tmp_path_factory.mktemp("project")
    data_dir = make_dataset(root)
    hierarchy, splits = read_dataset(data_dir)
    precompute("minilm", hierarchy, splits["train"].labels, max_length=32).save(
        root / "data" / "similarity" / "toy.pt")
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
                "lhmix_ratio": batches * 2 * (mixing in SIMILARITY)}
    assert spy.per_epoch[3] == expected
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["variant"] == variant and metrics["epochs_run"] == 3 and metrics["num_docs"] == 16
    assert 0 <= metrics["micro_f1"] <= 1 and set(metrics["per_depth"]) == {"1", "2"}
    assert (metrics["alpha"], metrics["beta"]) == ((1.0, 0.75) if mixing in SIMILARITY else (None, None))
    assert metrics["precision"] >= 0 and metrics["recall"] >= 0 and metrics["gold_per_doc"] == 2.0
    assert metrics["stop_reason"] == "epoch_cap" and not metrics["stopped_early"]
    # what the mixing used: one lambda per mixed sample (2 mixed epochs x 64 docs), s for LH-Mix only
    assert ("lambda" in metrics) == (mixing != "none")
    assert ("s" in metrics) == (mixing in SIMILARITY)
    if mixing != "none":
        assert metrics["lambda"]["n"] == 2 * 64 and 0 <= metrics["lambda"]["q05"] <= metrics["lambda"]["q95"] <= 1
    if mixing in SIMILARITY:  # lambda = -(beta - 0.5) s + beta with alpha 1, beta 0.75: the means agree exactly
        assert metrics["lambda"]["mean"] == pytest.approx(0.75 - 0.25 * metrics["s"]["mean"], abs=1e-5)
    if mixing == "fixed_lambda":  # every mixed sample at 0.5: one histogram bin, the mean exact
        assert metrics["lambda"]["mean"] == 0.5 and metrics["lambda"]["counts"] == [2 * 64]
    assert 0 <= metrics["micro_ap"] <= 1 and 0 <= metrics["macro_ap"] <= 1 and set(metrics["per_depth_ap"]) == {"1", "2"}
    # the resume state goes once the outputs are written; the best model stays
    assert not (tmp_path / "run-checkpoints" / "last.pt").exists()
    assert (tmp_path / "run-checkpoints" / "best.pt").is_file()


def test_curves_are_appended_epoch_by_epoch(project, tmp_path, monkeypatch):
    from dvclive import Live

    from lhmix.training import outputs, run as run_module

    opened = []
    real_init = Live.__init__

    def counting_init(self, *args, **kwargs):
        opened.append(kwargs["resume"])
        real_init(self, *args, **kwargs)
    monkeypatch.setattr(Live, "__init__", counting_init)
    history = [{"epoch": epoch, "train_loss": 1.0 / epoch, "dev_macro_f1": 0.1 * epoch} for epoch in (1, 2, 3)]
    live = tmp_path / "live"
    outputs.write_curves(live, history[:2])   # a warm-started run's first epoch: everything so far
    outputs.write_curves(live, history)       # its next epoch: appended
    assert opened == [False, True]
    rows = (live / "plots/metrics/dev/macro_f1.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in rows[1:]] == ["1", "2", "3"]
    stale = [{**entry, "dev_macro_f1": 0.5} for entry in history]
    outputs.write_curves(live, stale)         # as many rows, other values (a run started afresh): rewritten
    assert opened == [False, True, False] and "0.5" in (live / "plots/metrics/dev/macro_f1.tsv").read_text()

    calls = []
    monkeypatch.setattr(run_module, "write_curves", lambda *args: calls.append(args[1][-1]["epoch"]))
    run(project, tmp_path, "prompt", name="counted", max_epochs=3)
    assert calls == [1, 2, 3]  # once per epoch, not once more at the end


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
    assert re.fullmatch(r"cpu, \d+ threads", metrics["device"])
    with np.load(out / "label_words.npz") as words:  # Figure 6: before and after training
        initial, trained = words["initial"], words["trained"]
    assert initial.shape == trained.shape == (6, 32) and not np.allclose(initial, trained)


def test_each_run_keeps_a_timestamped_log_beside_its_metrics(project, tmp_path):
    out = run(project, tmp_path, "prompt", max_epochs=2)
    lines = (out / "train.log").read_text().splitlines()
    assert len(lines) == 3  # two epochs and the test result
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO prompt-s0 epoch 1: train loss ", lines[0])
    assert "test micro-F1" in lines[-1]


def test_early_stopping_counts_from_the_best_epoch_or_the_warmups_end(project, tmp_path):
    out = run(project, tmp_path, "bert", max_epochs=12, patience=2, lr=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["epochs_run"] == max(metrics["best_epoch"], 1) + 2
    assert metrics["stop_reason"] == "early_stopping"
    # a warm-up longer than the patience never stops early: the mixing phase gets its own patience
    out = run(project, tmp_path, "bert_mixup", name="long", max_epochs=12, warmup_epochs=6, patience=2, lr=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == max(metrics["best_epoch"], 6) + 2 and metrics["lambda"]["n"] > 0


def test_progress_stops_patience_epochs_after_the_best_or_the_warmup():
    progress = Progress()
    scores = [0.5, 0.6, 0.55, 0.55, 0.55, 0.55, 0.55]  # best at epoch 2; warm-up 4 epochs; patience 2
    stops = []
    for epoch, score in enumerate(scores, start=1):
        progress.record(epoch, 1.0, {"micro_f1": score, "macro_f1": score, "precision": 1, "recall": 1,
                                     "predicted_per_doc": 1}, patience=2, warmup_epochs=4)
        stops.append(progress.stopped_early)
    assert stops == [False, False, False, False, False, True, True]  # epoch 6 = 4 + 2
    assert progress.best_epoch == 2 and progress.stop_reason == "early_stopping"


def test_same_seed_same_outcome_other_seed_differs(project, tmp_path):
    first = outcome(run(project, tmp_path, "prompt_mixup", name="a"))
    second = outcome(run(project, tmp_path, "prompt_mixup", name="b"))
    assert first == second
    other = outcome(run(project, tmp_path, "prompt_mixup", name="c", seed=1))
    assert other["curves"] != first["curves"]


def make_warmup(project, tmp_path, family, name="warmup", **options) -> Path:
    state = tmp_path / f"{name}.pt"
    warmup(config(family, warmup_only=True, **options), project / "data" / "processed" / "toy", state,
           tmp_path / f"{name}-out", tmp_path / f"{name}-checkpoints")
    return state


@pytest.mark.parametrize("variant", ["prompt_lhmix", "bert_mixup"])
def test_warm_start_gives_the_uninterrupted_outcome(project, tmp_path, variant):
    family, _ = parse_variant(variant)
    options = dict(warmup_epochs=2, max_epochs=4)
    state = make_warmup(project, tmp_path, family, warmup_epochs=2)
    assert state.is_file() and not (tmp_path / "warmup-checkpoints").exists()
    course = json.loads((tmp_path / "warmup-out" / "metrics.json").read_text())
    assert course["epochs_run"] == 2 and course["epochs_trained"] == 2 and course["train_seconds"] > 0
    epochs_trained = []
    warm = run(project, tmp_path, variant, name="warm", warm_start=state, on_epoch_end=epochs_trained.append,
               **options)
    assert epochs_trained == [3, 4]
    scratch = run(project, tmp_path, variant, name="scratch", **options)
    assert outcome(warm) == outcome(scratch)
    assert len(losses_per_epoch(warm)) == 4  # the warm-up's epochs are in the curves
    # a warm-started run times only the epochs it trained itself
    assert json.loads((warm / "metrics.json").read_text())["epochs_trained"] == 2


def test_identical_warmups_write_identical_bytes(project, tmp_path):
    first = make_warmup(project, tmp_path / "a", "prompt").read_bytes()
    second = make_warmup(project, tmp_path / "b", "prompt").read_bytes()
    assert first == second  # no timings inside: downstream stays up to date


def test_warm_start_from_other_settings_is_refused(project, tmp_path):
    state = make_warmup(project, tmp_path, "prompt", seed=1)
    with pytest.raises(LhmixError, match="trained with other settings"):
        run(project, tmp_path, "prompt_mixup", warm_start=state)
    with pytest.raises(LhmixError, match="trained with other settings"):
        run(project, tmp_path, "bert_mixup", warm_start=state, seed=1)
    with pytest.raises(LhmixError, match="not found"):
        run(project, tmp_path, "bert_mixup", warm_start=tmp_path / "absent.pt")


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


def test_checkpoint_of_other_settings_is_not_resumed(project, tmp_path, caplog):
    with pytest.raises(Killed):
        run(project, tmp_path, "prompt", max_epochs=2, on_epoch_end=kill_after(1))
    epochs_trained = []
    run(project, tmp_path, "prompt", max_epochs=2, lr=1e-3, on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2]
    assert "made by another run" in caplog.text


def test_resume_after_an_upstream_change_starts_afresh(project, tmp_path, caplog):
    """A run killed after epoch 2; then its warm-up is re-made differently (as after any upstream
    change): the old last.pt must not be resumed, the run must equal one from the new warm-up."""
    options = dict(warmup_epochs=1, max_epochs=4)
    state = make_warmup(project, tmp_path, "prompt", **options)
    with pytest.raises(Killed):
        run(project, tmp_path, "prompt_lhmix", name="stale", warm_start=state, on_epoch_end=kill_after(2), **options)
    make_warmup(project, tmp_path, "prompt", lr=1e-3, **options)  # the same file, other content
    with pytest.raises(LhmixError, match="trained with other settings"):
        run(project, tmp_path, "prompt_lhmix", name="stale", warm_start=state, **options)
    fresh_state = make_warmup(project, tmp_path, "prompt", name="fresh", lr=1e-3, **options)
    state.write_bytes(fresh_state.read_bytes())
    epochs_trained = []
    stale = run(project, tmp_path, "prompt_lhmix", name="stale", warm_start=state, lr=1e-3,
                on_epoch_end=epochs_trained.append, **options)
    assert epochs_trained == [2, 3, 4] and "discarded, starting afresh" in caplog.text
    clean = run(project, tmp_path, "prompt_lhmix", name="clean", warm_start=fresh_state, lr=1e-3, **options)
    assert outcome(stale) == outcome(clean)


def test_resume_after_new_weights_under_the_same_encoder_name_starts_afresh(project, tmp_path, caplog):
    """A run killed after epoch 2 whose classifier directory then holds other weights: not resumed."""
    from lhmix.model import encoders

    folder = tmp_path / "encoder"
    model = encoders._tiny_random_mlm()
    model.save_pretrained(folder)
    encoders.load_tokenizer("tiny-random").save_pretrained(folder)
    with pytest.raises(Killed):
        run(project, tmp_path, "bert", name="swapped", classifier=str(folder), on_epoch_end=kill_after(2))
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight.mul_(2.0)
    model.save_pretrained(folder)
    encoders.weights_digest.cache_clear()
    epochs_trained = []
    run(project, tmp_path, "bert", name="swapped", classifier=str(folder), on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2, 3, 4] and "discarded, starting afresh" in caplog.text


@pytest.mark.parametrize("change", ["data", "code"])
def test_resume_after_new_data_or_code_starts_afresh(project, tmp_path, caplog, monkeypatch, change):
    """A run killed after epoch 2, then a training text or the library code changes: not resumed."""
    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    with pytest.raises(Killed):
        run(copy, tmp_path, "bert", name=change, on_epoch_end=kill_after(2))
    if change == "data":
        train_file = copy / "data" / "processed" / "toy" / "train.jsonl"
        first, *rest = train_file.read_text().splitlines(keepends=True)
        document = json.loads(first)
        document["text"] = document["text"] + " edited"
        train_file.write_text(json.dumps(document) + "\n" + "".join(rest))
    else:
        monkeypatch.setattr(checkpoints, "code_digest", lambda: "a digest of other code")
    epochs_trained = []
    run(copy, tmp_path, "bert", name=change, on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2, 3, 4] and "discarded, starting afresh" in caplog.text


def test_checkpoint_write_failures_name_the_file(project, tmp_path, monkeypatch):
    blocker = tmp_path / "checkpoints-file"
    blocker.write_text("a file where the checkpoint folder should be")
    with pytest.raises(LhmixError, match="best.pt: cannot write: .*checkpoints-file is a file, not a folder"):
        train(config("prompt", max_epochs=1), project / "data" / "processed" / "toy", tmp_path / "out", blocker)
    # as the stages lay it out: checkpoints/runs/<dataset>/... under a `checkpoints` that is a file
    with pytest.raises(LhmixError, match="best.pt: cannot write: .*checkpoints-file is a file, not a folder"):
        train(config("prompt", max_epochs=1), project / "data" / "processed" / "toy", tmp_path / "out",
              blocker / "runs" / "toy" / "main" / "prompt-s0")

    def full_disk(obj, target, *args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(LhmixError, match="best.pt: cannot write \\(No space left on device\\)"):
        run(project, tmp_path, "prompt", max_epochs=1)
    assert not list((tmp_path / "run-checkpoints").glob("*"))  # no temporary file left behind


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
                                                (1, 1.01, "beta"), (True, 0.75, "alpha")])
def test_bad_ratio_parameters_fail_at_configuration(alpha, beta, wrong):
    with pytest.raises(ParamError, match=f"'{wrong}'"):
        config("prompt_lhmix", alpha=alpha, beta=beta)


PARAMS = {"alpha": 2, "beta": 1, "encoder": {"classifier": "tiny-random"},
          "model": {"bert": {}, "prompt": {"head": "linear", "mlm_weight": 0.5, "graph": "none"}},
          "train": {"max_length": 32, "batch_size": 16, "eval_batch_size": 8, "lr": 3e-5, "warmup_epochs": 1,
                    "max_epochs": 4, "patience": 2, "device": "cpu", "mixup_beta_a": 0.4, "fixed_lambda": 0.5,
                    "loss": "per_depth", "early_stopping": "ours"}}


def test_config_reads_exactly_the_keys_of_its_run():
    warmup_keys = {"encoder.classifier", "train.max_length", "train.batch_size", "train.eval_batch_size",
                   "train.lr", "train.warmup_epochs", "train.patience", "train.device", "train.loss",
                   "train.early_stopping"}
    prompt_keys = {"model.prompt.head", "model.prompt.mlm_weight", "model.prompt.graph"}
    expected = {("bert", "none", True): warmup_keys,
                ("prompt", "none", True): warmup_keys | prompt_keys,
                ("prompt", "none", False): warmup_keys | prompt_keys | {"train.max_epochs"},
                ("bert", "mixup", False): warmup_keys | {"train.max_epochs", "train.mixup_beta_a"},
                ("prompt", "lhmix", False): warmup_keys | prompt_keys | {"train.max_epochs", "alpha", "beta"},
                ("prompt", "lhmix_shuffled", False): warmup_keys | prompt_keys | {"train.max_epochs", "alpha", "beta"},
                ("prompt", "fixed_lambda", False): warmup_keys | prompt_keys | {"train.max_epochs", "train.fixed_lambda"}}
    for (family, mixing, is_warmup), keys in expected.items():
        params = Params(PARAMS)
        built = TrainConfig.from_params(params, family, mixing, "2", "0.5", warmup=is_warmup)
        assert params.read == keys, (family, mixing)
        assert built.seed == 2 and built.batch_size == 16 and built.train_fraction == 0.5
    params = Params(PARAMS)
    sweep = TrainConfig.from_params(params, "prompt", "lhmix", 0, alpha="0.5", beta="1")
    assert (sweep.alpha, sweep.beta) == (0.5, 1.0) and not {"alpha", "beta"} & params.read
    lhmix = TrainConfig.from_params(Params(PARAMS), "bert", "lhmix", 0)
    assert (lhmix.alpha, lhmix.beta, lhmix.head, lhmix.mlm_weight, lhmix.graph) == (2.0, 1.0, None, 0.0, None)
    table6 = TrainConfig.from_params(Params(PARAMS), "prompt", "none", 0, graph="gat")
    assert table6.graph == "gat" and table6.run_name() == "prompt-s0-gat"
    assert lhmix.run_name() == "bert_lhmix-s0-a2-b1"


@pytest.mark.parametrize("key, value, message", [
    ("train.batch_size", True, "'train.batch_size' = True: expected an integer >= 1"),
    ("train.batch_size", 16.0, "'train.batch_size' = 16.0: expected an integer >= 1"),
    ("train.max_length", 64.0, "'train.max_length' = 64.0: expected an integer >= 1"),
    ("train.lr", "fast", "'train.lr' = 'fast': expected a finite number > 0"),
    ("train.warmup_epochs", 5, "'train.max_epochs' = 4: expected an integer >= 5"),
    ("train.device", "tpu", "'train.device' = 'tpu': expected one of auto, cpu, cuda"),
    ("model.prompt.head", "mlp", "'model.prompt.head' = 'mlp': expected one of mlm, linear"),
    ("train.loss", "per_label", "'train.loss' = 'per_label': expected one of per_depth, per_document"),
    ("train.early_stopping", "micro", "'train.early_stopping' = 'micro': expected one of ours, published"),
])
def test_bad_params_name_the_key(key, value, message):
    params = json.loads(json.dumps(PARAMS))
    section, _, name = key.rpartition(".")
    target = params
    for part in section.split("."):
        target = target[part]
    target[name] = value
    with pytest.raises(ParamError) as error:
        TrainConfig.from_params(Params(params), "prompt", "none", 0)
    assert message in str(error.value)


def test_bad_run_arguments_are_param_errors():
    with pytest.raises(ParamError, match="'seed' = -1: expected an integer >= 0"):
        TrainConfig.from_params(Params(PARAMS), "bert", "none", "-1")
    with pytest.raises(ParamError, match="variant"):
        parse_variant("prompt_cutmix")
    with pytest.raises(ParamError, match="'train.mixup_beta_a' = 0"):
        config("bert_mixup", mixup_beta_a=0)
    with pytest.raises(ParamError, match="'train.max_epochs'"):
        config("prompt_mixup", max_epochs=None)
    with pytest.raises(ParamError, match="'graph' = 'gat': expected no graph for the bert family"):
        TrainConfig.from_params(Params(PARAMS), "bert", "none", 0, graph="gat")


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


def test_stage_rejects_bad_beta_before_training(project):
    write_params(project)
    done = stage(project, sys.executable, str(REPO / "stages" / "train.py"), "--data", "data/processed/toy",
                 "--family", "prompt", "--mixing", "lhmix", "--seed", "0", "--alpha", "1", "--beta", "0.4",
                 "--out", "runs/bad")
    assert done.returncode == 1
    assert "parameter 'beta' = 0.4: expected a number in (0.5, 1]" in done.stderr
    assert not (project / "runs" / "bad").exists() and not (project / "checkpoints").exists()


def test_table6_stages_train_the_graph_given_and_read_no_graph_param(project):
    """warmup.py and train.py --graph (Table 6) override model.prompt.graph, never read it, and a run
    of another graph cannot continue the warm-up."""
    write_params(project)
    log = project / "params-read.jsonl"
    log.unlink(missing_ok=True)
    common = ("--data", "data/processed/toy", "--family", "prompt", "--seed", "0")
    warm = stage(project, sys.executable, str(REPO / "stages" / "warmup.py"), *common, "--graph", "gcn",
                 "--state", "data/warmup/gcn.pt", "--out", "runs/gcn/warmup", env={"LHMIX_PARAMS_LOG": str(log)})
    assert warm.returncode == 0, warm.stderr[-3000:]
    run_gcn = stage(project, sys.executable, str(REPO / "stages" / "train.py"), *common, "--mixing", "none",
                    "--graph", "gcn", "--warm-start", "data/warmup/gcn.pt", "--out", "runs/gcn/prompt",
                    env={"LHMIX_PARAMS_LOG": str(log)})
    assert run_gcn.returncode == 0, run_gcn.stderr[-3000:]
    assert json.loads((project / "runs/gcn/prompt/metrics.json").read_text())["graph"] == "gcn"
    reads = [set(json.loads(line)["read"]) for line in log.read_text().splitlines()]
    assert len(reads) == 2 and all("model.prompt.head" in read and "model.prompt.graph" not in read
                                   for read in reads)
    plain = stage(project, sys.executable, str(REPO / "stages" / "train.py"), *common, "--mixing", "none",
                  "--warm-start", "data/warmup/gcn.pt", "--out", "runs/gcn/plain")
    assert plain.returncode == 1 and "trained with other settings" in plain.stderr
    bert = stage(project, sys.executable, str(REPO / "stages" / "warmup.py"), "--data", "data/processed/toy", "--family",
                 "bert", "--seed", "0", "--graph", "gat", "--state", "data/warmup/bert.pt", "--out", "runs/bert")
    assert bert.returncode == 1 and "'graph' = 'gat': expected no graph for the bert family" in bert.stderr
    assert not (project / "runs" / "bert").exists()


@pytest.mark.parametrize("script, own", [("train.py", ("--mixing", "none")), ("warmup.py", ("--state", "x.pt"))])
def test_an_unknown_graph_is_a_usage_error(project, script, own):
    done = stage(project, sys.executable, str(REPO / "stages" / script), "--data", "data/processed/toy", "--family", "prompt",
                 "--seed", "0", "--graph", "gin", "--out", "runs/x", *own)
    assert done.returncode == 2 and "argument --graph: invalid choice: 'gin'" in done.stderr


@pytest.mark.parametrize("script", ["train.py", "warmup.py", "prepare.py", "similarity.py", "stats.py",
                                    "plots.py", "augment.py", "augment_bt.py"])
def test_stage_scripts_without_their_arguments_print_usage(project, script):
    done = stage(project, sys.executable, str(REPO / "stages" / script))
    assert done.returncode == 2 and "the following arguments are required" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("script", ["check.py", "report.py"])
def test_stage_scripts_that_take_no_arguments_refuse_one(project, script):
    done = stage(project, sys.executable, str(REPO / "stages" / script), "--no-such-option")
    assert done.returncode == 2 and "unrecognized arguments: --no-such-option" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_damaged_results_file_stops_plots_naming_file_and_line(project):
    results = project / "results" / "toy" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text('{"main":\n  {"prompt": [1, 2,]}}\n')
    done = stage(project, sys.executable, str(REPO / "stages" / "plots.py"), "toy")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"plots toy: results{os.sep}toy{os.sep}results.json:2: not JSON (" in done.stderr
    assert not (project / "results" / "toy" / "figures").exists()


def test_ddp_two_processes_on_cpu(project):
    write_params(project, max_epochs=2)
    done = stage(project, "--nproc_per_node", "2", "--standalone", str(REPO / "stages" / "train.py"),
                 "--data", "data/processed/toy", "--family", "prompt", "--mixing", "mixup", "--seed", "0", "--out", "runs/ddp",
                 launcher=(sys.executable, "-m", "torch.distributed.run"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("wrote runs/ddp") == 1  # rank 0 alone writes
    metrics = json.loads((project / "runs" / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs_run"] == 2 and metrics["train_docs"] == 64


def test_an_augmented_copy_continues_the_plain_warmup(project, tmp_path):
    """Table 7: a run on another processed folder with the same labels continues the plain warm-up."""
    source = project / "data" / "processed" / "toy"
    hierarchy, splits = read_dataset(source)
    docs = {name: [{"id": doc_id, "labels": labels, "text": text}
                   for doc_id, labels, text in zip(split.ids, split.labels, split.texts)]
            for name, split in splits.items()}
    docs["train"] += [{**doc, "id": doc["id"] + "#copy", "text": doc["text"] + " again"} for doc in docs["train"]]
    copy = tmp_path / "toy_copy"
    write_dataset(PreparedDataset("toy_copy", hierarchy, docs), copy)
    state = make_warmup(project, tmp_path, "prompt")
    out = tmp_path / "copy-run"
    with pytest.raises(LhmixError, match="trained with other settings"):  # without naming the warm-up's data
        train(config("prompt", max_epochs=2), copy, out, tmp_path / "copy-checkpoints", warm_start=state)
    metrics = train(config("prompt", max_epochs=2), copy, out, tmp_path / "copy-checkpoints", warm_start=state,
                    warmup_data_dir=source)
    assert metrics["train_docs"] == 128 and metrics["epochs_run"] == 2 and metrics["epochs_trained"] == 1
    other = tmp_path / "other_labels"
    other_tree, _ = Hierarchy.from_paths([("x", "y")])
    write_dataset(PreparedDataset("other", other_tree, {name: [{"id": f"{name}{i}", "labels": [0, 1], "text": "t"}
                                                               for i in range(16)] for name in ("train", "dev", "test")}),
                  other)
    with pytest.raises(LhmixError, match="labels.json differs"):
        train(config("prompt", max_epochs=2), other, out, tmp_path / "other-checkpoints", warm_start=state,
              warmup_data_dir=source)
