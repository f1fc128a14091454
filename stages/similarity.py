"""Stage similarity@<dataset>: the frozen encoder's vector of every distinct local hierarchy of the
training set -> data/similarity/<dataset>.pt (see lhmix.similarity). Params: encoder.similarity,
train.max_length."""
import sys
from pathlib import Path

import yaml

from lhmix.data import read_documents
from lhmix.errors import LhmixError
from lhmix.hierarchy import Hierarchy
from lhmix.similarity import precompute


def main() -> int:
    name = sys.argv[1]
    with open("params.yaml", encoding="utf-8") as handle:
        params = yaml.safe_load(handle)
    folder, out = Path("data/processed") / name, Path("data/similarity") / f"{name}.pt"
    try:
        hierarchy = Hierarchy.load(folder / "labels.json")
        train = read_documents(folder / "train.jsonl", len(hierarchy))
        table = precompute(str(params["encoder"]["similarity"]), hierarchy, train.labels,
                           max_length=int(params["train"]["max_length"]))
        table.save(out)
    except LhmixError as error:
        print(f"similarity {name}: {error}", file=sys.stderr)
        return 1
    print(f"similarity {name}: {len(table)} distinct local hierarchies of {len(train)} training docs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
