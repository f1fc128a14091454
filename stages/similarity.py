"""Stage similarity@<dataset>: the frozen encoder's vector of every distinct local hierarchy of the
training set -> data/similarity/<dataset>.pt (see lhmix.similarity). Params: encoder.similarity,
train.max_length."""
import sys
from pathlib import Path

from lhmix.cli import read_params, run_stage
from lhmix.data import read_documents
from lhmix.hierarchy import Hierarchy
from lhmix.similarity import precompute


def main() -> int:
    name = sys.argv[1]
    folder, out = Path("data/processed") / name, Path("data/similarity") / f"{name}.pt"

    def body() -> str:
        params = read_params()
        hierarchy = Hierarchy.load(folder / "labels.json")
        train = read_documents(folder / "train.jsonl", len(hierarchy))
        table = precompute(str(params["encoder"]["similarity"]), hierarchy, train.labels,
                           max_length=int(params["train"]["max_length"]))
        table.save(out)
        return f"similarity {name}: {len(table)} distinct local hierarchies of {len(train)} training docs -> {out}"
    return run_stage(f"similarity {name}", body)


if __name__ == "__main__":
    sys.exit(main())
