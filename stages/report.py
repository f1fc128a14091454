"""Stage report: results/<dataset>/ of every dataset in params.yaml -> reports/README.md."""
import json
import sys
from pathlib import Path

from lhmix.reporting import report
from lhmix.core.stage import parser, read_params


def main(argv=None) -> int:
    parser(__doc__).parse_args(argv)
    datasets = read_params().get("datasets")
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
