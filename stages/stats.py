"""Stage stats@<dataset>: runs named in params.yaml -> results/<dataset>/{metrics.json, results.json, tables.md, curves.csv}."""
import csv
import json
import sys
from pathlib import Path

from lhmix.core.errors import LhmixError
from lhmix.core.files import write_json
from lhmix.core.stage import parser, read_params
from lhmix.pipeline.plan import Plan
from lhmix.reporting import stats


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("dataset")
    dataset = arguments.parse_args(argv).dataset
    params = read_params()
    plan = Plan.from_params(params)
    try:
        results = stats.collect(plan, dataset)
    except LhmixError as error:
        print(f"stats {dataset}: {error}", file=sys.stderr)
        return 1
    with open(f"data/processed/{dataset}/stats.json", encoding="utf-8") as handle:
        dataset_stats = json.load(handle)
    summary, tests = stats.summarize(results["main"]), stats.ttests(results["main"])
    out = Path("results") / dataset
    write_json({"dataset": dataset_stats, "summary": summary, "ttests": tests, **results}, out / "results.json")
    write_json(stats.dvc_metrics(summary), out / "metrics.json")
    (out / "tables.md").write_text(
        stats.markdown(dataset, dataset_stats, results, summary, tests, plan.sweep_seed),
        encoding="utf-8")
    with open(out / "curves.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["variant", "epoch", "dev_macro_f1"])
        writer.writeheader()
        writer.writerows(stats.curves_rows(results))
    print((out / "tables.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
