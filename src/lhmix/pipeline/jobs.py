"""The stages a runner handed to a worker or a scheduler, kept in the workspace, so that a runner started after one
that died without stopping them (SIGKILL, a lost login session, a crash) knows which stages still run.

.dvc/tmp/parallel/jobs.json maps each stage to its job: the executor, the job's id (a local worker's pid, which
leads its process group; a submitit job's id) and what is needed to ask about it again. A record is written
(atomically) when its job starts and removed when the runner has committed it, found it failed, or stopped it.
`Recorded` asks about a recorded job and waits for or stops it without being its parent: a local process by its
pid and start time (pids are reused), submitit's jobs through submitit (sacct on SLURM).
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lhmix.core.errors import MalformedInput
from lhmix.core.files import read_json, write_json
from lhmix.core.logs import logger

RECORDS = Path(".dvc/tmp/parallel/jobs.json")


@dataclass(frozen=True)
class JobRecord:
    stage: str
    executor: str                      # local, submitit-local or slurm
    job_id: str                        # local: the worker's pid; submitit: the job's id (submitit-local: its pid)
    log: str
    started: float                     # when (time.time())
    process_start: int | None = None   # local, submitit-local: the process's start time (/proc/<pid>/stat)
    status_file: str | None = None     # local: where the worker writes its exit status
    folder: str | None = None          # submitit: its job folder

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"{self.executor} job {self.job_id}, started {when}"


class JobRecords:
    """jobs.json of the workspace at `root`."""

    def __init__(self, root: Path):
        self.path = root / RECORDS
        self.records = {}
        for name, entry in (read_json(self.path) if self.path.is_file() else {}).items():
            try:
                self.records[name] = JobRecord(**entry)
            except TypeError:
                raise MalformedInput(self.path, None, f"the record of stage '{name}' is not one this runner writes "
                                                      f"(fields {', '.join(sorted(JobRecord.__dataclass_fields__))})"
                                     ) from None

    def add(self, record: JobRecord) -> None:
        self.records[record.stage] = record
        self._write()

    def remove(self, stage: str) -> None:
        if self.records.pop(stage, None) is not None:
            self._write()

    def _write(self) -> None:
        write_json({name: asdict(record) for name, record in self.records.items()}, self.path)


def process_start(pid: int) -> int | None:
    """The start time of a living process (clock ticks since boot), None when there is none (or a zombie)."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def group_alive(leader: int, started: int | None) -> bool:
    """Whether the process group that `leader` (started at `started`) led still has a process: the leader itself,
    or, the leader gone (killed alone), what its commands started in its group. A process now holding the
    leader's pid with another start time means the group is gone: Linux reuses no pid its groups still use."""
    now = process_start(leader)
    if now is not None:
        return now == started
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and int(fields[2]) == leader:
            return True
    return False


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), None for no process or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields


class Recorded:
    """A recorded job this process did not start: is it running, its exit status once ended, stopping it."""

    def __init__(self, record: JobRecord):
        self.record = record
        self.job = None
        if record.executor != "local":
            import submitit

            job_class = submitit.SlurmJob if record.executor == "slurm" else submitit.LocalJob
            self.job = job_class(folder=record.folder, job_id=record.job_id)

    def running(self) -> bool:
        if self.record.executor == "slurm":
            return not self.job.done(force_check=True)
        if self.record.executor == "local":
            return group_alive(int(self.record.job_id), self.record.process_start)
        return process_start(int(self.record.job_id)) == self.record.process_start

    def status(self) -> int | None:
        """The exit status of an ended job; None when it ended without one (killed)."""
        if self.record.executor == "local":
            status_file = Path(self.record.status_file)
            text = status_file.read_text().strip() if status_file.is_file() else ""
            return int(text) if text.isdigit() else None
        try:
            return int(self.job.result())
        except Exception as error:   # killed, out of time, no result written: submitit's message
            logger.error(f"{self.record.describe()}: {str(error).splitlines()[0] if str(error) else error!r}")
            return None

    def poll(self) -> int | None:
        if self.running():
            return None
        status = self.status()
        return 1 if status is None else status

    def stop(self, seconds: float) -> None:
        """SIGTERM to a local worker's process group (SIGKILL after `seconds`), SIGINT to submitit's local
        controller (what submitit's cancel sends), scancel on SLURM."""
        if self.record.executor == "slurm":
            self.job.cancel(check=False)
            return
        pid = int(self.record.job_id)
        local = self.record.executor == "local"
        for signum in ((signal.SIGTERM, signal.SIGKILL) if local else (signal.SIGINT, signal.SIGKILL)):
            if not self.running():
                return
            try:
                os.killpg(pid, signum) if local else os.kill(pid, signum)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + seconds
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.1)
