"""Stage train_<mixing>@<dataset>-<family>-<seed> (and the sweep, sparse and table6 stages): one run of a
variant, continued from its family's warm-up state, scored on test with its best dev checkpoint
-> --out DIR (metrics.json, predictions.npz, live/). LH-Mix runs read data/similarity/<dataset>.pt
and alpha, beta from params.yaml unless --alpha/--beta give a sweep point; a prompt run reads its graph
encoder from params.yaml unless --graph gives one (Table 6). Under torchrun: DDP."""
import sys
from pathlib import Path

from lhmix.core.stage import dataset_name, parser, read_params, run_stage
from lhmix.core.vocabulary import CONTROLS, FAMILIES, MIXINGS, variant_name
from lhmix.model.graph import GRAPHS
from lhmix.training.config import TrainConfig
from lhmix.training.run import train


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--dataset", required=True, type=dataset_name)
    arguments.add_argument("--family", required=True, choices=FAMILIES)
    arguments.add_argument("--mixing", required=True, choices=MIXINGS + CONTROLS,
                           help=f"{', '.join(CONTROLS)}: controls of LH-Mix, prompt family only")
    arguments.add_argument("--seed", required=True)
    arguments.add_argument("--train-fraction", default="1")
    arguments.add_argument("--alpha", help="LH-Mix sweep point (default: alpha in params.yaml)")
    arguments.add_argument("--beta", help="LH-Mix sweep point (default: beta in params.yaml)")
    arguments.add_argument("--graph", choices=GRAPHS,
                           help="prompt family, Table 6: HPT's hierarchy injection (default: model.prompt.graph)")
    arguments.add_argument("--warm-start", type=Path, help="a state written by stages/warmup.py")
    arguments.add_argument("--warmup-dataset", type=dataset_name, help="the dataset the warm-up trained on, when not --dataset "
                                                    "(an augmented copy continues the plain warm-up)")
    arguments.add_argument("--out", required=True, type=Path)
    args = arguments.parse_args(argv)

    def body() -> None:
        config = TrainConfig.from_params(read_params(), args.family, args.mixing, args.seed, args.train_fraction,
                                         alpha=args.alpha, beta=args.beta, graph=args.graph)
        similarity = Path("data/similarity") / f"{args.dataset}.pt" if config.uses_similarity else None
        train(config, data_dir=Path("data/processed") / args.dataset, out_dir=args.out,
              checkpoint_dir=Path("checkpoints") / args.out.as_posix().lstrip("/"),
              similarity_path=similarity, warm_start=args.warm_start,
              warmup_data_dir=Path("data/processed") / args.warmup_dataset if args.warmup_dataset else None)
    return run_stage(f"train {args.dataset} {variant_name(args.family, args.mixing)} seed {args.seed}", body)


if __name__ == "__main__":
    sys.exit(main())
