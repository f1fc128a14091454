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
A runner left alone: `--dry-run` prints the plan (the stages in order, each one's kind and its device or cluster
resources, lhmix.pipeline.resources) and changes nothing; a timestamped "k of N stages, ETA" line follows every
stage that ends (Progress). Restarts: each started job is recorded (lhmix.pipeline.jobs); a runner that finds a
recorded job still running (its predecessor was killed without stopping it) never removes that stage's outs: it
refuses in one line naming stage and job (on_running 'refuse'), or waits for it and commits it as its own
('wait'); a recorded job that ended meanwhile is committed when it succeeded, and runs again otherwise.
"""
from __future__ import annotations

import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lhmix.core.errors import LhmixError
from lhmix.core.logs import logger
from lhmix.pipeline import guard, jobs, resources

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
    name: str   # local, submitit-local or slurm, as in jobs.JobRecord

    def describe(self, stage: str) -> str: ...

    def start(self, job: StageJob, slot: int): ...

    def record(self, job: StageJob, handle) -> jobs.JobRecord: ...

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
    name = "local"

    def describe(self, stage: str) -> str:
        device = (f"GPU {self.devices[0]}" if len(self.devices) == 1 else
                  f"one of GPUs {','.join(self.devices)} (the free slot's)" if self.devices else "CPU")
        threads = f", {self.threads} CPU threads" if self.threads is not None else ""
        return f"{resources.kind_of(stage)}-kind stage; {device}{threads}"

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
        # its exit status also goes to a file, for a runner started after this one died (jobs.Recorded)
        script = (f"{shell_script(job.commands)}\nstatus=$?\n"
                  f"echo $status > {shlex.quote(str(status_file(job)))}\nexit $status")
        process = subprocess.Popen(["bash", "-c", script], cwd=job.wdir,
                                   env=self.environment(slot), stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        handle.close()
        return process

    def record(self, job: StageJob, handle) -> jobs.JobRecord:
        return jobs.JobRecord(job.name, self.name, str(handle.pid), str(job.log), time.time(),
                              process_start=jobs.process_start(handle.pid), status_file=str(status_file(job)))

    def poll(self, handle) -> int | None:
        return handle.poll()

    def stop(self, handle) -> None:
        stop_group(handle)


def status_file(job: StageJob) -> Path:
    return job.log.with_suffix(".exit")


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
    repository and DVC's cache), 'local' for submitit's local executor (tests, one machine). Each stage asks for
    its kind's resources (lhmix.pipeline.resources), `overrides` (kind or '', key, value) applied."""
    slots: int
    folder: Path
    cluster: str = "slurm"
    overrides: list = field(default_factory=list)

    def __post_init__(self):
        self.name = "slurm" if self.cluster == "slurm" else "submitit-local"
        self.executors = {}   # kind -> submitit's executor, made at its first job (it makes the folder)

    def executor(self, kind: str):
        if kind not in self.executors:
            import submitit

            executor = submitit.AutoExecutor(folder=str(self.folder), cluster=self.cluster)
            try:
                executor.update_parameters(**resources.resources(kind, self.overrides))
            except (NameError, AssertionError) as error:   # submitit's for an unknown key, a value of a wrong type
                raise LhmixError(f"--slurm: submitit refuses the {kind} stages' parameters: "
                                 f"{str(error).splitlines()[0]}") from None
            self.executors[kind] = executor
        return self.executors[kind]

    def prepare(self) -> None:
        """Every kind's executor made now, so that a parameter submitit refuses stops the runner before it starts."""
        for kind in resources.RESOURCES:
            self.executor(kind)

    def describe(self, stage: str) -> str:
        kind = resources.kind_of(stage)
        asked = " ".join(f"{key}={value}" for key, value in sorted(resources.resources(kind, self.overrides).items()))
        return f"{kind}-kind stage; {self.name}: {asked}"

    def start(self, job: StageJob, slot: int):
        executor = self.executor(resources.kind_of(job.name))
        executor.update_parameters(name=f"lhmix:{job.name}")
        return executor.submit(run_commands, job.commands, job.wdir, str(job.log))

    def record(self, job: StageJob, handle) -> jobs.JobRecord:
        started = jobs.process_start(int(handle.job_id)) if self.name == "submitit-local" else None
        return jobs.JobRecord(job.name, self.name, str(handle.job_id), str(job.log), time.time(),
                              process_start=started, folder=str(self.folder.resolve()))

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


def run(root: Path, executor: Executor, targets: list[str] | None = None, on_running: str = "refuse") -> int:
    """Reproduce the pipeline at `root` with `executor`; returns 0, or 1 when a stage failed. A job a killed
    runner left running is waited for (`on_running` 'wait') or refused ('refuse': StillRunning). On SIGTERM or
    SIGINT, raises Stopped after every running stage was stopped."""
    running: dict[str, Running] = {}
    signals = StopOnSignal()
    previous = {signum: signal.signal(signum, signals.handler) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Pipeline(root) as pipeline:
            records = jobs.JobRecords(root)
            try:
                return _run(pipeline, executor, targets, running, signals, on_running, records)
            finally:   # a signal, or any other way out (an error of DVC's), leaves no worker running
                for signum in previous:
                    signal.signal(signum, signal.SIG_IGN)
                for name, entry in running.items():
                    entry.owner.stop(entry.handle)
                    records.remove(name)
    except Stopped as stopped:
        raise Stopped(stopped.signum, list(running)) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def dry_run(root: Path, executor: Executor, targets: list[str] | None = None) -> int:
    """Print the plan (the stages to consider in order, each one's kind and device or resources, and the recorded
    jobs of an earlier runner) and change nothing."""
    with Pipeline(root) as pipeline:
        order, _ = pipeline.plan(targets)
        recorded = {name: jobs.Recorded(record) for name, record in jobs.JobRecords(root).records.items()}
    print(f"plan: {len(order)} stage(s) to consider, in this order, {executor.slots} at a time ({executor.name})")
    width = max((len(name) for name in order), default=0)
    for number, name in enumerate(order, 1):
        print(f"{number:4d}. {name:<{width}}  {executor.describe(name)}")
    for name, job in recorded.items():
        print(f"recorded by an earlier runner: {name}, {job.record.describe()}, "
              f"{'still running' if job.running() else 'ended'}")
    if order:
        print("a stage below a changed one is asked again when its turn comes, and skipped if its inputs came out "
              "identical; nothing was run, removed or recorded")
    return 0


class StillRunning(LhmixError):
    pass


@dataclass
class Running:
    handle: object
    owner: object      # what polls and stops it: the executor that started it, or ADOPTED
    slot: int | None
    started: float     # time.time()
    log: Path


class Adopted:
    """The owner of the jobs.Recorded jobs of an earlier runner that this one waits for."""

    def poll(self, handle: jobs.Recorded) -> int | None:
        return handle.poll()

    def stop(self, handle: jobs.Recorded) -> None:
        handle.stop(STOP_SECONDS)


ADOPTED = Adopted()


def settle_recorded(pipeline: Pipeline, records: jobs.JobRecords, on_running: str) -> dict[str, jobs.Recorded]:
    """The recorded jobs still running, to wait for; refused (StillRunning, nothing changed) unless `on_running` is
    'wait'. Each recorded job that ended while no runner watched is committed when it succeeded; its record goes."""
    found = {name: jobs.Recorded(record) for name, record in records.records.items()}
    still = {name: job for name, job in found.items() if job.running()}
    if still and on_running != "wait":
        named = "; ".join(f"stage '{name}' is still running as {job.record.describe()}" for name, job in still.items())
        raise StillRunning(f"{named}: its outputs are kept; wait for it with --on-running wait, or cancel it "
                           "and start again")
    for name, job in found.items():
        if name in still:
            logger.info(f"waiting for {name}, still running as {job.record.describe()} (log {job.record.log})")
            continue
        status = job.status()
        unrecorded = pipeline.commit(name) if status == 0 else None
        if status == 0 and unrecorded is None:
            logger.info(f"done while no runner watched: {name} ({job.record.describe()}); committed")
        else:
            why = (f"DVC could not record it: {unrecorded}" if status == 0 else
                   f"exit {status}" if status is not None else "no exit status")
            logger.warning(f"ended while no runner watched: {name} ({job.record.describe()}, {why}); "
                           "run again if it changed")
        records.remove(name)
    return still


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


def _run(pipeline: Pipeline, executor: Executor, targets: list[str] | None, running: dict[str, Running],
         signals: StopOnSignal, on_running: str, records: jobs.JobRecords) -> int:
    adopted = settle_recorded(pipeline, records, on_running)
    order, needs = pipeline.plan(targets)
    for name in adopted:   # waited for even when the targets do not reach it: it writes into this workspace
        if name not in needs:
            order.append(name)
            needs[name] = set()
    if not order:
        logger.info("Data and pipelines are up to date.")
        return 0
    logger.info(f"{len(order)} stage(s) to consider, {executor.slots} at a time")
    log_dir = pipeline.root / LOG_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"   # this runner's logs
    done, failed, blocked, skipped = set(), {}, set(), set()
    free_slots = list(range(executor.slots))
    for name, job in adopted.items():
        running[name] = Running(job, ADOPTED, free_slots.pop(0) if free_slots else None, job.record.started,
                                Path(job.record.log))
    pending = [name for name in order if name not in adopted]
    progress = Progress(order, executor.slots)
    while pending or running:
        settled = False
        for name, entry in list(running.items()):
            status = entry.owner.poll(entry.handle)
            if status is None:
                continue
            del running[name]
            if entry.slot is not None:
                free_slots.append(entry.slot)
            seconds = time.time() - entry.started
            with signals.deferred():
                unrecorded = pipeline.commit(name) if status == 0 else None
                records.remove(name)
            settled = True
            if status == 0 and unrecorded is None:
                done.add(name)
                progress.ran(name, seconds)
                logger.info(f"done: {name} ({seconds:.1f} s)")
                continue
            failed[name] = entry.log
            why = (f"its command exited 0, but DVC could not record it: {unrecorded}" if status == 0
                   else f"exit {status}, {seconds:.1f} s")
            logger.error(f"failed: {name} ({why}); log {entry.log}")
        for name in [n for n in pending if needs[n] & (set(failed) | blocked)]:
            pending.remove(name)
            blocked.add(name)
            logger.error(f"not run: {name} (depends on a failed stage)")
            settled = True
        for name in [n for n in pending if needs[n] <= done]:
            if not free_slots:
                break
            pending.remove(name)
            with signals.deferred():   # outs removed, the worker started and recorded, or none of these
                job = pipeline.job(name, log_dir)
                if job is not None:
                    slot = free_slots.pop(0)
                    handle = executor.start(job, slot)
                    running[name] = Running(handle, executor, slot, time.time(), job.log)
                    records.add(executor.record(job, handle))
            if job is None:
                logger.info(f"up to date after its dependencies: {name}")
                done.add(name)
                skipped.add(name)
                settled = True
                continue
            logger.info(f"running stage '{name}' ({executor.describe(name)}; slot {slot}; log {job.log})")
        if settled:
            logger.info(progress.line(done | set(failed) | blocked, len(failed) + len(blocked),
                                      {name: time.time() - entry.started for name, entry in running.items()}))
        if running:
            time.sleep(POLL_SECONDS)
    ran = len(done) - len(skipped)
    logger.info(f"{ran} stage(s) ran, {len(skipped)} up to date after their dependencies, "
                f"{len(failed)} failed, {len(blocked)} not run")
    for name, log in failed.items():
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:] if log.is_file() else []
        print(f"\nstage '{name}' failed; the end of {log}:\n" + "\n".join(tail), file=sys.stderr)
    return 1 if failed else 0


class Progress:
    """The "k of N stages, ETA" line the runner logs whenever stages end (the estimate: eta)."""

    def __init__(self, order: list[str], workers: int):
        self.kinds = {name: resources.kind_of(name) for name in order}
        self.workers = workers
        self.durations: dict[str, list[float]] = {}   # kind -> seconds of each stage of that kind that ran

    def ran(self, name: str, seconds: float) -> None:
        self.durations.setdefault(self.kinds[name], []).append(seconds)

    def line(self, ended: set[str], unsuccessful: int, running: dict[str, float]) -> str:
        """`ended`: the stages that ended (`unsuccessful` of them failed or not run); `running`: each running
        stage's seconds so far."""
        remaining = [(kind, running.get(name, 0.0)) for name, kind in self.kinds.items() if name not in ended]
        failed = f" ({unsuccessful} failed or not run)" if unsuccessful else ""
        head = f"{len(ended)} of {len(self.kinds)} stages{failed}, {len(running)} running"
        if not remaining:
            return head
        seconds, basis = eta(self.durations, remaining, self.workers)
        if seconds is None:
            return f"{head}; ETA unknown until a stage has run"
        finish = time.strftime("%H:%M", time.localtime(time.time() + seconds))
        return f"{head}; ETA {clock(seconds)}, at {finish} ({basis})"


def eta(durations: dict[str, list[float]], remaining: list[tuple[str, float]],
        workers: int) -> tuple[float | None, str]:
    """Seconds until the `remaining` stages ((kind, seconds it has run so far) each) end, and how they were
    estimated; None when no stage has run. Each is expected to take the median time of the stages of its kind
    that ran, or of all stages that ran when none of its kind did; what is left of those times (never below 0),
    summed, is shared by min(workers, stages remaining) workers. Dependencies are not modelled: a chain that
    keeps workers idle ends later."""
    everything = [seconds for kind in durations for seconds in durations[kind]]
    if not everything:
        return None, ""
    left, basis = 0.0, []
    for kind in sorted({kind for kind, _ in remaining}):
        own = durations.get(kind, [])
        typical = statistics.median(own or everything)
        basis.append(f"{kind}: median {clock(typical)} of {len(own)} {kind} stage(s)" if own else
                     f"{kind}: median {clock(typical)} of all {len(everything)} stage(s) that ran")
        left += sum(max(typical - ran, 0.0) for of, ran in remaining if of == kind)
    return left / min(workers, len(remaining)), "; ".join(basis) + f"; over {min(workers, len(remaining))} worker(s)"


def clock(seconds: float) -> str:
    """1h02m, 3m05s, 12s."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
