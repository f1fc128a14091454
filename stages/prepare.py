"""Stage prepare@<dataset>: the raw files in --raw -> the processed dataset --out (see lhmix.datasets.contract).
Params: prepare.<dataset>."""
import sys
from pathlib import Path

from lhmix.core.stage import dataset_name, parser, read_params, run_stage
from lhmix.datasets import prepare
from lhmix.datasets.contract import summary


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("dataset", type=dataset_name)
    arguments.add_argument("--raw", required=True, type=Path, help="the dataset's raw files")
    arguments.add_argument("--out", required=True, type=Path, help="the processed dataset's folder")
    args = arguments.parse_args(argv)
    name = args.dataset

    def body() -> str:
        cfg = read_params().get(f"prepare.{name}") or {}
        stats = prepare(name, cfg, raw_dir=args.raw, out_dir=args.out)
        return f"prepare {name}: {summary(stats)}"
    return run_stage(f"prepare {name}", body)


if __name__ == "__main__":
    sys.exit(main())
