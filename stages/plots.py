"""Stage plots@<dataset>: results/<dataset>/results.json -> results/<dataset>/figures/*.png."""
import json
import sys
from pathlib import Path

from lhmix.core.stage import parser
from lhmix.reporting.plots import draw_all


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("dataset")
    folder = Path("results") / arguments.parse_args(argv).dataset
    with open(folder / "results.json", encoding="utf-8") as handle:
        results = json.load(handle)
    for path in draw_all(results, folder / "figures"):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
