"""Stage augment@<dataset>: EDA (Wei and Zou 2019) on the train split of the processed dataset --data
-> --out (data/processed/<dataset>_eda), a complete processed dataset (lhmix.augment.dataset) that
stages/train.py trains on with --data <that folder>. Params: augment.eda."""
import sys

from lhmix.augment.dataset import summary, write_augmented
from lhmix.augment.eda import eda_augmenter
from lhmix.augment.synonyms import wordnet_synonyms
from lhmix.core.errors import ParamError
from lhmix.core.stage import data_to_out, read_params, run_stage


def main(argv=None) -> int:
    args = data_to_out(__doc__, "the augmented copy's folder", argv)
    dataset = args.data.name

    def body() -> str:
        params = read_params()
        alpha = params.number("augment.eda.alpha", 0, strict_minimum=True)
        if alpha >= 1:
            raise ParamError("augment.eda.alpha", alpha, "a fraction in (0, 1) of a text's words")
        settings = {"alpha": alpha, "num_aug": params.integer("augment.eda.num_aug", minimum=1),
                    "seed": params.integer("augment.eda.seed", minimum=0)}
        augmenter = eda_augmenter(**settings, synonyms=wordnet_synonyms())
        return f"augment {summary(write_augmented(args.data, args.out, 'eda', augmenter, settings))}"
    return run_stage(f"augment {dataset}", body)


if __name__ == "__main__":
    sys.exit(main())
