"""Classify new texts with a trained classifier folder (a run's model/, e.g.
runs/wos/prompt_lhmix/seed0/model after `make repro`):

    python tools/predict.py MODEL_DIR --input texts.txt --output predictions.jsonl
    echo "a text about gene expression" | python tools/predict.py MODEL_DIR
    python tools/predict.py MODEL_DIR --format jsonl --input data/processed/wos/test.jsonl --top-k 3

Input: one text a line (--format text; ids are line numbers), or JSON lines with "text" and an optional "id"
(--format jsonl). Output: one JSON line per text, {"id", "labels", "scores"}: the labels scoring above
--threshold (0: the run's own decisions; each label decided on its own, ancestors included only where the
model decides them) and their scores (with --top-k K, also the K best). A bad line stops the command with one
line naming the file and line, before anything is written; --output is written whole or not at all.
"""
import argparse
import sys
from pathlib import Path

from lhmix.core.errors import LhmixError


def main(argv: list[str]) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("model_dir", metavar="MODEL_DIR", type=Path, help="a run's model/ folder")
    arguments.add_argument("--input", type=Path, help="the texts (default: standard input)")
    arguments.add_argument("--output", type=Path, help="where to write the predictions (default: standard output)")
    arguments.add_argument("--format", choices=("text", "jsonl"), default="text", help="input format (default text)")
    arguments.add_argument("--batch-size", type=int, default=32, help="texts scored at once (default 32)")
    arguments.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                           help="auto: a GPU when there is one (default)")
    arguments.add_argument("--threshold", type=float, default=0.0, help="decide a label above this score (default 0)")
    arguments.add_argument("--top-k", type=int, default=0, help="also show the K best scores (default 0)")
    args = arguments.parse_args(argv)

    from lhmix.inference import predict_file

    try:
        if args.input is None:
            raw, source = sys.stdin.buffer.read(), "<stdin>"
        else:
            try:
                raw, source = args.input.read_bytes(), str(args.input)
            except OSError as error:
                raise LhmixError(f"{args.input}: cannot read ({error.strerror})") from None
        written = predict_file(args.model_dir, raw, source, sys.stdout if args.output is None else args.output,
                               form=args.format, batch_size=args.batch_size, device=args.device,
                               threshold=args.threshold, top_k=args.top_k)
    except LhmixError as error:
        print(f"predict: {error}", file=sys.stderr)
        return 1
    if args.output is not None:
        print(f"{args.output}: {written} predictions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
