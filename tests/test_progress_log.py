"""Progress of long phases in the log (lhmix.core.progress_log): against a fake clock, in a toy training run's
log written to a non-terminal stream, and prepare's one-line summary."""
import io
import logging
import re
import subprocess
import sys

import pytest

from lhmix.core import progress_log
from lhmix.core.logs import DATE_FORMAT, FORMAT, logger
from lhmix.core.progress_log import ProgressLog, duration
from lhmix.datasets.contract import summary

from toy import make_warmup, outcome, project, run  # noqa: F401  (project is a fixture)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def records(caplog):
    return [record.getMessage() for record in caplog.records if record.name == "test-progress"]


def test_lines_come_at_the_interval_with_k_of_n_and_the_eta(caplog):
    clock, log = FakeClock(), logging.getLogger("test-progress")
    caplog.set_level(logging.INFO, logger="test-progress")
    steps = ProgressLog("epoch 3/60 (cap)", 10, "step", interval=30, logger=log, clock=clock)
    for seconds in (10, 10, 10, 5, 5, 5, 5, 5, 10, 7):  # steps 1..10 end at 10, 20, 30, 35, ..., 55, 65, 72 s
        clock.now += seconds
        steps.note = "loss 0.1234" if steps.done == 9 else ""
        steps.advance()
    assert steps.finish() == 72
    # step 3 at 30 s: ETA 30 / 3 x 7 = 70 s; step 9 at 65 s (35 s after the last line): 65 / 9 x 1 = 7.2 s
    assert records(caplog) == [
        "epoch 3/60 (cap), step 3/10, 30.0 s elapsed, ETA 1 min 10 s",
        "epoch 3/60 (cap), step 9/10, 1 min 05 s elapsed, ETA 7.2 s",
        "epoch 3/60 (cap), step 10/10, done in 1 min 12 s, loss 0.1234",
    ]


def test_a_phase_shorter_than_the_interval_stays_silent_and_a_stream_gets_its_pace(caplog):
    clock, log = FakeClock(), logging.getLogger("test-progress")
    caplog.set_level(logging.INFO, logger="test-progress")
    short = ProgressLog("dev scoring", 4, "batch", interval=30, logger=log, clock=clock)
    for _ in range(4):
        clock.now += 7
        short.advance()
    assert short.finish() == 28 and records(caplog) == []
    streamed = ProgressLog("prepare rcv1: test", None, "story", interval=30, logger=log, clock=clock)
    clock.now += 40
    streamed.advance(1000)
    hidden = ProgressLog("rank 1", 2, "step", interval=0, logger=log, clock=clock, enabled=False)
    hidden.advance()
    hidden.finish()
    assert records(caplog) == ["prepare rcv1: test, story 1,000, 40.0 s elapsed, 25.0/s"]


def test_the_helper_loads_without_torch():
    code = "import sys, lhmix.core.progress_log\nassert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_durations_read_as_seconds_minutes_or_hours():
    assert [duration(s) for s in (0.04, 59.94, 60, 125.4, 3599.4, 3600, 7385)] == [
        "0.0 s", "59.9 s", "1 min 00 s", "2 min 05 s", "59 min 59 s", "1 h 00 min", "2 h 03 min"]


@pytest.fixture
def non_terminal_log(monkeypatch):
    """The lhmix log as a SLURM file gets it: a plain stream, every line at once (interval 0)."""
    monkeypatch.setattr(progress_log, "INTERVAL_SECONDS", 0)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_a_training_run_logs_its_steps_and_scoring_with_an_eta_and_trains_the_same(project, tmp_path, monkeypatch,
                                                                                   non_terminal_log):
    out = run(project, tmp_path, "bert_mixup", max_epochs=2)
    lines = non_terminal_log.getvalue().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO "
    seconds = r"\d+\.\d s"
    # 64 training documents in batches of 16: 4 steps; 16 dev documents in batches of 8: 2 batches
    # early stopping may end the run before epoch 2: a cap
    for epoch in ("epoch 1/2 \\(cap\\)", "epoch 2/2 \\(cap\\)"):
        prefix = f"{stamp}bert_mixup-s0 {epoch}"
        for step in (1, 2, 3):
            assert any(re.fullmatch(f"{prefix}, step {step}/4, {seconds} elapsed, ETA {seconds}, loss \\d\\.\\d{{4}}",
                                    line) for line in lines), (epoch, step, lines)
        assert any(re.fullmatch(f"{prefix}, step 4/4, done in {seconds}, loss \\d\\.\\d{{4}}", line) for line in lines)
        assert any(re.fullmatch(f"{prefix}: {seconds}, train loss .*examples/s.*", line) for line in lines)
    for split in ("dev", "test"):
        assert any(re.fullmatch(f"{stamp}bert_mixup-s0 {split} scoring \\(16 documents\\), batch 1/2, "
                                f"{seconds} elapsed, ETA {seconds}", line) for line in lines), (split, lines)
    # a warm-up alone (1 epoch) cannot stop early: its count is no cap
    make_warmup(project, tmp_path, "bert")
    assert re.search(r" epoch 1/1, step 1/4, ", non_terminal_log.getvalue())
    # logging only: the run is the same as one that logs nothing
    monkeypatch.setattr(progress_log, "INTERVAL_SECONDS", 3600)
    assert outcome(out) == outcome(run(project, tmp_path, "bert_mixup", name="quiet", max_epochs=2))


def test_prepare_says_its_sizes_labels_and_drops_in_one_line():
    stats = {"dataset": "wordnet", "depth": 3, "num_labels": 131, "splits": {"train": 2003, "dev": 1427, "test": 4813},
             "dropped": {"label_beyond_docs_budget": 14238, "label_too_rare": 7}}
    assert summary(stats) == ("train 2,003, dev 1,427, test 4,813 documents, 131 labels, depth 3; "
                              "dropped 14,238 label beyond docs budget, 7 label too rare")
    assert summary({**stats, "dropped": {}}).endswith("; dropped none")
