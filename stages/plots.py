"""Stage plots@<dataset>: results/<dataset>/results.json -> results/<dataset>/figures/*.png and *.svg."""
import json
import sys
from pathlib import Path

from lhmix.core.stage import dataset_argument, run_stage
from lhmix.reporting.plots import draw_all


def draw(dataset: str) -> str:
    folder = Path("results") / dataset
    with open(folder / "results.json", encoding="utf-8") as handle:
        results = json.load(handle)
    return "\n".join(map(str, draw_all(results, folder / "figures")))


def main(argv=None) -> int:
    dataset = dataset_argument(__doc__, argv)
    return run_stage(f"plots {dataset}", lambda: draw(dataset))


if __name__ == "__main__":
    sys.exit(main())
