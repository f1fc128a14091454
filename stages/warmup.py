"""Stage warmup@<dataset>-<family>-<seed> (and sparse_warmup, table6_warmup): the first train.warmup_epochs
epochs (no Mixup) of one family, seed and train fraction on the processed dataset --data, and for Table 6 a
graph encoder (--graph). The state goes to --state (every variant of the family continues from it:
stages/train.py --warm-start), its course and timing to --out/metrics.json."""
import sys
from pathlib import Path

from lhmix.core.stage import checkpoint_folder, data_folder, parser, read_params, run_stage
from lhmix.core.vocabulary import FAMILIES
from lhmix.core.vocabulary import GRAPHS
from lhmix.training.config import TrainConfig
from lhmix.training.run import warmup


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--data", required=True, type=data_folder, help="the processed dataset's folder")
    arguments.add_argument("--family", required=True, choices=FAMILIES)
    arguments.add_argument("--seed", required=True)
    arguments.add_argument("--train-fraction", default="1")
    arguments.add_argument("--graph", choices=GRAPHS,
                           help="prompt family, Table 6: HPT's hierarchy injection (default: model.prompt.graph)")
    arguments.add_argument("--state", required=True, type=Path, help="the warm-up state file to write")
    arguments.add_argument("--out", required=True, type=Path, help="folder for metrics.json")
    args = arguments.parse_args(argv)

    def body() -> None:
        config = TrainConfig.from_params(read_params(), args.family, "none", args.seed, args.train_fraction,
                                         warmup=True, graph=args.graph)
        warmup(config, data_dir=args.data, state_file=args.state, out_dir=args.out,
               checkpoint_dir=checkpoint_folder(args.state))
    return run_stage(f"warmup {args.data.name} {args.family} seed {args.seed}", body)


if __name__ == "__main__":
    sys.exit(main())
