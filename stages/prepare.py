"""Stage prepare@<dataset>: raw files -> data/processed/<dataset>/ (see lhmix.contract)."""
import sys

import yaml

from lhmix.datasets import prepare
from lhmix.errors import LhmixError


def main() -> int:
    name = sys.argv[1]
    with open("params.yaml", encoding="utf-8") as handle:
        params = yaml.safe_load(handle)
    try:
        stats = prepare(name, params["prepare"].get(name) or {}, raw_dir=f"data/raw/{name}",
                        out_dir=f"data/processed/{name}")
    except LhmixError as error:
        print(f"prepare {name}: {error}", file=sys.stderr)
        return 1
    print(f"prepare {name}: {stats['splits']} docs, {stats['num_labels']} labels, dropped {stats['dropped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
