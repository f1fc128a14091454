"""Stage warmup: the first train.warmup_epochs epochs (no Mixup) of one family, seed and train
fraction, saved as a full training state to --out; every variant of the family continues from it
(stages/train.py --warm-start). Params: train.*, encoder.classifier."""
import argparse
import sys
from pathlib import Path

from lhmix.cli import read_params, run_stage
from lhmix.train import FAMILIES, TrainConfig, warmup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--family", required=True, choices=FAMILIES)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--train-fraction", default="1")
    parser.add_argument("--out", required=True, type=Path, help="the warm-up state file to write")
    args = parser.parse_args(argv)

    def body() -> None:
        config = TrainConfig.from_params(read_params(), args.family, args.seed, args.train_fraction)
        warmup(config, data_dir=Path("data/processed") / args.dataset, out_file=args.out,
               checkpoint_dir=Path("checkpoints") / args.out.as_posix().lstrip("/"))
    return run_stage(f"warmup {args.dataset} {args.family} seed {args.seed}", body)


if __name__ == "__main__":
    sys.exit(main())
