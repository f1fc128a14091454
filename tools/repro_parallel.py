"""Reproduce DVC's pipeline with N stages at a time (`make repro JOBS=N`): lhmix.pipeline.runner.

Local workers are pinned one to a GPU (round robin over --devices). On a CPU, each worker keeps the
threads a sequential `dvc repro` uses, so that every output is bit for bit the same; --threads T gives
each T instead (faster with N x T <= cores, but another thread count changes the last bits of results). With --executor slurm each stage is a SLURM job through submitit, the repository and DVC's
cache on a shared filesystem (docs/paper-scale.md); --executor submitit-local runs the same path on this
machine. Afterwards `dvc status` is clean, as after `dvc repro`.

Each submitit job asks for its stage kind's resources (lhmix.pipeline.resources): reporting and data stages
(check, prepare, similarity, augment*, stats, plots, report) gpus_per_node=0 cpus_per_task=8 mem_gb=32
timeout_min=120; training stages gpus_per_node=1 cpus_per_task=8 mem_gb=64 timeout_min=720. --slurm KEY=VALUE
overrides KEY for both kinds, --slurm cpu.KEY=VALUE or gpu.KEY=VALUE for one. --dry-run prints the plan
with each stage's kind and device or resources. A stage still running as the job of a runner that was killed
(SIGKILL, a lost session) keeps its outputs: the next runner refuses, naming it, or with --on-running wait
waits for it and commits it.
"""
import argparse
import os
import sys
from pathlib import Path

from lhmix.core.logs import configure_console
from lhmix.pipeline import resources, runner


def devices(value: str | None) -> list[str]:
    if value is not None:
        return [d for d in value.split(",") if d]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d]
    import torch
    return [str(i) for i in range(torch.cuda.device_count())]


def slurm_parameter(text: str) -> tuple[str, str, object]:
    try:
        return resources.override(text)
    except resources.LhmixError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("targets", nargs="*", help="stages to reproduce with what they depend on (default: all)")
    arguments.add_argument("--jobs", "-j", type=int, default=os.cpu_count(), help="stages at a time")
    arguments.add_argument("--devices", help="GPU ids for the local workers, e.g. 0,1,2,3 (default: every "
                                             "visible GPU; none: CPU threads shared out)")
    arguments.add_argument("--threads", type=int, help="CPU threads per local worker (OMP_NUM_THREADS); "
                                                        "default: as sequential, for identical results")
    arguments.add_argument("--executor", choices=("local", "submitit-local", "slurm"), default="local")
    arguments.add_argument("--submitit-folder", type=Path, default=Path(".dvc/tmp/submitit"),
                           help="submitit's job files (on the shared filesystem for slurm)")
    arguments.add_argument("--slurm", type=slurm_parameter, action="append", default=[], metavar="KEY=VALUE",
                           help="submitit parameter for every stage, or with cpu. / gpu. for one kind, repeatable: "
                                "gpu.slurm_partition=gpu, cpu.slurm_partition=cpu, gpu.timeout_min=1440 "
                                "(defaults above)")
    arguments.add_argument("--dry-run", action="store_true", help="print the plan, run and change nothing")
    arguments.add_argument("--on-running", choices=("refuse", "wait"), default="refuse",
                           help="a stage still running as the job of a killed runner: refuse to start, naming it "
                                "(default), or wait for it and commit it")
    options = arguments.parse_args(argv)
    if options.jobs < 1:
        arguments.error(f"--jobs {options.jobs}: expected a whole number >= 1")
    if options.threads is not None and options.threads < 1:
        arguments.error(f"--threads {options.threads}: expected a whole number >= 1")
    configure_console()
    # stage commands call `python`: this one's
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if options.executor == "local":
        executor = runner.LocalProcesses(options.jobs, devices(options.devices), options.threads)
    else:
        executor = runner.Submitit(options.jobs, options.submitit_folder,
                                   "local" if options.executor == "submitit-local" else "slurm", options.slurm)
    try:
        if options.dry_run:
            return runner.dry_run(Path.cwd(), executor, options.targets or None)
        if isinstance(executor, runner.Submitit):
            executor.prepare()
        return runner.run(Path.cwd(), executor, options.targets or None, options.on_running)
    except runner.LhmixError as error:
        print(f"repro_parallel: {error}", file=sys.stderr)
        return 1
    except runner.Stopped as stopped:
        print(f"repro_parallel: stopped by {stopped}; stopped {len(stopped.stopped)} running stage(s) "
              f"({', '.join(stopped.stopped) or 'none'}), whose outputs are not committed", file=sys.stderr)
        return 128 + stopped.signum


if __name__ == "__main__":
    sys.exit(main())
