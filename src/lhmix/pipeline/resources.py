"""What each stage of dvc.yaml asks a cluster for: its kind, read from its name, and the kind's resources.

Reporting and data stages (check, prepare, similarity, augment*, stats, plots, report) run on CPUs with a short
limit; training stages on one GPU with the long limit. The resources are submitit's generic parameters, which
submitit turns into SLURM's (gpus_per_node -> --gpus-per-node, timeout_min -> --time, mem_gb -> --mem); a
`--slurm KEY=VALUE` of tools/repro_parallel.py overrides KEY for every kind, `--slurm gpu.KEY=VALUE` for one.
"""
from __future__ import annotations

from lhmix.core.errors import LhmixError

# A stage's kind: the first prefix its name (the part before '@') starts with. One table, read by the runner, its
# dry run and the README.
STAGE_KINDS: tuple[tuple[str, str], ...] = (
    ("check", "cpu"), ("prepare", "cpu"), ("similarity", "cpu"), ("augment", "cpu"), ("stats", "cpu"),
    ("plots", "cpu"), ("report", "cpu"),
    ("warmup", "gpu"), ("train_", "gpu"), ("control_", "gpu"), ("spread_", "gpu"), ("hpt", "gpu"),
    ("sweep_", "gpu"), ("sparse_", "gpu"), ("table6_", "gpu"), ("eda_train", "gpu"), ("bt_train", "gpu"),
)
# a stage the table does not name gets a GPU and the long limit: too much, never too little
UNNAMED_KIND = "gpu"

RESOURCES: dict[str, dict[str, object]] = {
    "cpu": {"gpus_per_node": 0, "cpus_per_task": 8, "mem_gb": 32, "timeout_min": 120},
    "gpu": {"gpus_per_node": 1, "cpus_per_task": 8, "mem_gb": 64, "timeout_min": 720},
}


def kind_of(stage: str) -> str:
    """'cpu' or 'gpu' for DVC's address of a stage, e.g. train_lhmix@wos-prompt-0 -> gpu."""
    return named_kind(stage) or UNNAMED_KIND


def named_kind(stage: str) -> str | None:
    """The kind STAGE_KINDS gives the stage, None when no prefix matches."""
    base = stage.split("@", 1)[0]
    return next((kind for prefix, kind in STAGE_KINDS if base.startswith(prefix)), None)


def override(text: str) -> tuple[str, str, object]:
    """`--slurm` text as (kind or '' for every kind, key, value): 'timeout_min=60' or 'cpu.timeout_min=60'.
    A whole number becomes an int, as submitit's parameters expect."""
    key, sep, value = text.partition("=")
    kind, dot, name = key.rpartition(".")
    if not sep or not name or (dot and kind not in RESOURCES):
        raise LhmixError(f"--slurm '{text}': expected KEY=VALUE or KIND.KEY=VALUE with KIND one of "
                         f"{', '.join(RESOURCES)}, e.g. slurm_partition=gpu or cpu.timeout_min=60")
    return kind, name, int(value) if value.isdigit() else value


def resources(kind: str, overrides: list[tuple[str, str, object]]) -> dict[str, object]:
    """The submitit parameters of a stage of `kind`: RESOURCES, then the overrides for every kind, then its own."""
    chosen = dict(RESOURCES[kind])
    for wanted in ("", kind):
        chosen.update({name: value for of, name, value in overrides if of == wanted})
    return chosen
