"""Stage prepare@<dataset>: raw files -> data/processed/<dataset>/ (see lhmix.contract)."""
import sys

from lhmix.cli import read_params, run_stage
from lhmix.datasets import prepare


def main() -> int:
    name = sys.argv[1]

    def body() -> str:
        cfg = read_params()["prepare"].get(name) or {}
        stats = prepare(name, cfg, raw_dir=f"data/raw/{name}", out_dir=f"data/processed/{name}")
        return f"prepare {name}: {stats['splits']} docs, {stats['num_labels']} labels, dropped {stats['dropped']}"
    return run_stage(f"prepare {name}", body)


if __name__ == "__main__":
    sys.exit(main())
