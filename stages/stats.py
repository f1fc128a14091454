"""Stage stats@<dataset>: the runs named in params.yaml (where lhmix.pipeline.plan puts them) and the processed
dataset --data (with its augmented copies beside it) -> --out: metrics/ (what `dvc metrics` shows), figure6.json,
results.json, tables.md, curves.csv."""
import csv
import sys
from pathlib import Path

from lhmix.core.files import read_json, replaced_on_success, write_json
from lhmix.core.stage import data_to_out, read_params, run_stage
from lhmix.data.hierarchy import Hierarchy
from lhmix.pipeline.plan import Plan
from lhmix.reporting import figure6
from lhmix.reporting import results as reporting_results
from lhmix.reporting.tables import markdown


def target_mdd(params) -> dict[str, float]:
    """stats.target_mdd: the MDD per F1 (points) the design aims at."""
    return {metric: params.number(f"stats.target_mdd.{metric}", minimum=0, strict_minimum=True)
            for metric in ("micro_f1", "macro_f1")}


def write(processed: Path, out: Path) -> str:
    dataset, params = processed.name, read_params()
    plan = Plan.from_params(params)
    dataset_stats = read_json(processed / "stats.json")
    results = reporting_results.collect(plan, dataset, dataset_stats, Hierarchy.load(processed / "labels.json"),
                                        params.number("stats.equivalence_margin", minimum=0, strict_minimum=True),
                                        params.get("figure6.label"), data_root=processed.parent,
                                        target_mdd=target_mdd(params))
    write_json(results, out / "results.json")
    for name, content in reporting_results.dvc_metrics(results).items():
        write_json(content, out / "metrics" / name)
    write_json(figure6.keyed_by_name(results["figure6"]), out / "figure6.json")
    tables = markdown(results)
    with replaced_on_success(out / "tables.md") as temporary:
        temporary.write_text(tables, encoding="utf-8")
    with replaced_on_success(out / "curves.csv") as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["variant", "epoch", "dev_macro_f1"])
        writer.writeheader()
        writer.writerows(reporting_results.curves(results["main"]))
    return tables


def main(argv=None) -> int:
    args = data_to_out(__doc__, "the dataset's results folder", argv)
    return run_stage(f"stats {args.data.name}", lambda: write(args.data, args.out))


if __name__ == "__main__":
    sys.exit(main())
