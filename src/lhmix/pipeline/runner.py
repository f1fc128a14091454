"""DVC's own pipeline, its stages run N at a time: `make repro JOBS=N` (tools/repro_parallel.py).

DVC runs the stages of `dvc repro` one after another (it has no stage-level parallelism), so on a node
with 8 GPUs seven would idle. This runner takes DVC's graph and lets DVC keep every record:
  1. the stages to consider: those `dvc status` finds changed, and every stage downstream of them;
  2. a stage is ready when every stage it depends on that is still to consider has finished; it is then
     asked again whether it changed (as `dvc repro` asks after running what it depends on: an upstream
     output that came out identical runs nothing below it), and skipped when not;
  3. a changed stage has its outputs removed (as DVC does, `persist` outputs kept) and its command run
     by an executor: a local process pinned to one device (CUDA_VISIBLE_DEVICES), with a set number of
     CPU threads if asked (OMP_NUM_THREADS), or a submitit job (a SLURM cluster, or submitit's local
     executor);
  4. when it succeeds, `dvc commit --force <stage>` records it: hashes in dvc.lock and outputs in DVC's
     cache, exactly what `dvc repro` records. Commits and DVC queries happen in this process only.
One runner per workspace: the runner holds DVC's own repository lock (.dvc/tmp/lock) from start to end, as
`dvc repro` holds it for its whole run, so a second runner refuses to start (WorkspaceBusy) and `dvc repro`,
`dvc commit` or `dvc status` refuse while it runs (DVC's "Unable to acquire lock"); two processes never run
one stage into one folder. Before a stage's outs are removed, lhmix.pipeline.guard checks it as it checks
every stage `dvc repro` runs.
A failing stage, or one DVC cannot record (a command that exits 0 without its out), stops the stages that
depend on it; the others finish; the failures are named at the end (exit status 1) with the tail of each
one's log (.dvc/tmp/parallel/<runner>/<stage>.log, a folder per runner). SIGTERM (SLURM at a job's time
limit) or SIGINT stops every running stage, each local worker's whole process group or each submitit job,
and the runner exits 128 + the signal's number with one line; what they wrote is not committed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lhmix.core.errors import LhmixError
from lhmix.core.logs import logger
from lhmix.pipeline import guard

LOG_DIR = Path(".dvc/tmp/parallel")
POLL_SECONDS = 0.2
STOP_SECONDS = 10   # how long a stopped worker gets to end after SIGTERM, before SIGKILL


@dataclass(frozen=True)
class StageJob:
    name: str              # DVC's address, e.g. train_main@wordnet-0-prompt_lhmix
    commands: tuple[str, ...]
    wdir: str
    log: Path


class Executor(Protocol):
    slots: int

    def start(self, job: StageJob, slot: int): ...

    def poll(self, handle) -> int | None: ...

    def stop(self, handle) -> None: ...


@dataclass
class LocalProcesses:
    """Each job a local shell process. On GPUs, slot i sees device i mod len(devices) alone. `threads`
    sets each worker's CPU threads (OMP_NUM_THREADS); None leaves each at what a sequential `dvc repro`
    uses, since on a CPU another thread count changes the last bits of every result (measured on the tiny
    profile: warm-up weights 1e-6 apart with 1 thread against 2)."""
    slots: int
    devices: list[str] = field(default_factory=list)
    threads: int | None = None

    def environment(self, slot: int) -> dict[str, str]:
        env = dict(os.environ)
        if self.devices:
            env["CUDA_VISIBLE_DEVICES"] = self.devices[slot % len(self.devices)]
        if self.threads is not None:
            env["OMP_NUM_THREADS"] = str(self.threads)
        return env

    def start(self, job: StageJob, slot: int):
        job.log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(job.log, "w", encoding="utf-8")
        # its own process group (session), so that stopping it reaches every process its commands started
        process = subprocess.Popen(["bash", "-c", shell_script(job.commands)], cwd=job.wdir,
                                   env=self.environment(slot), stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        handle.close()
        return process

    def poll(self, handle) -> int | None:
        return handle.poll()

    def stop(self, handle) -> None:
        stop_group(handle)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group `process` leads, SIGKILL to what is left after STOP_SECONDS; reaped."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        try:   # the leader has ended; its group may not have
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    process.poll()


def shell_script(commands: tuple[str, ...]) -> str:
    """A stage's commands as one shell script that stops at the first failing one, as DVC runs them."""
    return " && ".join(f"( {command} )" for command in commands)


def run_commands(commands: tuple[str, ...], wdir: str, log: str) -> int:
    """A stage's commands in one shell, output to `log`: what a submitit job runs (module level, so
    that submitit can pickle it). Returns the exit status."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(["bash", "-c", shell_script(commands)], cwd=wdir, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return process.wait()
    finally:   # cancelled (submitit's local cancel is a SIGINT): the stage's whole process group goes too
        if process.poll() is None:
            stop_group(process)


@dataclass
class Submitit:
    """Each job submitted through submitit: `cluster` 'slurm' on a cluster (a shared filesystem holds the
    repository and DVC's cache), 'local' for submitit's local executor (tests, one machine)."""
    slots: int
    folder: Path
    cluster: str = "slurm"
    parameters: dict = field(default_factory=dict)

    def __post_init__(self):
        import submitit

        self.executor = submitit.AutoExecutor(folder=str(self.folder), cluster=self.cluster)
        if self.parameters:
            self.executor.update_parameters(**self.parameters)

    def start(self, job: StageJob, slot: int):
        return self.executor.submit(run_commands, job.commands, job.wdir, str(job.log))

    def poll(self, handle) -> int | None:
        if not handle.done():
            return None
        try:
            return int(handle.result())
        except Exception as error:  # the job itself failed (killed, out of time): submitit's message
            logger.error(f"submitit job {handle.job_id}: {error}")
            return 1

    def stop(self, handle) -> None:
        handle.cancel(check=False)
        deadline = time.monotonic() + STOP_SECONDS
        while not handle.done() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)


class StageFailed(LhmixError):
    pass


class WorkspaceBusy(LhmixError):
    pass


class Stopped(Exception):
    """SIGTERM or SIGINT reached the runner; `stopped` names the stages it then stopped."""

    def __init__(self, signum: int, stopped: list[str] | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.stopped = signum, stopped or []


class Pipeline:
    """DVC's view of the repository at `root`: the graph, what changed, commits; DVC's lock held while open."""

    def __init__(self, root: Path):
        self.root = root
        self.repo = None
        self._held = None

    def __enter__(self) -> "Pipeline":
        from dvc.lock import LockError
        from dvc.repo import Repo, lock_repo

        self.repo = Repo(str(self.root))
        # held until __exit__: DVC's own commands (repro, commit) take the lock through lock_repo, which only
        # counts when the lock is already held by this Repo, so the runner's commits go through
        self._held = lock_repo(self.repo)
        try:
            self._held.__enter__()
        except LockError:
            self.repo.close()
            raise WorkspaceBusy(f"another runner or DVC process holds this workspace ({self.root / '.dvc/tmp/lock'}); "
                                "wait for it to end (a lock left by a process that is gone can be deleted)") from None
        return self

    def __exit__(self, *exc) -> None:
        self._held.__exit__(*exc)
        self.repo.close()

    def _fresh(self):
        """The repository as it is now: DVC caches its index while the lock is held, and a commit changed it."""
        self.repo._reset()
        return self.repo

    def plan(self, targets: list[str] | None) -> tuple[list[str], dict[str, set[str]]]:
        """(the stages to consider, in a topological order; for each, the stages it depends on among them)."""
        import networkx as nx

        repo = self._fresh()
        graph = repo.index.graph  # edges go from a stage to the stages it depends on
        stages = {stage.addressing: stage for stage in graph if stage.cmd}
        if targets:
            wanted = set()
            for target in targets:
                if target not in stages:
                    raise LhmixError(f"no stage named '{target}' in dvc.yaml (dvc stage list shows them)")
                wanted |= {stages[target], *nx.descendants(graph, stages[target])}
        else:
            wanted = set(stages.values())
        changed = {stage for stage in wanted if not stage.frozen and stage.changed()}
        considered = set(changed)
        for stage in changed:
            considered |= set(nx.ancestors(graph, stage)) & wanted
        order = [stage for stage in reversed(list(nx.topological_sort(graph))) if stage in considered]
        needs = {stage.addressing: {dep.addressing for dep in graph.successors(stage) if dep in considered}
                 for stage in order}
        return [stage.addressing for stage in order], needs

    def job(self, name: str, log_dir: Path) -> StageJob | None:
        """The stage's commands, or None when it is up to date now (after what it depends on ran)."""
        (stage,) = self._fresh().stage.collect(name)
        if not stage.changed():
            return None
        guard.check_stage(stage)
        stage.remove_outs(ignore_remove=False, force=False)
        commands = tuple(stage.cmd if isinstance(stage.cmd, list) else [stage.cmd])
        return StageJob(name, commands, stage.wdir, log_dir / f"{safe(name)}.log")

    def commit(self, name: str) -> str | None:
        """Record the stage; DVC's one-line reason when it cannot (e.g. the command did not write an out)."""
        from dvc.exceptions import DvcException

        try:
            self._fresh().commit(name, force=True)
        except DvcException as error:
            return str(error).splitlines()[0] if str(error) else type(error).__name__
        return None


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)


def run(root: Path, executor: Executor, targets: list[str] | None = None) -> int:
    """Reproduce the pipeline at `root` with `executor`; returns 0, or 1 when a stage failed. On SIGTERM or
    SIGINT, raises Stopped after every running stage was stopped."""
    running: dict[str, tuple[object, int, float, StageJob]] = {}
    signals = StopOnSignal()
    previous = {signum: signal.signal(signum, signals.handler) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Pipeline(root) as pipeline:
            return _run(pipeline, executor, targets, running, signals)
    except Stopped as stopped:
        raise Stopped(stopped.signum, list(running)) from None
    finally:   # a signal, or any other way out (an error of DVC's), leaves no worker running
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        for handle, *_ in running.values():
            executor.stop(handle)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class StopOnSignal:
    """SIGTERM and SIGINT raise Stopped, except while DVC records (a commit, outs removed), which a signal must
    not cut in half: there Stopped is raised when it ends."""

    def __init__(self):
        self.recording, self.pending = False, None

    def handler(self, signum, frame) -> None:
        if self.recording:
            self.pending = signum
        else:
            raise Stopped(signum)

    @contextmanager
    def deferred(self):
        self.recording = True
        try:
            yield
        finally:
            self.recording = False
        if self.pending is not None:
            raise Stopped(self.pending)


def _run(pipeline: Pipeline, executor: Executor, targets: list[str] | None, running: dict,
         signals: StopOnSignal) -> int:
    order, needs = pipeline.plan(targets)
    if not order:
        logger.info("Data and pipelines are up to date.")
        return 0
    logger.info(f"{len(order)} stage(s) to consider, {executor.slots} at a time")
    log_dir = pipeline.root / LOG_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"   # this runner's logs
    done, failed, blocked, skipped = set(), {}, set(), set()
    free_slots = list(range(executor.slots))
    pending = list(order)
    while pending or running:
        for name in [n for n in pending if needs[n] & (set(failed) | blocked)]:
            pending.remove(name)
            blocked.add(name)
            logger.error(f"not run: {name} (depends on a failed stage)")
        for name in [n for n in pending if needs[n] <= done]:
            if not free_slots:
                break
            pending.remove(name)
            with signals.deferred():   # outs removed and the worker started, or neither
                job = pipeline.job(name, log_dir)
                if job is not None:
                    slot = free_slots.pop(0)
                    running[name] = (executor.start(job, slot), slot, time.perf_counter(), job)
            if job is None:
                logger.info(f"up to date after its dependencies: {name}")
                done.add(name)
                skipped.add(name)
                continue
            logger.info(f"running stage '{name}' (slot {slot}; log {job.log})")
        for name, (handle, slot, started, job) in list(running.items()):
            status = executor.poll(handle)
            if status is None:
                continue
            del running[name]
            free_slots.append(slot)
            seconds = time.perf_counter() - started
            with signals.deferred():
                unrecorded = pipeline.commit(name) if status == 0 else None
            if status == 0 and unrecorded is None:
                done.add(name)
                logger.info(f"done: {name} ({seconds:.1f} s)")
                continue
            failed[name] = job.log
            why = (f"its command exited 0, but DVC could not record it: {unrecorded}" if status == 0
                   else f"exit {status}, {seconds:.1f} s")
            logger.error(f"failed: {name} ({why}); log {job.log}")
        if running:
            time.sleep(POLL_SECONDS)
    ran = len(done) - len(skipped)
    logger.info(f"{ran} stage(s) ran, {len(skipped)} up to date after their dependencies, "
                f"{len(failed)} failed, {len(blocked)} not run")
    for name, log in failed.items():
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:] if log.is_file() else []
        print(f"\nstage '{name}' failed; the end of {log}:\n" + "\n".join(tail), file=sys.stderr)
    return 1 if failed else 0
