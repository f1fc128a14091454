"""The pipeline's shape from params.yaml: which runs exist and where each writes, as dvc.yaml has it.

params.yaml is read as DVC reads it (lhmix.core.params) and folder names are `str()` of those values,
as DVC interpolates them, so the runs named here are exactly the folders DVC's stages write.

`check` holds the params that shape the pipeline against each other before any stage runs (stage
`check`): a shape that cannot run fails in one line naming the params that disagree, instead of
DVC's "No such file" halfway through.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lhmix.core.errors import LhmixError, MalformedInput, ParamError, RawDataMissing
from lhmix.core.files import read_json
from lhmix.core.params import Params, check_integer, check_number
from lhmix.core.ratios import check_fixed_ratio
from lhmix.core.vocabulary import (CONTROL_FAMILY, CONTROLS, DATASETS, FAMILIES, GRAPHS, MIXINGS, SIMILARITY_MIXINGS,
                                   check_choice, variant_name)
# Where the pipeline's files lie, as dvc.yaml spells them for DVC (tests/test_paths_contract.py holds the two
# together). Stage scripts get their paths on the command line; these are for the readers of the pipeline's
# files (the runs below, stats, tools).
RUNS = Path("runs")
RAW = Path("data/raw")
PROCESSED = Path("data/processed")
SIMILARITY = Path("data/similarity")


def processed_folder(dataset: str) -> Path:
    """data/processed/<dataset>: a prepared dataset, or its augmented copy <dataset>_<augmentation>."""
    return PROCESSED / dataset


def similarity_table(dataset: str) -> Path:
    return SIMILARITY / f"{dataset}.pt"


# HPT's graph encoders but none, which Table 6 takes from the main runs
TABLE6_GRAPHS = tuple(graph for graph in GRAPHS if graph != "none")
TABLE6_MIXINGS = ("none", "lhmix")
HPT_GRAPH = "gat"   # HPT = the prompt with its graph attention hierarchy injection


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    path: Path
    alpha: float | None = None
    beta: float | None = None
    fraction: float | None = None
    graph: str | None = None


@dataclass(frozen=True)
class Plan:
    datasets: list[str]
    seeds: list[int]
    families: list[str]
    alpha: float
    beta: float
    sweep_seed: int
    sweep_alphas: list
    sweep_betas: list
    sparse_fractions: list
    augment_seeds: list[int]           # Table 7: prompt on the EDA-augmented training set
    back_translation_seeds: list[int]  # and on the back-translated one ([] unless models are named)
    back_translation_models: list | None
    table6_graphs: list[str]
    table6_seeds: list[int]
    figure6_seed: int
    spread_alpha: float   # the second mechanism regime (lhmix.core.vocabulary.REGIMES): LH-Mix and its controls
    spread_beta: float
    spread_fixed_lambda: float

    @classmethod
    def from_params(cls, params: Params) -> "Plan":
        """The shape, each value checked on its own (types, ranges) and against the others."""
        def dataset(name, value):
            return check_choice(name, value, DATASETS)

        def family(name, value):
            return check_choice(name, value, FAMILIES)

        def graph(name, value):
            return check_choice(name, value, TABLE6_GRAPHS, "graph none is the main runs")

        seed = check_seed

        plan = cls(datasets=params.items("datasets", dataset),
                   seeds=params.items("seeds", seed),
                   families=params.items("families", family),
                   alpha=check_number("alpha", params.get("alpha"), 0, strict_minimum=True),
                   beta=_beta("beta", params.get("beta")),
                   sweep_seed=check_seed("sweeps.seed", params.get("sweeps.seed")),
                   # the sweeps, sparse-data runs and Table 6 may be left out (the default leaves them to
                   # the profile default-full); the verdicts need the seeds and families
                   sweep_alphas=params.items("sweeps.alpha",
                                             lambda name, value: _grid_point(name, value, 0, strict=True), True),
                   sweep_betas=params.items("sweeps.beta", _beta_point, True),
                   sparse_fractions=params.items("sweeps.sparse", _fraction, True),
                   augment_seeds=_seed_list(params, "augment.seeds"),
                   back_translation_seeds=_seed_list(params, "augment.back_translation.seeds"),
                   back_translation_models=params.get("augment.back_translation.models"),
                   table6_graphs=params.items("table6.graphs", graph, True),
                   table6_seeds=params.items("table6.seeds", seed),
                   figure6_seed=seed("figure6.seed", params.get("figure6.seed")),
                   spread_alpha=check_number("spread.alpha", params.get("spread.alpha"), 0, strict_minimum=True),
                   spread_beta=_beta("spread.beta", params.get("spread.beta")),
                   spread_fixed_lambda=check_fixed_ratio(params.get("spread.fixed_lambda"), "spread.fixed_lambda"))
        plan._check_together()
        return plan

    def _check_together(self) -> None:
        for name, values in (("datasets", self.datasets), ("seeds", self.seeds), ("families", self.families),
                             ("sweeps.alpha", self.sweep_alphas), ("sweeps.beta", self.sweep_betas),
                             ("sweeps.sparse", self.sparse_fractions), ("augment.seeds", self.augment_seeds),
                             ("augment.back_translation.seeds", self.back_translation_seeds),
                             ("table6.graphs", self.table6_graphs), ("table6.seeds", self.table6_seeds)):
            _check_distinct(name, values)
        if "prompt" not in self.families:
            raise LhmixError(f"params: families = {self.families} has no 'prompt', but the sweeps and the "
                             "sparse-data runs (sweeps.*) train the prompt family; add prompt to families")
        if self.sweep_seed not in self.seeds:
            raise LhmixError(f"params: sweeps.seed = {self.sweep_seed} is not among seeds = {self.seeds}; "
                             "the sweeps continue that seed's prompt warm-up, which only seeds get")
        for name, values in (("augment.seeds", self.augment_seeds),
                             ("augment.back_translation.seeds", self.back_translation_seeds)):
            if not set(values) <= set(self.seeds):
                raise LhmixError(f"params: {name} = {values} is not a subset of seeds = {self.seeds}; each "
                                 "augmented run is compared with the prompt run of its seed (Table 7)")
        if self.back_translation_seeds and self.back_translation_models is None:
            raise LhmixError(f"params: augment.back_translation.seeds = {self.back_translation_seeds} asks for "
                             "back-translation runs, but augment.back_translation.models is null; name the "
                             "[forward, backward] translation models, or set the seeds to []")
        others = [seed for seed in self.table6_seeds if seed not in self.seeds]
        if others:
            raise LhmixError(f"params: table6.seeds = {self.table6_seeds} has {others} not among seeds = "
                             f"{self.seeds}; Table 6's graph-none row is the main prompt runs of those seeds")
        if any(float(b) == 1 for b in self.sweep_betas) and any(float(a) == 1 for a in self.sweep_alphas):
            raise LhmixError(f"params: sweeps.beta = {self.sweep_betas} lists beta = 1, which at alpha = 1 is the "
                             "alpha sweep's point alpha = 1 (trained once, shown in both sweeps); remove 1 from "
                             "sweeps.beta")
        if self.figure6_seed not in self.seeds:
            raise LhmixError(f"params: figure6.seed = {self.figure6_seed} is not among seeds = {self.seeds}; "
                             "Figure 6 reads the label words of that seed's main prompt_lhmix run")

    def _ratio(self, mixing: str) -> dict:
        """alpha and beta of a run of `mixing`: params.yaml's for the mixings that read them, else None."""
        similarity = mixing in SIMILARITY_MIXINGS
        return {"alpha": self.alpha if similarity else None, "beta": self.beta if similarity else None}

    def main_runs(self, dataset: str, root: Path = RUNS) -> list[Run]:
        """Every variant x seed of the train_none, train_mixup and train_lhmix stages, and of the controls
        of LH-Mix (stages control_shuffled and control_fixed; prompt family)."""
        mixings = [(family, mixing) for family in self.families for mixing in MIXINGS]
        if CONTROL_FAMILY in self.families:
            mixings += [(CONTROL_FAMILY, control) for control in CONTROLS]
        runs = []
        for family, mixing in mixings:
            variant = variant_name(family, mixing)
            runs += [Run(variant, seed, root / dataset / "main" / f"{variant}-s{seed}", **self._ratio(mixing))
                     for seed in self.seeds]
        return runs

    def warmup_runs(self, dataset: str, root: Path = RUNS) -> list[Run]:
        """The warm-ups of the main runs (one per family and seed) and of the sparse runs."""
        runs = [Run(family, seed, root / dataset / "warmup" / f"{family}-s{seed}")
                for family in self.families for seed in self.seeds]
        return runs + [Run("prompt", self.sweep_seed, root / dataset / "sparse" / f"f{fraction}" / "warmup",
                           fraction=float(fraction)) for fraction in self.sparse_fractions]

    def sweep_runs(self, dataset: str, root: Path = RUNS) -> dict[str, list[Run]]:
        """prompt_lhmix over the alpha grid (beta = 1) and the beta grid (alpha = 1), each in grid order; the
        point alpha = 1, beta = 1 is trained once, by the alpha sweep, and ends the beta sweep's list."""
        folder = root / dataset / "sweep"
        alphas = [Run("prompt_lhmix", self.sweep_seed, folder / f"alpha-{a}", alpha=float(a), beta=1.0)
                  for a in self.sweep_alphas]
        betas = [Run("prompt_lhmix", self.sweep_seed, folder / f"beta-{b}", alpha=1.0, beta=float(b))
                 for b in self.sweep_betas]
        betas += [run for run in alphas if run.alpha == 1.0]
        return {"alpha": alphas, "beta": betas}

    def augment_runs(self, dataset: str, root: Path = RUNS) -> dict[str, list[Run]]:
        """Table 7: prompt trained on the EDA ("eda") and back-translated ("bt") training sets. Where
        back-translation cannot run here, data/processed/<dataset>_bt/missing.json says why."""
        folder = root / dataset / "augment"
        return {method: [Run("prompt", seed, folder / method / f"prompt-s{seed}") for seed in seeds]
                for method, seeds in (("eda", self.augment_seeds), ("bt", self.back_translation_seeds))}

    def sparse_runs(self, dataset: str, root: Path = RUNS) -> list[Run]:
        """prompt, prompt_mixup and prompt_lhmix on fractions of the training set."""
        return [Run(variant_name("prompt", mixing), self.sweep_seed,
                    root / dataset / "sparse" / f"f{fraction}" / variant_name("prompt", mixing),
                    fraction=float(fraction), **self._ratio(mixing))
                for fraction in self.sparse_fractions for mixing in MIXINGS]


    def table6_runs(self, dataset: str, root: Path = RUNS) -> list[Run]:
        """prompt and prompt_lhmix with each graph encoder of table6.graphs, for the seeds table6.seeds,
        each continuing the warm-up of its graph and seed (table6_warmups)."""
        return [Run(variant_name("prompt", mixing), seed,
                    root / dataset / "table6" / graph / f"{variant_name('prompt', mixing)}-s{seed}",
                    graph=graph, **self._ratio(mixing))
                for graph in self.table6_graphs for seed in self.table6_seeds for mixing in TABLE6_MIXINGS]

    def spread_runs(self, dataset: str, root: Path = RUNS) -> list[Run]:
        """The second mechanism regime, every seed: prompt_lhmix and its shuffled control at spread.alpha and
        spread.beta, and the fixed-lambda control at spread.fixed_lambda, each continuing the prompt warm-up."""
        runs = []
        for mixing in SIMILARITY_MIXINGS + ("fixed_lambda",):
            variant = variant_name(CONTROL_FAMILY, mixing)
            ratio = ({"alpha": self.spread_alpha, "beta": self.spread_beta} if mixing in SIMILARITY_MIXINGS
                     else {})
            runs += [Run(variant, seed, root / dataset / "spread" / f"{variant}-s{seed}", **ratio)
                     for seed in self.seeds]
        return runs

    def hpt_runs(self, dataset: str, root: Path = RUNS) -> list[Run]:
        """HPT (the prompt with its GAT hierarchy injection, HPT section 4.1) on every seed: LH-Mix's Table 4
        compares with it over seeds. Each continues its own warm-up (hpt_warmups)."""
        return [Run("prompt", seed, root / dataset / "hpt" / f"prompt-s{seed}", graph=HPT_GRAPH)
                for seed in self.seeds]

    def hpt_warmups(self, dataset: str, root: Path = RUNS) -> list[Run]:
        return [Run("prompt", seed, root / dataset / "hpt" / f"warmup-s{seed}", graph=HPT_GRAPH)
                for seed in self.seeds]

    def table6_warmups(self, dataset: str, root: Path = RUNS) -> list[Run]:
        return [Run("prompt", seed, root / dataset / "table6" / graph / f"warmup-s{seed}", graph=graph)
                for graph in self.table6_graphs for seed in self.table6_seeds]


# Seeds of the pipeline's random streams: np.random.seed and scikit-learn's random_state take 0 <= seed < 2**32
# (torch.manual_seed takes more); a larger one would pass the check and crash in the first stage using it.
SEED_LIMIT = 2**32
# The seeds params.yaml holds outside the shape, checked here too (the check stage declares them in dvc.yaml).
OTHER_SEEDS = ("prepare.wordnet.seed",)


def check_params(params: Params, root: Path = Path(".")) -> "Plan":
    """What the check stage holds: the shape (Plan.from_params), the seeds outside it, and a raw-data folder
    for every listed dataset (`root`: the repository). lhmix.pipeline.guard runs it too, before DVC acts on any
    other stage: without the folder, DVC would stop prepare on a missing dependency before its reader could say
    what to put there."""
    plan = Plan.from_params(params)
    for key in OTHER_SEEDS:
        value = params.get(key, None)
        if value is not None:
            check_seed(key, value)
    for dataset in plan.datasets:
        if not (root / RAW / dataset).is_dir():
            raise RawDataMissing(dataset, [RAW / dataset], f"Place the files docs/data/{dataset}.md lists in "
                                 f"{RAW / dataset}/ (or `dvc pull` them where they are under DVC).")
    return plan


def check_seed(name: str, value) -> int:
    value = check_integer(name, value, minimum=0)
    if value >= SEED_LIMIT:
        raise ParamError(name, value, "an integer in [0, 2**32) (the seeds numpy and scikit-learn accept)")
    return value


def _check_distinct(name: str, values: list) -> None:
    """Two equal values would be two stages writing one folder; numbers are compared as numbers, since 1 and 1.0
    (or 5e-1 and 0.5) name two folders but one grid point, which would then be trained twice."""
    seen = {}
    for value in values:
        key = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if key in seen:
            why = ("two stages would write one folder" if str(seen[key]) == str(value) else
                   f"{seen[key]!r} and {value!r} are one number, which two stages would train")
            raise LhmixError(f"params: {name} = {values} lists a value twice ({why})")
        seen[key] = value


def _seed_list(params: Params, key: str) -> list[int]:
    """A list of seeds that may be empty (no runs)."""
    value = params.get(key)
    if not isinstance(value, list):
        raise ParamError(key, value, "a list of seeds ([] for none)")
    return [check_seed(f"{key}[{index}]", item) for index, item in enumerate(value)]


def _beta(name: str, value) -> float:
    value = check_number(name, value)
    if not 0.5 < value <= 1:
        raise ParamError(name, value, "a number in (0.5, 1]")
    return value


def _grid_point(name: str, value, minimum: float, strict: bool = False):
    """A grid value kept as DVC has it (its str() names a folder), checked as a number."""
    check_number(name, value, minimum, strict_minimum=strict)
    return value


def _beta_point(name: str, value):
    _beta(name, value)
    return value


def _fraction(name: str, value):
    if not 0 < check_number(name, value) < 1:
        raise ParamError(name, value, "a fraction in (0, 1) of the training set")
    return value


# Scores of a run's metrics.json: fractions in [0, 1], overall and in per_depth / per_depth_ap.
SCORES = ("micro_f1", "macro_f1", "precision", "recall", "micro_ap", "macro_ap")


def read_metrics(run: Run) -> dict:
    """A run's (or warm-up's) metrics.json, checked: an object whose scores are fractions in [0, 1]. (A key
    that is missing is named by the reader that needs it.)"""
    path = run.path / "metrics.json"
    if not path.is_file():
        raise LhmixError(f"{path}: missing; run `dvc repro` so that every run named in params.yaml exists")
    metrics = read_json(path)
    if not isinstance(metrics, dict):
        raise MalformedInput(path, None, f"expected a JSON object of run metrics, not {type(metrics).__name__}; "
                                         "re-run its stage (dvc repro --force)")
    _check_scores(metrics, path, "")
    for group in ("per_depth", "per_depth_ap"):
        for depth, scores in (metrics.get(group) or {}).items():
            if not isinstance(scores, dict):
                raise MalformedInput(path, None, f"'{group}.{depth}' = {scores!r}: expected an object of scores")
            _check_scores(scores, path, f"{group}.{depth}.")
    return metrics


def _check_scores(scores: dict, path: Path, where: str) -> None:
    for key in SCORES:
        if key in scores:
            value = scores[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise MalformedInput(path, None, f"'{where}{key}' = {value!r}: expected a fraction in [0, 1]; "
                                                 "re-run its stage (dvc repro --force)")
