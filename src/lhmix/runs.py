"""Where each training run of the pipeline writes, derived from params.yaml exactly as dvc.yaml does.

Stats and plots read only the runs that the params name: files of an earlier, larger grid are never picked up.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lhmix.errors import LhmixError


def variant_name(family: str, mixing: str) -> str:
    """bert + none -> bert, prompt + lhmix -> prompt_lhmix."""
    return family if mixing == "none" else f"{family}_{mixing}"


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    path: Path
    alpha: float | None = None
    beta: float | None = None
    fraction: float | None = None


def main_runs(params: dict, dataset: str, root: Path = Path("runs")) -> list[Run]:
    """Every variant x seed of the `train` and `lhmix` stages."""
    runs = []
    for family in params["families"]:
        for mixing in [*params["mixings"], "lhmix"]:
            for seed in params["seeds"]:
                lhmix = mixing == "lhmix"
                runs.append(Run(variant_name(family, mixing), int(seed),
                                root / dataset / "main" / f"{family}-{mixing}-s{seed}",
                                alpha=float(params["alpha"]) if lhmix else None,
                                beta=float(params["beta"]) if lhmix else None))
    return runs


def sweep_runs(params: dict, dataset: str, root: Path = Path("runs")) -> dict[str, list[Run]]:
    """prompt_lhmix over the alpha grid (beta = 1) and the beta grid (alpha = 1)."""
    seed, folder = int(params["sweeps"]["seed"]), root / dataset / "sweep"
    return {
        "alpha": [Run("prompt_lhmix", seed, folder / f"alpha-{a}", alpha=float(a), beta=1.0)
                  for a in params["sweeps"]["alpha"]],
        "beta": [Run("prompt_lhmix", seed, folder / f"beta-{b}", alpha=1.0, beta=float(b))
                 for b in params["sweeps"]["beta"]],
    }


def sparse_runs(params: dict, dataset: str, root: Path = Path("runs")) -> list[Run]:
    """prompt, prompt_mixup and prompt_lhmix on fractions of the training set."""
    seed, folder = int(params["sweeps"]["seed"]), root / dataset / "sparse"
    return [Run(variant_name("prompt", mixing), seed, folder / f"f{fraction}-prompt-{mixing}",
                fraction=float(fraction))
            for fraction in params["sweeps"]["sparse"]
            for mixing in [*params["mixings"], "lhmix"]]


def read_metrics(run: Run) -> dict:
    path = run.path / "metrics.json"
    if not path.is_file():
        raise LhmixError(f"{path}: missing; run `dvc repro` so that every run named in params.yaml exists")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
