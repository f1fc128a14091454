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
     cache, exactly what `dvc repro` records. Commits and DVC queries happen in this process only, one at
     a time, under DVC's own lock.
A failing stage stops the stages that depend on it; the others finish; the failures are named at the
end (exit status 1) with the tail of each one's log (.dvc/tmp/parallel/<stage>.log).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lhmix.core.errors import LhmixError
from lhmix.core.logs import logger

LOG_DIR = Path(".dvc/tmp/parallel")
POLL_SECONDS = 0.2


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
        process = subprocess.Popen(["bash", "-c", shell_script(job.commands)], cwd=job.wdir,
                                   env=self.environment(slot), stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        return process

    def poll(self, handle) -> int | None:
        return handle.poll()


def shell_script(commands: tuple[str, ...]) -> str:
    """A stage's commands as one shell script that stops at the first failing one, as DVC runs them."""
    return " && ".join(f"( {command} )" for command in commands)


def run_commands(commands: tuple[str, ...], wdir: str, log: str) -> int:
    """A stage's commands in one shell, output to `log`: what a submitit job runs (module level, so
    that submitit can pickle it). Returns the exit status."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle:
        return subprocess.run(["bash", "-c", shell_script(commands)], cwd=wdir, stdout=handle,
                              stderr=subprocess.STDOUT).returncode


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


class StageFailed(LhmixError):
    pass


class Pipeline:
    """DVC's view of the repository at `root`: the graph, what changed, commits."""

    def __init__(self, root: Path):
        self.root = root

    def _repo(self):
        from dvc.repo import Repo
        return Repo(str(self.root))

    def plan(self, targets: list[str] | None) -> tuple[list[str], dict[str, set[str]]]:
        """(the stages to consider, in a topological order; for each, the stages it depends on among them)."""
        import networkx as nx

        with self._repo() as repo:
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
            with repo.lock:
                changed = {stage for stage in wanted if not stage.frozen and stage.changed()}
            considered = set(changed)
            for stage in changed:
                considered |= set(nx.ancestors(graph, stage)) & wanted
            order = [stage for stage in reversed(list(nx.topological_sort(graph))) if stage in considered]
            needs = {stage.addressing: {dep.addressing for dep in graph.successors(stage) if dep in considered}
                     for stage in order}
            return [stage.addressing for stage in order], needs

    def job(self, name: str) -> StageJob | None:
        """The stage's commands, or None when it is up to date now (after what it depends on ran)."""
        with self._repo() as repo, repo.lock:
            (stage,) = repo.stage.collect(name)
            if not stage.changed():
                return None
            stage.remove_outs(ignore_remove=False, force=False)
            commands = tuple(stage.cmd if isinstance(stage.cmd, list) else [stage.cmd])
            return StageJob(name, commands, stage.wdir, self.root / LOG_DIR / f"{safe(name)}.log")

    def commit(self, name: str) -> None:
        with self._repo() as repo:
            repo.commit(name, force=True)


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)


def run(root: Path, executor: Executor, targets: list[str] | None = None) -> int:
    """Reproduce the pipeline at `root` with `executor`; returns 0, or 1 when a stage failed."""
    pipeline = Pipeline(root)
    order, needs = pipeline.plan(targets)
    if not order:
        logger.info("Data and pipelines are up to date.")
        return 0
    logger.info(f"{len(order)} stage(s) to consider, {executor.slots} at a time")
    done, failed, blocked, skipped = set(), {}, set(), set()
    running: dict[str, tuple[object, int, float, StageJob]] = {}
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
            job = pipeline.job(name)
            if job is None:
                logger.info(f"up to date after its dependencies: {name}")
                done.add(name)
                skipped.add(name)
                continue
            slot = free_slots.pop(0)
            logger.info(f"running stage '{name}' (slot {slot}; log {job.log})")
            running[name] = (executor.start(job, slot), slot, time.perf_counter(), job)
        for name, (handle, slot, started, job) in list(running.items()):
            status = executor.poll(handle)
            if status is None:
                continue
            del running[name]
            free_slots.append(slot)
            seconds = time.perf_counter() - started
            if status == 0:
                pipeline.commit(name)
                done.add(name)
                logger.info(f"done: {name} ({seconds:.1f} s)")
            else:
                failed[name] = job.log
                logger.error(f"failed: {name} (exit {status}, {seconds:.1f} s); log {job.log}")
        if running:
            time.sleep(POLL_SECONDS)
    ran = len(done) - len(skipped)
    logger.info(f"{ran} stage(s) ran, {len(skipped)} up to date after their dependencies, "
                f"{len(failed)} failed, {len(blocked)} not run")
    for name, log in failed.items():
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:] if log.is_file() else []
        print(f"\nstage '{name}' failed; the end of {log}:\n" + "\n".join(tail), file=sys.stderr)
    return 1 if failed else 0
