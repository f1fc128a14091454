"""Stage train: one run of a variant (bert, prompt, their _mixup and _lhmix) and seed, from the
warm-up state if given, scored on test with its best dev checkpoint -> --out DIR (metrics.json,
predictions.npz, live/). Params: train.*, encoder.classifier; *_lhmix read
data/similarity/<dataset>.pt and need --alpha and --beta. Under torchrun: DDP."""
import argparse
import sys
from pathlib import Path

from lhmix.cli import read_params, run_stage
from lhmix.train import TrainConfig, train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--variant", required=True, help="e.g. prompt_lhmix; bert = bert_none")
    parser.add_argument("--seed", required=True)
    parser.add_argument("--train-fraction", default="1")
    parser.add_argument("--alpha", help="LH-Mix: > 0")
    parser.add_argument("--beta", help="LH-Mix: in (0.5, 1]")
    parser.add_argument("--warm-start", type=Path, help="a state written by stages/warmup.py")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    def body() -> None:
        config = TrainConfig.from_params(read_params(), args.variant, args.seed, args.train_fraction,
                                         args.alpha, args.beta)
        similarity = Path("data/similarity") / f"{args.dataset}.pt" if config.mixing == "lhmix" else None
        train(config, data_dir=Path("data/processed") / args.dataset, out_dir=args.out,
              checkpoint_dir=Path("checkpoints") / args.out.as_posix().lstrip("/"),
              similarity_path=similarity, warm_start=args.warm_start)
    return run_stage(f"train {args.dataset} {args.variant} seed {args.seed}", body)


if __name__ == "__main__":
    sys.exit(main())
