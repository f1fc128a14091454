"""Warm starts and resumes: a run continued from a warm-up state or from its own last.pt ends as the
uninterrupted run, and a state of other settings, data, weights or code is refused or discarded.
"""
import json
import shutil

import pytest
import torch

from lhmix.core.errors import LhmixError
from lhmix.training import checkpoints
from lhmix.training.config import parse_variant
from lhmix.training.run import train

from toy import Killed, config, kill_after, losses_per_epoch, make_warmup, outcome, project, run  # noqa: F401  (project is a fixture)


@pytest.mark.parametrize("variant", ["prompt_lhmix", "bert_mixup"])
def test_warm_start_gives_the_uninterrupted_outcome(project, tmp_path, variant):
    family, _ = parse_variant(variant)
    options = dict(warmup_epochs=2, max_epochs=4)
    state = make_warmup(project, tmp_path, family, warmup_epochs=2)
    assert state.is_file()
    assert not (tmp_path / "warmup-checkpoints").exists()
    course = json.loads((tmp_path / "warmup-out" / "metrics.json").read_text())
    assert course["epochs_run"] == 2
    assert course["epochs_trained"] == 2
    assert course["train_seconds"] > 0
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
    assert epochs_trained == [2, 3, 4]
    assert "discarded, starting afresh" in caplog.text
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
    assert epochs_trained == [1, 2, 3, 4]
    assert "discarded, starting afresh" in caplog.text


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
    assert epochs_trained == [1, 2, 3, 4]
    assert "discarded, starting afresh" in caplog.text


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
