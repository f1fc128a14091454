"""Stage report: results/<dataset>/ of every dataset in params.yaml -> reports/README.md."""
import json
import sys
from pathlib import Path

from lhmix import report
from lhmix.cli import read_params


def main() -> int:
    datasets = read_params()["datasets"]
    results, tables = {}, {}
    for dataset in datasets:
        folder = Path("results") / dataset
        results[dataset] = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        tables[dataset] = (folder / "tables.md").read_text(encoding="utf-8")
    out = Path("reports") / "README.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render(datasets, results, tables, report.environment()), encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
