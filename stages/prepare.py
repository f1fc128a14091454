"""Stage prepare@<dataset>: raw files -> data/processed/<dataset>/ (see lhmix.datasets.contract).
Params: prepare.<dataset>."""
import sys

from lhmix.core.stage import parser, read_params, run_stage
from lhmix.datasets import prepare


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("dataset")
    args = arguments.parse_args(argv)
    name = args.dataset

    def body() -> str:
        cfg = read_params().get(f"prepare.{name}") or {}
        stats = prepare(name, cfg, raw_dir=f"data/raw/{name}", out_dir=f"data/processed/{name}")
        return f"prepare {name}: {stats['splits']} docs, {stats['num_labels']} labels, dropped {stats['dropped']}"
    return run_stage(f"prepare {name}", body)


if __name__ == "__main__":
    sys.exit(main())
