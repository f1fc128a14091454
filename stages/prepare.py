"""Stage prepare@<dataset>: raw files -> data/processed/<dataset>/ (see lhmix.datasets.contract).
Params: prepare.<dataset>."""
import sys

from lhmix.core.stage import dataset_argument, read_params, run_stage
from lhmix.datasets import prepare


def main(argv=None) -> int:
    name = dataset_argument(__doc__, argv)

    def body() -> str:
        cfg = read_params().get(f"prepare.{name}") or {}
        stats = prepare(name, cfg, raw_dir=f"data/raw/{name}", out_dir=f"data/processed/{name}")
        return f"prepare {name}: {stats['splits']} docs, {stats['num_labels']} labels, dropped {stats['dropped']}"
    return run_stage(f"prepare {name}", body)


if __name__ == "__main__":
    sys.exit(main())
