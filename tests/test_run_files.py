"""A run's files as the report reads them (lhmix.reporting.run_files, through lhmix.reporting.results): a file of
another run, or a field that is not what its writer writes, stops the report in one line naming file and field."""
import json
import math
import shutil

import numpy as np
import pytest

from lhmix.core.errors import LhmixError
from lhmix.pipeline.plan import Run
from lhmix.reporting import results
from lhmix.training.outputs import write_predictions, write_scores
from toy import project, run as toy_run  # noqa: F401  (the toy project fixture and its runner)

IDS = ["t0", "t1", "t2"]
DECISIONS = np.array([[1, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 1, 0, 0, 1]], dtype=bool)


def metrics_of(variant: str, seed: int, **settings) -> dict:
    """A run's metrics.json as lhmix.training.outputs.run_metrics writes it (the keys the report reads)."""
    scores = {"micro_f1": 0.6, "macro_f1": 0.5, "precision": 0.7, "recall": 0.5, "micro_ap": 0.7, "macro_ap": 0.6}
    return {**scores, "variant": variant, "seed": seed, "alpha": 1.0, "beta": 0.75, "train_fraction": 1.0,
            "graph": "none", "predicted_per_doc": 2.0, "gold_per_doc": 2.0,
            "per_depth": {"1": dict(scores), "2": dict(scores)},
            "per_depth_ap": {"1": {"micro_ap": 0.8, "macro_ap": 0.7}, "2": {"micro_ap": 0.6, "macro_ap": 0.5}},
            "by_frequency": {"rare": 0.2, "medium": 0.4, "frequent": 0.7},
            "epochs_run": 3, "best_epoch": 2, "max_epochs": 5, "warmup_epochs": 1, "stop_reason": "early_stopping",
            "history": [{"epoch": e, "train_loss": 1.0 / e, "dev_micro_f1": 0.5, "dev_macro_f1": 0.4} for e in (1, 2, 3)],
            "stage_seconds": 10.0, "train_seconds": 4.0, "examples_per_second": 50.0, "epochs_trained": 2,
            "device": "cpu",
            "continuation": {"best_epoch": 2, "dev_micro_f1": 0.5, "dev_macro_f1": 0.4, "micro_f1": 0.6,
                             "macro_f1": 0.5, "precision": 0.7, "recall": 0.5, "predicted_per_doc": 2.0},
            "lambda": {"n": 2, "mean": 0.5155, "q05": 0.5105, "q50": 0.5105, "q95": 0.5205, "first_bin": 510,
                       "counts": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]},
            **settings}


def write_run(run: Run, metrics: dict, named=None) -> None:
    """The run's metrics.json, predictions.npz and scores.npz, the .npz files naming `named` (default: the run)."""
    named = {"variant": run.variant, "seed": run.seed} if named is None else named
    run.path.mkdir(parents=True, exist_ok=True)
    (run.path / "metrics.json").write_text(json.dumps(metrics))
    write_predictions(run.path / "predictions.npz", IDS, np.packbits(DECISIONS, axis=1), 5, run=named)
    scores = np.where(DECISIONS, 1.0, -1.0)
    write_scores(run.path / "scores.npz", IDS, scores, IDS, scores, run=named)


@pytest.fixture
def runs(tmp_path):
    """prompt_mixup and prompt_lhmix of seed 1 (main runs), each with its own files."""
    mixup = Run("prompt_mixup", 1, tmp_path / "main" / "prompt_mixup-s1")
    lhmix = Run("prompt_lhmix", 1, tmp_path / "main" / "prompt_lhmix-s1", alpha=1.0, beta=0.75)
    for run in (mixup, lhmix):
        write_run(run, metrics_of(run.variant, run.seed))
    return mixup, lhmix


def refused(run: Run, file: str, field: str) -> str:
    """The one-line error of reading `run` as the report does; it names `file` of the run and `field`."""
    with pytest.raises(LhmixError) as caught:
        results._rows([run], results._run_row)
    message = str(caught.value)
    assert message.startswith(f"{run.path / file}: '{field}' = "), message
    assert "\n" not in message
    return message


def test_the_files_of_their_own_run_are_read(runs):
    (row,) = results._rows([runs[1]], results._run_row)
    assert (row["variant"], row["seed"], row["micro_f1"]) == ("prompt_lhmix", 1, 60.0)


def test_metrics_copied_from_another_variant_are_refused(runs):
    mixup, lhmix = runs
    shutil.copy(mixup.path / "metrics.json", lhmix.path / "metrics.json")
    message = refused(lhmix, "metrics.json", "variant")
    assert "'variant' = 'prompt_mixup', but params.yaml reads this file for prompt_lhmix seed 1" in message


def test_metrics_of_another_seed_or_setting_are_refused(tmp_path):
    run = Run("prompt_lhmix", 1, tmp_path / "sweep" / "alpha-2", alpha=2.0, beta=1.0)
    write_run(run, metrics_of("prompt_lhmix", 0, alpha=2.0, beta=1.0))
    refused(run, "metrics.json", "seed")
    write_run(run, metrics_of("prompt_lhmix", 1, alpha=0.5, beta=1.0))
    assert "(alpha 2.0)" in refused(run, "metrics.json", "alpha")
    sparse = Run("prompt", 0, tmp_path / "sparse" / "f0.1" / "prompt", fraction=0.1)
    write_run(sparse, metrics_of("prompt", 0, train_fraction=0.5))
    refused(sparse, "metrics.json", "train_fraction")
    graph = Run("prompt", 0, tmp_path / "table6" / "gcn" / "prompt-s0", graph="gcn")
    write_run(graph, metrics_of("prompt", 0, graph="gat"))
    refused(graph, "metrics.json", "graph")


@pytest.mark.parametrize("name", ["predictions.npz", "scores.npz"])
def test_decisions_or_scores_copied_from_another_run_are_refused(runs, name):
    mixup, lhmix = runs
    shutil.copy(mixup.path / name, lhmix.path / name)
    assert "'variant' = 'prompt_mixup'" in refused(lhmix, name, "variant")
    write_run(lhmix, metrics_of("prompt_lhmix", 1), named={"variant": "prompt_lhmix", "seed": 2})
    refused(lhmix, "predictions.npz", "seed")


def test_decisions_of_an_older_code_name_no_run_and_are_read(runs):
    """An older predictions.npz has no variant and seed: nothing to match (the ids and label count still are)."""
    lhmix = runs[1]
    write_predictions(lhmix.path / "predictions.npz", IDS, np.packbits(DECISIONS, axis=1), 5)
    with np.load(lhmix.path / "predictions.npz") as archive:
        assert "variant" not in archive.files
    assert len(results._rows([lhmix], results._run_row)) == 1


def histogram(**change):
    return {**metrics_of("prompt_lhmix", 1)["lambda"], **change}


# (field, value): what a run's metrics.json never holds there; the error names the field
DAMAGED = [
    ("predicted_per_doc", "many"), ("predicted_per_doc", -1.0), ("gold_per_doc", math.nan),
    ("train_seconds", -4.0), ("examples_per_second", math.inf), ("stage_seconds", None),
    ("epochs_run", 2.5), ("best_epoch", -1), ("epochs_trained", True), ("stop_reason", "bored"),
    ("history", []), ("history", {"epoch": 1}),
    ("by_frequency", {"rare": math.nan, "medium": 0.4, "frequent": 0.7}), ("by_frequency", [0.2]),
    ("lambda", histogram(mean=math.nan)), ("lambda", histogram(n=-2)), ("lambda", histogram(counts=[1, 0, -1, 2])),
    ("lambda", histogram(n=3)), ("lambda", histogram(first_bin=999)), ("lambda", "high"),
    ("continuation", {"best_epoch": 2.0}), ("continuation", [2]),
]


@pytest.mark.parametrize("field, value", DAMAGED, ids=[f"{f}={v!r}" for f, v in DAMAGED])
def test_a_field_beyond_the_scores_that_its_writer_never_writes_is_refused(runs, field, value):
    lhmix = runs[1]
    (lhmix.path / "metrics.json").write_text(json.dumps({**metrics_of("prompt_lhmix", 1), field: value}))
    refused(lhmix, "metrics.json", field)


@pytest.mark.parametrize("key, value", [("macro_f1", 1.5), ("predicted_per_doc", None), ("recall", math.nan)])
def test_a_damaged_score_of_the_continuation_is_named(runs, key, value):
    lhmix = runs[1]
    metrics = metrics_of("prompt_lhmix", 1)
    metrics["continuation"][key] = value
    (lhmix.path / "metrics.json").write_text(json.dumps(metrics))
    refused(lhmix, "metrics.json", f"continuation.{key}")


@pytest.mark.parametrize("point, field", [({"epoch": 2, "train_loss": 0.5, "dev_micro_f1": 0.5, "dev_macro_f1": 0.4},
                                           "history[0]"),
                                          ({"epoch": 1, "train_loss": math.nan, "dev_micro_f1": 0.5, "dev_macro_f1": 0.4},
                                           "history[0].train_loss"),
                                          ({"epoch": 1, "train_loss": 0.5, "dev_micro_f1": 1.5, "dev_macro_f1": 0.4},
                                           "history[0].dev_micro_f1")])
def test_a_damaged_epoch_of_the_history_is_named(runs, point, field):
    lhmix = runs[1]
    (lhmix.path / "metrics.json").write_text(json.dumps({**metrics_of("prompt_lhmix", 1), "history": [point]}))
    refused(lhmix, "metrics.json", field)


def test_a_warmup_is_matched_on_what_its_file_holds(tmp_path):
    """A warm-up's metrics.json has no graph or alpha: its variant, seed and training fraction are matched."""
    warmup = Run("prompt", 0, tmp_path / "sparse" / "f0.5" / "warmup", fraction=0.5)
    write = {"variant": "prompt", "seed": 0, "train_fraction": 0.5, "warmup_epochs": 1, "epochs_run": 1,
             "best_epoch": 1, "stopped_early": False, "stage_seconds": 3.0, "train_seconds": 2.0,
             "examples_per_second": 10.0, "epochs_trained": 1, "device": "cpu",
             "history": [{"epoch": 1, "train_loss": 0.9, "dev_micro_f1": 0.3, "dev_macro_f1": 0.2}]}
    warmup.path.mkdir(parents=True)
    (warmup.path / "metrics.json").write_text(json.dumps(write))
    assert results._rows([warmup], results._warmup_row)[0]["train_seconds"] == 2.0
    (warmup.path / "metrics.json").write_text(json.dumps({**write, "variant": "bert"}))
    with pytest.raises(LhmixError, match="warmup/metrics.json: 'variant' = 'bert', but params.yaml reads this file "
                                         "for prompt seed 0"):
        results._rows([warmup], results._warmup_row)


def test_a_trained_run_names_itself_in_its_decisions_and_scores(project, tmp_path):  # noqa: F811
    out = toy_run(project, tmp_path, "prompt_mixup", seed=3, max_epochs=2)
    for name in ("predictions.npz", "scores.npz"):
        with np.load(out / name) as archive:
            assert (archive["variant"].item(), archive["seed"].item()) == ("prompt_mixup", 3), name
