"""What a run leaves in its output folder (a DVC output, read by the reporting stages).

metrics.json      test scores of the best dev checkpoint (micro/macro-F1, precision, recall, labels
                  per document, per depth, by label frequency; micro/macro average precision of the
                  scores, overall and per depth), the run's settings, its course
                  (history of dev scores per epoch, best epoch, why it stopped), the test scores of the
                  best dev epoch after the warm-up ("continuation", for a run that kept a warm-up epoch
                  the model its own epochs trained), what its mixing used
                  (lambda and, LH-Mix, s: mean and 5/50/95 % quantiles) and its own timing
predictions.npz   the test decisions, bit-packed rows in test.jsonl order, with the document ids and the
                  run's variant and seed (as scores.npz)
scores.npz        the dev and test scores of the best checkpoint (float16), with the document ids: the
                  reporting tunes a threshold per depth on dev and scores test there (lhmix.reporting.thresholds)
label_words.npz   prompt family: the label words at initialisation and of the best checkpoint (Figure 6)
model/            the best checkpoint, for transformers and safetensors (lhmix.model.saved)
live/             dvclive curves: train loss and dev scores per epoch (warm-up epochs included)
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lhmix.core.files import replaced_on_success
from lhmix.model.mixup import histogram_summary
from lhmix.training.config import TrainConfig
from lhmix.training.progress import Progress, Timing

# what metrics.json keeps of the continuation's model (its "continuation" entry)
CONTINUATION_SCORES = ("micro_f1", "macro_f1", "precision", "recall", "predicted_per_doc")
CURVES = ("train_loss", "dev_micro_f1", "dev_macro_f1", "dev_precision", "dev_recall", "dev_predicted_per_doc")


def run_metrics(config: TrainConfig, test: dict, progress: Progress, timing: Timing, context: dict,
                continuation: dict | None = None) -> dict:
    """metrics.json of a run: `test` scores, settings, course, mixing, timing; `context` adds
    dataset, encoder, train_docs, world_size, stage_seconds; `continuation` the test scores of the best dev
    epoch after the warm-up (`test` again when that is the best epoch; default: `test`)."""
    continuation = test if continuation is None else continuation
    return {
        **test, **context,
        "variant": config.variant, "family": config.family, "mixing": config.mixing, "seed": config.seed,
        "head": config.head, "mlm_weight": config.mlm_weight, "graph": config.graph,
        "alpha": config.alpha, "beta": config.beta, "mixup_beta_a": config.mixup_beta_a,
        "fixed_lambda": config.fixed_lambda, "loss": config.loss, "early_stopping": config.early_stopping,
        "train_fraction": config.train_fraction, "warmup_epochs": config.warmup_epochs,
        "max_epochs": config.max_epochs, "patience": config.patience,
        "best_epoch": progress.best_epoch, "epochs_run": progress.epoch,
        "stopped_early": progress.stopped_early, "stop_reason": progress.stop_reason,
        "dev_micro_f1": progress.best_dev_micro_f1, "dev_macro_f1": progress.best_dev_macro_f1,
        "continuation": {"best_epoch": progress.best_continuation_epoch,
                         "dev_micro_f1": progress.best_continuation_dev_micro_f1,
                         "dev_macro_f1": progress.best_continuation_dev_macro_f1,
                         **{name: continuation[name] for name in CONTINUATION_SCORES}},
        **{name: histogram_summary(kept["counts"], kept["sum"]) for name, kept in progress.mixing.items()},
        **timing_metrics(timing),
        "history": progress.history,
    }


def timing_metrics(timing: Timing) -> dict:
    """The epochs this stage trained (a warm-started run: after the warm-up) and their speed
    (lhmix.training.progress.TIMING_KEYS lists these keys and stage_seconds)."""
    return {"epochs_trained": timing.epochs, "train_seconds": round(timing.train_seconds, 3),
            "examples_per_second": round(timing.train_examples / max(timing.train_seconds, 1e-9), 3)}


def write_predictions(path: Path, ids: list[str], packed: np.ndarray, num_labels: int,
                      run: dict | None = None) -> None:
    """predictions.npz: `packed` (uint8 [N, ceil(V/8)], np.packbits of the bool decisions per row;
    unpack with np.unpackbits(packed, axis=1, count=num_labels)), `ids`, `num_labels`, and the `run`'s
    variant and seed (lhmix.reporting.run_files matches them to the run the report reads the file for)."""
    _write_npz(path, {"packed": packed, "ids": np.array(ids, dtype=str), "num_labels": np.array(num_labels),
                      **_named(run)})


def write_scores(path: Path, dev_ids: list[str], dev_scores: np.ndarray, test_ids: list[str],
                 test_scores: np.ndarray, run: dict | None = None) -> None:
    """scores.npz: `dev_scores`, `test_scores` (float16 [N, V], rows in dev.jsonl / test.jsonl order), `dev_ids`,
    `test_ids`, the `run`'s variant and seed. float16 keeps a score to 3 significant digits, finer than any
    threshold a dev set can place."""
    _write_npz(path, {"dev_scores": np.asarray(dev_scores, dtype=np.float16), "dev_ids": np.array(dev_ids, dtype=str),
                      "test_scores": np.asarray(test_scores, dtype=np.float16),
                      "test_ids": np.array(test_ids, dtype=str), **_named(run)})


def run_identity(config: TrainConfig) -> dict:
    """The run a file of `config`'s output folder belongs to, as predictions.npz and scores.npz name it."""
    return {"variant": config.variant, "seed": config.seed}


def _named(run: dict | None) -> dict[str, np.ndarray]:
    return {} if run is None else {"variant": np.array(run["variant"], dtype=str), "seed": np.array(run["seed"])}


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed zip timestamps, so that equal arrays give equal bytes."""
    with replaced_on_success(path) as temporary, \
            zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as handle:
                np.lib.format.write_array(handle, np.asarray(array, order="C"), allow_pickle=False)


def write_label_words(path: Path, initial: np.ndarray, trained: np.ndarray) -> None:
    """label_words.npz: `initial` and `trained` [|V|, H] float32, rows in label id order."""
    _write_npz(path, {"initial": np.asarray(initial, dtype=np.float32),
                      "trained": np.asarray(trained, dtype=np.float32)})


def write_curves(live_dir: Path, history: list[dict]) -> None:
    """dvclive curves of `history`: the newest epoch appended when live_dir holds every earlier
    one (dvclive resume), else the whole history written afresh (a new run folder: DVC empties
    its outputs before a stage runs, so a resumed or warm-started run starts with none)."""
    from dvclive import Live

    written = _steps_written(live_dir)
    resume = bool(history) and written == history[-1]["epoch"] - 1 and written == len(history) - 1
    with Live(str(live_dir), resume=resume, report=None, save_dvc_exp=False, dvcyaml=False) as live:
        for entry in history[-1:] if resume else history:
            live.step = entry["epoch"]
            for name in CURVES:
                if name in entry:
                    split, metric = name.split("_", 1)
                    live.log_metric(f"{split}/{metric}", entry[name])


def _steps_written(live_dir: Path) -> int:
    """The last epoch of the curves in live_dir (0 when there are none)."""
    loss = Path(live_dir) / "plots" / "metrics" / "train" / "loss.tsv"
    if not loss.is_file():
        return 0
    rows = [row for row in loss.read_text(encoding="utf-8").splitlines()[1:] if row]
    return len(rows)
