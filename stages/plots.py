"""Stage plots@<dataset>: results/<dataset>/results.json -> results/<dataset>/figures/*.png (DVC plots) and
results/<dataset>/svg/*.svg."""
import sys
from pathlib import Path

from lhmix.core.files import read_json
from lhmix.core.stage import dataset_argument, run_stage
from lhmix.reporting.plots import draw_all


def draw(dataset: str) -> str:
    folder = Path("results") / dataset
    results = read_json(folder / "results.json")
    return "\n".join(map(str, draw_all(results, folder / "figures")))


def main(argv=None) -> int:
    dataset = dataset_argument(__doc__, argv)
    return run_stage(f"plots {dataset}", lambda: draw(dataset))


if __name__ == "__main__":
    sys.exit(main())
