"""Stage augment_bt@<dataset>: back-translation of the train split of the processed dataset --data with the
models named in augment.back_translation.models -> --out (data/processed/<dataset>_bt), as augment@ does for
EDA. Where no models are named, or they are not on this disk, the folder holds only missing.json
saying why, and the stage succeeds: unless augment.back_translation.seeds asks for runs on it."""
import sys

from lhmix.augment.back_translation import back_translation_augmenter, check_models, missing_reason
from lhmix.augment.dataset import summary, write_augmented, write_missing
from lhmix.core.errors import LhmixError
from lhmix.core.stage import data_to_out, read_params, run_stage


def main(argv=None) -> int:
    args = data_to_out(__doc__, "the augmented copy's folder", argv)
    dataset = args.data.name

    def body() -> str:
        params = read_params()
        models = check_models(params.get("augment.back_translation.models"))
        max_length = params.integer("augment.back_translation.max_length", minimum=1)
        runs = params.get("augment.back_translation.seeds")
        reason = missing_reason(models)
        if reason and runs:
            raise LhmixError(f"{reason}\n(augment.back_translation.seeds = {runs} asks for runs on it)")
        if reason:
            return f"augment_bt {dataset}: missing, {write_missing(args.out, 'bt', reason)}: {reason}"
        settings = {"models": models, "max_length": max_length}
        augmenter = back_translation_augmenter(**settings)
        return f"augment_bt {summary(write_augmented(args.data, args.out, 'bt', augmenter, settings))}"
    return run_stage(f"augment_bt {dataset}", body)


if __name__ == "__main__":
    sys.exit(main())
