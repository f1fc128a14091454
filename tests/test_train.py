"""lhmix.training: the loop of all six variants and the controls, what a run writes, early stopping,
determinism and its guards (non-finite loss, exploding learning rate).
"""
import json
import re

import numpy as np
import pytest

from lhmix.core.errors import LhmixError
from lhmix.data.documents import read_dataset
from lhmix.data.hierarchy import Hierarchy
from lhmix.datasets.contract import PreparedDataset, write_dataset
from lhmix.model import losses, mixup
from lhmix.training.config import VARIANTS, parse_variant
from lhmix.training.loop import NonFiniteLoss, Session
from lhmix.training.progress import Progress
from lhmix.training.run import train

from toy import (SIMILARITY, Killed, config, kill_after, losses_per_epoch, make_warmup, outcome,  # noqa: F401  (project is a fixture)
                 project, run)


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
    assert len(epoch_losses) == 3
    assert epoch_losses[-1] < epoch_losses[0]
    _, mixing = parse_variant(variant)
    batches = 4
    assert spy.per_epoch[1] == {"permutation": 0, "beta_ratio": 0, "lhmix_ratio": 0}  # warm-up: no draw
    expected = {"permutation": batches * 2 * (mixing != "none"),
                "beta_ratio": batches * 2 * (mixing == "mixup"),
                "lhmix_ratio": batches * 2 * (mixing in SIMILARITY)}
    assert spy.per_epoch[3] == expected
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["variant"] == variant
    assert metrics["epochs_run"] == 3
    assert metrics["num_docs"] == 16
    assert 0 <= metrics["micro_f1"] <= 1
    assert set(metrics["per_depth"]) == {"1", "2"}
    assert (metrics["alpha"], metrics["beta"]) == ((1.0, 0.75) if mixing in SIMILARITY else (None, None))
    assert metrics["precision"] >= 0
    assert metrics["recall"] >= 0
    assert metrics["gold_per_doc"] == 2.0
    assert metrics["stop_reason"] == "epoch_cap"
    assert not metrics["stopped_early"]
    # what the mixing used: one lambda per mixed sample (2 mixed epochs x 64 docs), s for LH-Mix only
    assert ("lambda" in metrics) == (mixing != "none")
    assert ("s" in metrics) == (mixing in SIMILARITY)
    if mixing != "none":
        assert metrics["lambda"]["n"] == 2 * 64
        assert 0 <= metrics["lambda"]["q05"] <= metrics["lambda"]["q95"] <= 1
    if mixing in SIMILARITY:  # lambda = -(beta - 0.5) s + beta with alpha 1, beta 0.75: the means agree exactly
        assert metrics["lambda"]["mean"] == pytest.approx(0.75 - 0.25 * metrics["s"]["mean"], abs=1e-5)
    if mixing == "fixed_lambda":  # every mixed sample at 0.5: one histogram bin, the mean exact
        assert metrics["lambda"]["mean"] == 0.5
        assert metrics["lambda"]["counts"] == [2 * 64]
    assert 0 <= metrics["micro_ap"] <= 1
    assert 0 <= metrics["macro_ap"] <= 1
    assert set(metrics["per_depth_ap"]) == {"1", "2"}
    # the checkpoints go once the outputs are written; the best model stays, in the output folder
    assert not (tmp_path / "run-checkpoints" / "last.pt").exists()
    assert not (tmp_path / "run-checkpoints" / "best.pt").exists()
    assert (out / "model" / "head.safetensors").is_file()


def test_curves_are_appended_epoch_by_epoch(project, tmp_path, monkeypatch):
    from dvclive import Live

    from lhmix.training import outputs
    from lhmix.training import run as run_module

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
    assert opened == [False, True, False]
    assert "0.5" in (live / "plots/metrics/dev/macro_f1.tsv").read_text()

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
    assert ids == splits["test"].ids
    assert predicted.shape == (16, 6)
    gold = np.zeros_like(predicted)
    for row, labels in enumerate(splits["test"].labels):
        gold[row, labels] = True
    tp, fp, fn = (predicted & gold).sum(), (predicted & ~gold).sum(), (~predicted & gold).sum()
    assert metrics["micro_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # scores.npz: the best checkpoint's dev and test scores (float16); at 0 they are the decisions and its dev F1
    with np.load(out / "scores.npz") as archive:
        assert archive["test_ids"].tolist() == splits["test"].ids
        assert archive["dev_ids"].tolist() == splits["dev"].ids
        assert archive["test_scores"].dtype == np.float16
        assert (archive["test_scores"] > 0).tolist() == predicted.tolist()
        dev_predicted = archive["dev_scores"] > 0
    dev_gold = np.zeros_like(dev_predicted)
    for row, labels in enumerate(splits["dev"].labels):
        dev_gold[row, labels] = True
    tp, fp, fn = (dev_predicted & dev_gold).sum(), (dev_predicted & ~dev_gold).sum(), (~dev_predicted & dev_gold).sum()
    assert metrics["dev_micro_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    dev_macro = [float(r.split("\t")[1]) for r in
                 (out / "live/plots/metrics/dev/macro_f1.tsv").read_text().split("\n")[1:] if r]
    assert len(dev_macro) == 10
    assert metrics["dev_macro_f1"] == max(dev_macro)
    assert metrics["best_epoch"] == 1 + dev_macro.index(max(dev_macro))
    assert metrics["examples_per_second"] > 0
    assert metrics["train_docs"] == 64
    assert re.fullmatch(r"cpu, \d+ threads", metrics["device"])
    with np.load(out / "label_words.npz") as words:  # Figure 6: before and after training
        initial, trained = words["initial"], words["trained"]
    assert initial.shape == trained.shape == (6, 32)
    assert not np.allclose(initial, trained)


def test_each_run_keeps_a_timestamped_log_beside_its_metrics(project, tmp_path):
    out = run(project, tmp_path, "prompt", max_epochs=2)
    lines = (out / "train.log").read_text().splitlines()
    assert len(lines) == 3  # two epochs and the test result
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO prompt-s0 epoch 1/2 \(cap\): \d+\.\d s, train loss ", lines[0])
    assert "test micro-F1" in lines[-1]


def test_early_stopping_counts_from_the_best_epoch_or_the_warmups_end(project, tmp_path):
    out = run(project, tmp_path, "bert", max_epochs=12, patience=2, lr=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_early"]
    assert metrics["epochs_run"] == max(metrics["best_epoch"], 1) + 2
    assert metrics["stop_reason"] == "early_stopping"
    # a warm-up longer than the patience never stops early: the mixing phase gets its own patience
    out = run(project, tmp_path, "bert_mixup", name="long", max_epochs=12, warmup_epochs=6, patience=2, lr=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == max(metrics["best_epoch"], 6) + 2
    assert metrics["lambda"]["n"] > 0


def test_progress_stops_patience_epochs_after_the_best_or_the_warmup():
    progress = Progress()
    scores = [0.5, 0.6, 0.55, 0.55, 0.55, 0.55, 0.55]  # best at epoch 2; warm-up 4 epochs; patience 2
    stops = []
    for epoch, score in enumerate(scores, start=1):
        progress.record(epoch, 1.0, {"micro_f1": score, "macro_f1": score, "precision": 1, "recall": 1,
                                     "predicted_per_doc": 1}, patience=2, warmup_epochs=4)
        stops.append(progress.stopped_early)
    assert stops == [False, False, False, False, False, True, True]  # epoch 6 = 4 + 2
    assert progress.best_epoch == 2
    assert progress.stop_reason == "early_stopping"


def test_progress_keeps_the_best_epoch_after_the_warmup_apart():
    progress = Progress()
    for epoch, score in enumerate([0.5, 0.6, 0.3, 0.45, 0.4], start=1):   # warm-up 2 epochs
        progress.record(epoch, 1.0, {"micro_f1": score / 2, "macro_f1": score, "precision": 1, "recall": 1,
                                     "predicted_per_doc": 1}, patience=5, warmup_epochs=2)
    assert (progress.best_epoch, progress.best_continuation_epoch) == (2, 4)
    assert (progress.best_continuation_dev_macro_f1, progress.best_continuation_dev_micro_f1) == (0.45, 0.225)
    assert progress.continuation_apart
    progress.record(6, 1.0, {"micro_f1": 0.7, "macro_f1": 0.7, "precision": 1, "recall": 1, "predicted_per_doc": 1},
                    patience=5, warmup_epochs=2)
    assert (progress.best_epoch, progress.best_continuation_epoch) == (6, 6)
    assert not progress.continuation_apart


UNSCRIPTED_EVALUATE = Session.evaluate


def scripted_dev(monkeypatch, macro_f1s: list[float]) -> None:
    """Every epoch's dev macro-F1 as scripted (training itself is untouched: dev only selects)."""
    original, script = UNSCRIPTED_EVALUATE, iter(macro_f1s)

    def evaluate(self, split, keep_predictions=False, desc="dev"):
        result, scores = original(self, split, keep_predictions, desc)
        if desc == "dev" and not keep_predictions:
            result = {**result, "macro_f1": next(script)}
        return result, scores
    monkeypatch.setattr(Session, "evaluate", evaluate)


def test_a_run_that_keeps_a_warmup_epoch_also_scores_its_continuations_best(project, tmp_path, monkeypatch):
    settings = dict(max_epochs=8, warmup_epochs=1, patience=10)
    scripted_dev(monkeypatch, [0.9] + [0.1] * 6 + [0.4])   # warm-up epoch 1 stays best; after it, epoch 8
    metrics = json.loads((run(project, tmp_path, "prompt_lhmix", name="apart", **settings)
                          / "metrics.json").read_text())
    assert (metrics["best_epoch"], metrics["continuation"]["best_epoch"]) == (1, 8)
    assert metrics["continuation"]["dev_macro_f1"] == 0.4
    # the same training, selecting epoch 8 (dev selects, it does not train): its test scores are the continuation's
    scripted_dev(monkeypatch, [0.1] * 7 + [0.4])
    last = json.loads((run(project, tmp_path, "prompt_lhmix", name="last", **settings) / "metrics.json").read_text())
    scores = ("micro_f1", "macro_f1", "precision", "recall", "predicted_per_doc")
    assert last["best_epoch"] == 8
    assert metrics["continuation"] == {**{k: last[k] for k in scores}, "best_epoch": 8, "dev_macro_f1": 0.4,
                                       "dev_micro_f1": last["dev_micro_f1"]}
    assert last["continuation"] == metrics["continuation"]   # one model: the continuation is the run's own score
    assert metrics["micro_f1"] != last["micro_f1"]   # the first run itself still scores its best epoch, 1
    assert not list((tmp_path / "apart-checkpoints").glob("*.pt"))


def test_a_killed_run_resumes_its_continuations_best_and_refuses_a_damaged_one(project, tmp_path, monkeypatch,
                                                                             caplog):
    settings = dict(max_epochs=6, warmup_epochs=1, patience=10)
    dev = [0.9, 0.1, 0.4, 0.1, 0.1, 0.1]   # best epoch 1, continuation's best 3
    scripted_dev(monkeypatch, dev)
    whole = json.loads((run(project, tmp_path, "prompt_mixup", name="whole", **settings) / "metrics.json").read_text())
    for name, damage in (("resumed", False), ("damaged", True)):
        scripted_dev(monkeypatch, dev)
        with pytest.raises(Killed):
            run(project, tmp_path, "prompt_mixup", name=name, on_epoch_end=kill_after(4), **settings)
        saved = tmp_path / f"{name}-checkpoints" / "continuation.pt"
        assert saved.is_file()
        if damage:
            saved.write_bytes(b"torn")
        scripted_dev(monkeypatch, dev if damage else dev[4:])   # afresh, or from epoch 5
        caplog.clear()
        again = json.loads((run(project, tmp_path, "prompt_mixup", name=name, **settings) / "metrics.json").read_text())
        assert ("continuation.pt: not a readable checkpoint" in caplog.text) == damage
        assert {k: again[k] for k in ("continuation", "micro_f1", "best_epoch")} == \
            {k: whole[k] for k in ("continuation", "micro_f1", "best_epoch")}


def test_same_seed_same_outcome_other_seed_differs(project, tmp_path):
    first = outcome(run(project, tmp_path, "prompt_mixup", name="a"))
    second = outcome(run(project, tmp_path, "prompt_mixup", name="b"))
    assert first == second
    other = outcome(run(project, tmp_path, "prompt_mixup", name="c", seed=1))
    assert other["curves"] != first["curves"]


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
    assert metrics["train_docs"] == 128
    assert metrics["epochs_run"] == 2
    assert metrics["epochs_trained"] == 1
    other = tmp_path / "other_labels"
    other_tree, _ = Hierarchy.from_paths([("x", "y")])
    write_dataset(PreparedDataset("other", other_tree, {name: [{"id": f"{name}{i}", "labels": [0, 1], "text": "t"}
                                                               for i in range(16)] for name in ("train", "dev", "test")}),
                  other)
    with pytest.raises(LhmixError, match="labels.json differs"):
        train(config("prompt", max_epochs=2), other, out, tmp_path / "other-checkpoints", warm_start=state,
              warmup_data_dir=source)
