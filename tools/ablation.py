"""`make ablation`: what moved the default's numbers, one change at a time -> reports/ablation.{json,md}.

The default (params.yaml) against the same pipeline with one of its choices undone: the prompt scored
linearly (model.prompt.head: linear), without HPT's MLM loss (model.prompt.mlm_weight: 0), on the
short schedule the project ran before (1 epoch without Mixup, then 1 with it), and with all three
undone at once; and with each rule of the published code in place of the papers' (LH-Mix's
models/loss.py and train.py): one ZMLCE per document over all labels (train.loss: per_document), and
its early stopping (a better dev macro- or micro-F1 resets a patience of 6, counted from epoch 0).
Each configuration trains prompt, prompt_mixup and prompt_lhmix for --seeds through
the library's own warm-up and training (lhmix.training.run), on the processed data and similarity
table of the pipeline, into runs/ablation/<dataset>/ (git-ignored, and outside runs/<dataset>/, which the
stats stage reads: the ablation never makes the pipeline stale). The default's row is read from
the pipeline's main runs of the same seeds. Nothing of the pipeline's outputs is touched.

Beside them, the released code's similarity (issue 30; similarity.source published, with params.yaml's
similarity.label_length and attention_mask): prompt_lhmix computing s with its own encoder at every step, in
each mechanism regime (alpha, beta of params.yaml, and spread.alpha, spread.beta, where lambda moves), against
the fixed-lambda control at the published run's own mean lambda (to 0.01), both continuing one prompt warm-up
per seed trained as the default's; with the 5/50/95 % of s and lambda in the first and the last mixed epoch.

    python tools/ablation.py [--seeds 0 1] [--only NAME ...]   (needs `dvc repro` done: it reads the main runs)
    python tools/ablation.py --only 'published similarity'      the released code's similarity alone

--only runs the changes named and keeps the other rows of reports/ablation.json as they were measured
(each row records when and on what it was measured).

Two seeds by default: each configuration retrains the prompt family's warm-up and three runs per seed,
about 33 minutes for the four configurations and two seeds on the 2-core machine (docs/default.md). A published-similarity
step costs about 6 frozen ones at 512 tokens on that machine (`make bench`): its rows take longer than any other.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from lhmix.core.files import read_json, replaced_on_success, write_json
from lhmix.benchmark import matmul_peak
from lhmix.core.params import Params
from lhmix.core.profiles import overridden
from lhmix.reporting.stats import equivalence_verdict, mean_std, paired, pooled_histogram, tost, verdict
from lhmix.reporting.comparisons import mostly_one_model
from lhmix.reporting.variants import best_in_warmup
from lhmix.reporting.markdown import interval, number, p_value, table
from lhmix.core.vocabulary import MIXINGS, variant_name
from lhmix.pipeline.plan import RUNS, Plan, processed_folder, similarity_table
from lhmix.training.config import TrainConfig
from lhmix.training.run import train, warmup

VARIANTS = {mixing: variant_name("prompt", mixing) for mixing in MIXINGS}   # prompt, prompt_mixup, prompt_lhmix
SHORT_SCHEDULE = {"train": {"warmup_epochs": 1, "max_epochs": 2}}
CHANGES = {  # name: (what it undoes, overrides of params.yaml)
    "linear head": ("p_v = w_v . h + b_v, no MLM transform", {"model": {"prompt": {"head": "linear"}}}),
    "no MLM loss": ("model.prompt.mlm_weight 0", {"model": {"prompt": {"mlm_weight": 0.0}}}),
    "short schedule": ("1 epoch without Mixup, then 1 with it (max_epochs 2)", SHORT_SCHEDULE),
    "all three (the project before)": ("linear head, no MLM loss, 1 + 1 epochs",
                                       {"model": {"prompt": {"head": "linear", "mlm_weight": 0.0}},
                                        **SHORT_SCHEDULE}),
    "published loss": ("one ZMLCE per document over all labels, as the released code (train.loss per_document)",
                       {"train": {"loss": "per_document"}}),
    "published early stopping": ("a better dev macro- or micro-F1 resets a patience of 6, counted from epoch 0, "
                                 "as the released code (train.early_stopping published)",
                                 {"train": {"early_stopping": "published", "patience": 6}}),
}
DEFAULT = "default (params.yaml)"
PUBLISHED = "published similarity"
# The mechanism regimes the published similarity runs in: where each reads its alpha and beta in params.yaml
PUBLISHED_REGIMES = {"main": ("alpha", "beta"), "spread": ("spread.alpha", "spread.beta")}
FIXED_LAMBDA_DIGITS = 2   # the control mixes at the published run's mean lambda, rounded to 0.01
PEAK_SHAPE = (2048, 2048, 2048)


def folder_name(change: str) -> str:
    """'all three (the project before)' -> 'all-three-the-project-before'."""
    return re.sub(r"[^a-z0-9]+", "-", change.lower()).strip("-")


def prompt_warmup(settings: Params, data: Path, folder: Path, seed: int) -> Path:
    """The prompt family's warm-up of `seed` under `settings`, trained into folder; its state file."""
    state = folder / "warmup.pt"
    warmup(TrainConfig.from_params(settings, "prompt", "none", seed, warmup=True), data, state,
           folder / "warmup", folder / "checkpoints" / "warmup")
    return state


def run_change(params: dict, dataset: str, name: str, seed: int, root: Path) -> dict[str, dict]:
    """prompt, prompt_mixup, prompt_lhmix of one seed under one change: {mixing: metrics}."""
    settings = Params(params)
    data = processed_folder(dataset)
    folder = root / folder_name(name) / f"s{seed}"
    state = prompt_warmup(settings, data, folder, seed)
    results = {}
    for mixing in MIXINGS:
        config = TrainConfig.from_params(settings, "prompt", mixing, seed)
        results[mixing] = train(config, data, folder / mixing, folder / "checkpoints" / mixing,
                                similarity_path=similarity_table(dataset), warm_start=state)
    state.unlink()
    return results


def regime_ratio(params: dict, regime: str) -> dict[str, float]:
    """alpha and beta of a mechanism regime, from where params.yaml holds them."""
    settings = Params(params)
    return dict(zip(("alpha", "beta"), (settings.get(key) for key in PUBLISHED_REGIMES[regime])))


def run_published(params: dict, dataset: str, seed: int, root: Path) -> dict[str, dict[str, dict]]:
    """Per regime, prompt_lhmix with the published similarity and the fixed-lambda control at its mean lambda,
    all continuing one prompt warm-up of `seed` (the default's): {regime: {"lhmix" | "fixed_lambda": metrics}}."""
    data = processed_folder(dataset)
    folder = root / folder_name(PUBLISHED) / f"s{seed}"
    state = prompt_warmup(Params(params), data, folder, seed)
    controls, results = {}, {}
    for regime in PUBLISHED_REGIMES:
        settings = overridden(params, {**regime_ratio(params, regime), "similarity": {"source": "published"}})
        lhmix = train(TrainConfig.from_params(Params(settings), "prompt", "lhmix", seed), data,
                      folder / regime / "lhmix", folder / "checkpoints" / regime / "lhmix", warm_start=state)
        fixed = round(lhmix["lambda"]["mean"], FIXED_LAMBDA_DIGITS)
        if fixed not in controls:   # two regimes at the same mean lambda share their control
            control = TrainConfig.from_params(Params(overridden(params, {"train": {"fixed_lambda": fixed}})),
                                              "prompt", "fixed_lambda", seed)
            controls[fixed] = train(control, data, folder / f"fixed_lambda-{fixed:g}",
                                    folder / "checkpoints" / f"fixed_lambda-{fixed:g}", warm_start=state)
        results[regime] = {"lhmix": lhmix, "fixed_lambda": controls[fixed]}
    state.unlink()
    return results


def published_row(runs: dict[int, dict[str, dict]], margin: float | None) -> dict:
    """One regime over seeds: F1 of the published prompt_lhmix and of its fixed-lambda control (points), the
    control's lambda per seed, s and lambda pooled over the runs and per mixed epoch (seed means), and the paired
    difference published - control with its verdict on "published > control" and, given an equivalence margin
    (stats.equivalence_margin, points), TOST's."""
    row = {"fixed_lambda": {seed: runs[seed]["fixed_lambda"]["fixed_lambda"] for seed in runs}}
    for variant in ("lhmix", "fixed_lambda"):
        for metric in ("micro_f1", "macro_f1"):
            row[f"{variant}.{metric}"] = mean_std(100 * runs[s][variant][metric] for s in runs)
    for name in ("s", "lambda"):
        pooled = pooled_histogram([runs[s]["lhmix"][name] for s in runs])
        row[name] = {key: pooled[key] for key in ("n", "mean", "q05", "q50", "q95", "min", "max") if key in pooled}
    row["by_mixed_epoch"] = mixed_epoch_means([runs[s]["lhmix"]["history"] for s in runs])
    # seeds on which both runs kept their shared warm-up's model: one model, a difference of 0 by construction
    row["one_model_seeds"] = sorted(s for s in runs
                                    if all(best_in_warmup(runs[s][v]) for v in ("lhmix", "fixed_lambda")))
    for metric in ("micro_f1", "macro_f1"):
        published = {s: 100 * runs[s]["lhmix"][metric] for s in runs}
        control = {s: 100 * runs[s]["fixed_lambda"][metric] for s in runs}
        comparison = paired(published, control)
        row[f"published_vs_fixed.{metric}"] = {**comparison.to_dict(), "verdict": verdict(comparison)}
        if margin is not None:
            row[f"published_vs_fixed.{metric}"]["equivalence"] = equivalence_verdict(
                comparison, tost(published, control, margin), comparison.p, margin)
    return row


def mixed_epoch_means(histories: list[list[dict]]) -> list[dict]:
    """Per mixed epoch that every run reached, the seed mean of its s and lambda summaries (history keys)."""
    mixed = [[entry for entry in history if "lambda_mean" in entry] for history in histories]
    keys = ("s_", "lambda_")
    return [{key: sum(epoch[key] for epoch in epochs) / len(epochs) for key in epochs[0] if key.startswith(keys)}
            for epochs in zip(*mixed)]


def published_markdown(rows: dict[str, dict], params: dict) -> list[str]:
    """The published similarity's table: a row per mechanism regime."""
    def quantiles(entry: dict, name: str) -> str:
        return "/".join(f"{entry[f'{name}_{q}']:.3f}" for q in ("q05", "q50", "q95"))

    def f1(row: dict, variant: str) -> str:
        return " / ".join(f"{row[f'{variant}.{metric}']['mean']:.2f}" for metric in ("micro_f1", "macro_f1"))

    def difference(entry: dict, one_model: list[int], seeds: int) -> str:
        """The test, TOST's verdict, and on how many seeds the two runs were one model (TOST's equivalence is
        then too weak to tell when they are most of them)."""
        equivalence = entry.get("equivalence")
        if equivalence and mostly_one_model(one_model, seeds):
            equivalence = f"too weak to tell (TOST alone: {equivalence})"
        return (f"{number(entry['diff'], sign=True)} {interval(entry)}, p {p_value(entry)}: {entry['verdict']}"
                + (f"; {equivalence}" if equivalence else "")
                + (f"; one model on {len(one_model)} of {seeds} seeds" if one_model else ""))

    header = ["regime (alpha, beta)", "s 5/50/95 %: first / last mixed epoch",
              "lambda 5/50/95 %: first / last mixed epoch", "lambda mean (control's)", "published micro / macro",
              "control micro / macro", "published - control, macro (95 % CI, p)", "micro"]
    body = []
    for regime, row in rows.items():
        ratio = regime_ratio(params, regime)
        first, last = row["by_mixed_epoch"][0], row["by_mixed_epoch"][-1]
        controls = sorted(set(row["fixed_lambda"].values()))
        body.append([f"{regime} ({ratio['alpha']:g}, {ratio['beta']:g})",
                     f"{quantiles(first, 's')} / {quantiles(last, 's')}",
                     f"{quantiles(first, 'lambda')} / {quantiles(last, 'lambda')}",
                     f"{row['lambda']['mean']:.3f} ({', '.join(f'{value:g}' for value in controls)})",
                     f1(row, "lhmix"), f1(row, "fixed_lambda"),
                     *(difference(row[f"published_vs_fixed.{metric}"], row.get("one_model_seeds", []),
                                  len(row["fixed_lambda"])) for metric in ("macro_f1", "micro_f1"))])
    similarity = params["similarity"]
    return [
        "## The released code's similarity", "",
        "prompt_lhmix with `similarity.source: published` (docs/method.md): s from the classifier's own encoder, in "
        f"training, on both label sequences of every pair, padded to {similarity['label_length']} tokens "
        f"{'with' if similarity['attention_mask'] else 'without'} an attention mask, as the released "
        "models/prompt.py; against Mixup at one fixed lambda, the published run's mean lambda to 0.01 "
        "(per seed; in brackets), both continuing one prompt warm-up per seed. s and lambda: 5/50/95 % "
        "of the epoch's pairs, seed means. *One model*: both runs of a seed kept their shared warm-up's model (neither "
        "beat it on dev), so they differ by 0 by construction. The verdicts read \"published > control\""
        + (" and, after ';', TOST's equivalence within stats.equivalence_margin" if any(
            "equivalence" in row["published_vs_fixed.macro_f1"] for row in rows.values()) else "") + ".", "",
        table(header, body), ""]


def default_runs(plan: Plan, dataset: str, seed: int) -> dict[str, dict]:
    """The pipeline's main runs of the prompt family and `seed`: {mixing: metrics}."""
    if seed not in plan.seeds:
        raise SystemExit(f"ablation: seed {seed} is not among params.yaml's seeds {plan.seeds}: the default row "
                         "reads the pipeline's main runs of each seed")
    runs = {run.variant: run for run in plan.main_runs(dataset) if run.seed == seed}
    return {mixing: read_json(runs[VARIANTS[mixing]].path / "metrics.json") for mixing in MIXINGS}


def row_of(runs: dict[int, dict[str, dict]]) -> dict:
    """Means over seeds, and LH-Mix minus prompt (paired by seed), in F1 points."""
    row = {}
    for mixing in MIXINGS:
        for metric in ("micro_f1", "macro_f1"):
            row[f"{VARIANTS[mixing]}.{metric}"] = mean_std(100 * runs[s][mixing][metric] for s in runs)
        row[f"{VARIANTS[mixing]}.predicted_per_doc"] = mean_std(runs[s][mixing]["predicted_per_doc"] for s in runs)
        row[f"{VARIANTS[mixing]}.stopped_early"] = sum(runs[s][mixing]["stopped_early"] for s in runs)
        row[f"{VARIANTS[mixing]}.epochs_run"] = mean_std(runs[s][mixing]["epochs_run"] for s in runs)
    for metric in ("micro_f1", "macro_f1"):
        comparison = paired({s: 100 * runs[s]["lhmix"][metric] for s in runs},
                            {s: 100 * runs[s]["none"][metric] for s in runs})
        row[f"lhmix_vs_prompt.{metric}"] = {**comparison.to_dict(), "verdict": verdict(comparison)}
    return row


def markdown(rows: dict[str, dict], what: dict[str, str], seeds: list[int], meta: dict) -> str:
    def cell(entry):
        return f"{entry['mean']:.2f}" + ("" if entry["std"] is None else f" +- {entry['std']:.2f}")

    header = ["configuration", "what it changes"]
    for variant in VARIANTS.values():
        header += [f"{variant} micro", f"{variant} macro"]
    header += ["prompt_lhmix - prompt, macro (95 % CI, p)", "labels/doc (prompt, lhmix)",
               "epochs run (prompt, lhmix)"]
    body = []
    for name, row in rows.items():
        cells = [name, what.get(name, "")]
        for variant in VARIANTS.values():
            cells += [cell(row[f"{variant}.micro_f1"]), cell(row[f"{variant}.macro_f1"])]
        c = row["lhmix_vs_prompt.macro_f1"]
        cells.append(f"{number(c['diff'], sign=True)} {interval(c)}, p {p_value(c)}: {c['verdict']}")
        cells.append(f"{row['prompt.predicted_per_doc']['mean']:.2f}, "
                     f"{row['prompt_lhmix.predicted_per_doc']['mean']:.2f}")
        cells.append(", ".join(f"{row[key]['mean']:.1f}" if key in row else "-"
                               for key in ("prompt.epochs_run", "prompt_lhmix.epochs_run")))
        body.append(cells)
    return "\n".join([
        "# What moved the default's numbers: one change at a time", "",
        f"Written by `python tools/ablation.py` (last run: {meta['minutes']:.1f} min on {meta['machine']}). Test F1 "
        f"in %, mean +- std over seeds {', '.join(map(str, seeds))}; the default's row is the pipeline's main runs "
        "of those seeds, each other row the same pipeline with one choice changed (prompt, prompt_mixup, "
        "prompt_lhmix continuing one warm-up per seed, the warm-up trained under the change). The F1 column "
        "after the variants is the paired difference prompt_lhmix minus prompt with its 95 % interval and "
        "two-sided p; epochs run count the warm-up.", "",
        table(header, body), "", *earlier_measurements(rows, meta)])


def test_documents(dataset: str) -> int:
    """The size of the test split the runs are scored on: a row measured on another split is not comparable."""
    return read_json(processed_folder(dataset) / "stats.json")["splits"]["test"]


def _split_note(measured: dict, meta: dict) -> str:
    if measured.get("test_documents") == meta.get("test_documents"):
        return ""
    size = measured.get("test_documents")
    return (f"; scored on {'an earlier' if size is None else f'a {size:,}-document'} test split, not the current "
            f"{meta['test_documents']:,}-document one: compare it with the rows of its own run, not with the default's")


def earlier_measurements(rows: dict[str, dict], meta: dict) -> list[str]:
    """A line per row measured by an earlier run of this tool (--only keeps such rows), saying when its test
    split was another."""
    lines = [f"- {name}: measured by an earlier run ({row['measured']['minutes']:.1f} min for the rows of that run, "
             f"{row['measured']['machine']}{_split_note(row['measured'], meta)})" for name, row in rows.items()
             if name != DEFAULT and "measured" in row and row["measured"]["minutes"] != meta["minutes"]]
    return ["Rows kept from earlier runs of the tool (the training code of their configurations is unchanged):",
            "", *lines, ""] if lines else []


def main(argv=None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    arguments.add_argument("--only", choices=[*CHANGES, PUBLISHED], nargs="+",
                           help="run these changes and keep the other rows of reports/ablation.json")
    arguments.add_argument("--render", action="store_true",
                           help="only write reports/ablation.md again from reports/ablation.json (no training)")
    args = arguments.parse_args(argv)
    params = Params.load().values
    if args.render:
        measured = read_json(Path("reports") / "ablation.json")
        write_markdown(measured["rows"], measured.get(PUBLISHED, {}), measured["meta"], params)
        return 0
    dataset = params["datasets"][0]
    kept = kept_rows(Path("reports") / "ablation.json", args.seeds) if args.only else {}
    kept_published = kept_rows(Path("reports") / "ablation.json", args.seeds, PUBLISHED) if args.only else {}
    started = time.perf_counter()
    plan = Plan.from_params(Params(params))
    runs = {DEFAULT: {seed: default_runs(plan, dataset, seed) for seed in args.seeds}}
    peak_before = matmul_peak([PEAK_SHAPE])["peak_gflops"]
    for name, (_, overrides) in CHANGES.items():
        if args.only is None or name in args.only:
            runs[name] = {seed: run_change(overridden(params, overrides), dataset, name, seed,
                                           RUNS / "ablation" / dataset) for seed in args.seeds}
    published_runs = {}
    if args.only is None or PUBLISHED in args.only:
        published_runs = {seed: run_published(params, dataset, seed, RUNS / "ablation" / dataset) for seed in args.seeds}
    peak = max(peak_before, matmul_peak([PEAK_SHAPE])["peak_gflops"])
    measured = {"minutes": round((time.perf_counter() - started) / 60, 2),
                "machine": f"{os.cpu_count()} cores, torch.matmul fp32 peak {peak:.0f} GFLOP/s (best of before and after)",
                "test_documents": test_documents(dataset)}
    fresh = {name: {**row_of(by_seed), "measured": measured} for name, by_seed in runs.items()}
    rows = {name: fresh.get(name) or kept[name] for name in (DEFAULT, *CHANGES) if name in fresh or name in kept}
    margin = params.get("stats", {}).get("equivalence_margin")
    published = {regime: {**published_row({seed: by_regime[regime] for seed, by_regime in published_runs.items()},
                                          margin), "measured": measured}
                 for regime in PUBLISHED_REGIMES} if published_runs else kept_published
    meta = {**measured, "seeds": args.seeds, "dataset": dataset}
    write_json({"meta": meta, "rows": rows, PUBLISHED: published}, Path("reports") / "ablation.json")
    write_markdown(rows, published, meta, params)
    return 0


def write_markdown(rows: dict[str, dict], published: dict[str, dict], meta: dict, params: dict) -> None:
    """reports/ablation.md from the measured rows (and printed)."""
    markdown_text = markdown(rows, {name: what for name, (what, _) in CHANGES.items()}, meta["seeds"], meta)
    if published:
        markdown_text += "\n".join(["", *published_markdown(published, params)])
    with replaced_on_success(Path("reports") / "ablation.md") as temporary:
        temporary.write_text(markdown_text, encoding="utf-8")
    print(markdown_text)


def kept_rows(path: Path, seeds: list[int], key: str = "rows") -> dict[str, dict]:
    """The rows (`key`: the changes' rows, or PUBLISHED's) of an earlier run of this tool on the same seeds, each
    with how it was measured (a row that says so itself keeps its own)."""
    if not path.is_file() or key not in read_json(path):
        return {}
    earlier = read_json(path)
    if earlier["meta"]["seeds"] != seeds:
        raise SystemExit(f"ablation: {path} holds seeds {earlier['meta']['seeds']}, not {seeds}: run every change "
                         "(without --only) or the same seeds")
    measured = {key: earlier["meta"][key] for key in ("minutes", "machine", "test_documents") if key in earlier["meta"]}
    return {name: {"measured": measured, **row} for name, row in earlier[key].items()}


if __name__ == "__main__":
    sys.exit(main())
