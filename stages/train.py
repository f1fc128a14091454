"""Stage train_<mixing>@<dataset>-<family>-<seed> (and the sweep, sparse and table6 stages): one run of a
variant on the processed dataset --data, continued from its family's warm-up state, scored on test with its
best dev checkpoint -> --out DIR (metrics.json, predictions.npz, scores.npz, live/). LH-Mix runs read the similarity
table --similarity and alpha, beta from params.yaml unless --alpha/--beta give a sweep point; a prompt run
reads its graph encoder from params.yaml unless --graph gives one (Table 6). Every path comes from the
command line, as dvc.yaml declares it. Under torchrun: DDP."""
import sys
from pathlib import Path

from lhmix.core.errors import LhmixError
from lhmix.core.stage import checkpoint_folder, data_folder, parser, read_params, run_stage
from lhmix.core.vocabulary import CONTROLS, FAMILIES, MIXINGS, variant_name
from lhmix.core.vocabulary import GRAPHS, REGIMES
from lhmix.training.config import TrainConfig
from lhmix.training.run import train


def main(argv=None) -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--data", required=True, type=data_folder, help="the processed dataset's folder")
    arguments.add_argument("--family", required=True, choices=FAMILIES)
    arguments.add_argument("--mixing", required=True, choices=MIXINGS + CONTROLS,
                           help=f"{', '.join(CONTROLS)}: controls of LH-Mix, prompt family only")
    arguments.add_argument("--seed", required=True)
    arguments.add_argument("--train-fraction", default="1")
    arguments.add_argument("--alpha", help="LH-Mix sweep point (default: alpha in params.yaml)")
    arguments.add_argument("--beta", help="LH-Mix sweep point (default: beta in params.yaml)")
    arguments.add_argument("--regime", choices=tuple(REGIMES), default="main",
                           help="LH-Mix and its controls: the params keys of alpha, beta and the fixed lambda "
                           "(main: alpha, beta, train.fixed_lambda; spread: spread.*)")
    arguments.add_argument("--graph", choices=GRAPHS,
                           help="prompt family, Table 6: HPT's hierarchy injection (default: model.prompt.graph)")
    arguments.add_argument("--warm-start", type=Path, help="a state written by stages/warmup.py")
    arguments.add_argument("--warmup-data", type=data_folder, help="the processed dataset the warm-up trained on, "
                           "when not --data (an augmented copy continues the plain warm-up)")
    arguments.add_argument("--similarity", type=Path, help="the similarity table (LH-Mix and its controls)")
    arguments.add_argument("--out", required=True, type=Path)
    args = arguments.parse_args(argv)

    def body() -> None:
        config = TrainConfig.from_params(read_params(), args.family, args.mixing, args.seed, args.train_fraction,
                                         alpha=args.alpha, beta=args.beta, graph=args.graph, regime=args.regime)
        if config.uses_similarity != (args.similarity is not None):
            raise LhmixError(f"--similarity: expected the similarity table {config.variant} mixes by "
                             "(stages/similarity.py writes it)" if config.uses_similarity else
                             f"--similarity {args.similarity}: expected none, {config.variant} reads no "
                             "similarity table")
        train(config, data_dir=args.data, out_dir=args.out, checkpoint_dir=checkpoint_folder(args.out),
              similarity_path=args.similarity, warm_start=args.warm_start, warmup_data_dir=args.warmup_data)
    return run_stage(f"train {args.data.name} {variant_name(args.family, args.mixing)} seed {args.seed}", body)


if __name__ == "__main__":
    sys.exit(main())
