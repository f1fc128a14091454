"""Checkpoint files a run resumes or scores from: each carries the fingerprint of the run that wrote it, a
damaged one says how to recover, and a write that fails inside torch.save (a full disk) names the file."""
import subprocess
import sys
import textwrap

import pytest

from lhmix.core.errors import LhmixError
from lhmix.model import mixup
from lhmix.training import checkpoints
from toy import Killed, config, kill_after, make_warmup, outcome, project, run  # noqa: F401


class MidEpoch(Exception):
    """A kill inside an epoch, before it saves last.pt."""


def test_a_best_model_overwritten_by_another_run_is_never_scored(project, tmp_path, monkeypatch, caplog):
    """Run B (alpha 1) killed after its last epoch; run A (alpha 2, same folders) started and killed inside its
    first epoch, after it wrote its warm-up's best model; B started again must not score A's model: it starts
    afresh and ends with its uninterrupted result."""
    options = dict(warmup_epochs=2, max_epochs=4)
    state = make_warmup(project, tmp_path, "prompt", warmup_epochs=2)
    with pytest.raises(Killed):
        run(project, tmp_path, "prompt_lhmix", name="b", warm_start=state, on_epoch_end=kill_after(4), **options)
    with monkeypatch.context() as patch:
        patch.setattr(mixup, "permutation", lambda *args: (_ for _ in ()).throw(MidEpoch()))
        with pytest.raises(MidEpoch):
            run(project, tmp_path, "prompt_lhmix", name="b", warm_start=state, alpha=2.0, **options)
    best = tmp_path / "b-checkpoints" / "best.pt"
    assert "another run" in checkpoints.best_problem(best, "the fingerprint of run B")
    resumed = run(project, tmp_path, "prompt_lhmix", name="b", warm_start=state, **options)
    uninterrupted = run(project, tmp_path, "prompt_lhmix", name="whole", warm_start=state, **options)
    assert outcome(resumed) == outcome(uninterrupted)
    # B's resume state intact, its best model replaced by another run's: found when B starts again
    with pytest.raises(Killed):
        run(project, tmp_path, "prompt_lhmix", name="c", warm_start=state, on_epoch_end=kill_after(4), **options)
    checkpoints.save_best({"other": 1}, tmp_path / "c-checkpoints" / "best.pt", "another run's fingerprint")
    caplog.clear()
    again = run(project, tmp_path, "prompt_lhmix", name="c", warm_start=state, **options)
    assert "best.pt was written by another run (other settings, data, warm-up state or code); discarded, " \
           "starting afresh" in caplog.text
    assert outcome(again) == outcome(uninterrupted)


def test_an_unreadable_best_model_is_found_before_training(project, tmp_path, caplog):
    with pytest.raises(Killed):
        run(project, tmp_path, "bert", name="damaged", on_epoch_end=kill_after(2))
    (tmp_path / "damaged-checkpoints" / "best.pt").write_bytes(b"truncated")
    epochs_trained = []
    run(project, tmp_path, "bert", name="damaged", on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2, 3, 4]  # found at the start, not after training again
    assert "best.pt: not a readable checkpoint" in caplog.text


def test_an_unreadable_resume_state_is_discarded_with_a_notice(project, tmp_path, caplog):
    with pytest.raises(Killed):
        run(project, tmp_path, "bert", name="torn", on_epoch_end=kill_after(2))
    (tmp_path / "torn-checkpoints" / "last.pt").write_bytes(b"\x00" * 10)
    epochs_trained = []
    run(project, tmp_path, "bert", name="torn", on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2, 3, 4]
    assert "last.pt: not a readable checkpoint" in caplog.text


@pytest.mark.parametrize("content", [[1, 2], "a string", None], ids=["list", "str", "None"])
def test_a_readable_resume_state_that_is_not_a_dict_is_discarded_with_a_notice(project, tmp_path, caplog, content):
    with pytest.raises(Killed):
        run(project, tmp_path, "bert", name="foreign", on_epoch_end=kill_after(2))
    checkpoints.save(content, tmp_path / "foreign-checkpoints" / "last.pt")
    epochs_trained = []
    run(project, tmp_path, "bert", name="foreign", on_epoch_end=epochs_trained.append)
    assert epochs_trained == [1, 2, 3, 4]
    assert (f"last.pt: not a checkpoint written by this pipeline (it holds a {type(content).__name__}, not a "
            "dict); discarded, starting afresh") in caplog.text


def test_an_unreadable_warmup_state_says_how_to_recover(project, tmp_path):
    state = tmp_path / "warmup.pt"
    state.write_bytes(b"not a checkpoint")
    with pytest.raises(LhmixError, match="warmup.pt: not a readable checkpoint .*; delete it and run `dvc repro` "
                                         "to train its warm-up stage again"):
        run(project, tmp_path, "prompt_mixup", warm_start=state, warmup_epochs=1)


def test_scoring_refuses_a_best_model_of_another_run(tmp_path):
    path = tmp_path / "best.pt"
    checkpoints.save_best({"w": 1}, path, "run a")
    assert checkpoints.load_best(path, "run a") == {"w": 1}
    with pytest.raises(LhmixError, match="written by another run .*: it cannot score this run; delete"):
        checkpoints.load_best(path, "run b")


def test_an_unreadable_checkpoint_gives_its_reason_apart_from_the_recovery_advice(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"truncated")
    with pytest.raises(checkpoints.UnreadableCheckpoint, match="; delete it and run the stage again$") as raised:
        checkpoints.load(path)
    assert raised.value.reason.startswith(f"{path}: not a readable checkpoint (")
    assert "delete it" not in raised.value.reason
    assert checkpoints.best_problem(path, "run a") == raised.value.reason


def test_scoring_reads_the_best_model_once(tmp_path, monkeypatch):
    path = tmp_path / "best.pt"
    checkpoints.save_best({"w": 1}, path, "run a")
    reads = []
    real_load = checkpoints.load
    monkeypatch.setattr(checkpoints, "load", lambda *args, **kwargs: reads.append(args) or real_load(*args, **kwargs))
    checkpoints.load_best(path, "run a")
    assert len(reads) == 1


def test_a_full_disk_inside_torch_save_is_one_line_naming_the_file(tmp_path):
    """A file-size limit makes the write fail inside torch's own writer, as a full disk does: torch reports it as
    a RuntimeError ('unexpected pos'), which must still end in the project's one-line error."""
    script = textwrap.dedent(f"""
        import resource, sys, torch
        from lhmix.core.errors import LhmixError
        from lhmix.core.files import write_torch
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            write_torch({{"weights": torch.zeros(1_000_000)}}, {str(tmp_path / "best.pt")!r})
        except LhmixError as error:
            print(error)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr[-2000:]
    assert f"{tmp_path / 'best.pt'}: cannot write (the write failed inside torch.save" in done.stdout
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_training_set_smaller_than_a_batch_is_refused_naming_the_file(project, tmp_path):
    with pytest.raises(LhmixError, match=r"toy/train.jsonl: 6 training documents \(train_fraction 0.1\), fewer than "
                                         r"one batch \(train.batch_size = 16\)"):
        run(project, tmp_path, "prompt", train_fraction=0.1)
