"""Stage similarity@<dataset>: the frozen encoder's vector of every distinct local hierarchy of the
training set of the processed dataset --data -> the similarity table --out (see lhmix.similarity.precompute).
Params: encoder.similarity, encoder.similarity_max_length."""
import sys

from lhmix.core.stage import data_to_out, read_params, run_stage
from lhmix.data.documents import read_dataset
from lhmix.similarity.precompute import precompute


def main(argv=None) -> int:
    args = data_to_out(__doc__, "the similarity table to write", argv)
    folder, out, dataset = args.data, args.out, args.data.name

    def body() -> str:
        params = read_params()
        hierarchy, splits = read_dataset(folder, ("train",))
        table = precompute(params.text("encoder.similarity"), hierarchy, splits["train"].labels,
                           max_length=params.integer("encoder.similarity_max_length", minimum=3))
        table.save(out)
        lines = [f"similarity {dataset}: {len(table)} distinct local hierarchies of {table.num_docs} "
                 f"training docs -> {out}"]
        if table.truncated:
            lines.append(f"warning: {len(table.truncated)} local-hierarchy texts are longer than "
                         f"encoder.similarity_max_length and were cut, e.g. {table.truncated[0]!r}")
        for first, second in table.same_vector[:5]:
            lines.append(f"warning: two different local hierarchies encode to the same vector (s = 1, "
                         f"LH-Mix mixes them 50/50): {first!r} and {second!r}")
        if len(table.same_vector) > 5:
            lines.append(f"warning: ... {len(table.same_vector)} such pairs in all")
        return "\n".join(lines)
    return run_stage(f"similarity {dataset}", body)


if __name__ == "__main__":
    sys.exit(main())
