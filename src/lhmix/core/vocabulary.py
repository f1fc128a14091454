"""The experiment's vocabulary, written once: families, mixings, variants, and the choices of the rules
a run can follow. Torch-free, so that the pipeline's shape and the reporting read it without a model.

A variant is a family and a mixing, named `<family>` (no mixing) or `<family>_<mixing>` everywhere
(params, stage names, run folders, metrics keys):
  family   bert            [CLS] classifier
           prompt          hierarchical prompt (lhmix.model.classifier)
  mixing   none            plain training
           mixup           lambda ~ Beta(a, a) per sample                      (Zhang et al. 2018)
           lhmix           lambda = -(beta - 0.5) s^alpha + beta per sample      (LH-Mix Eq. 4)
  controls (prompt family only; what LH-Mix's gain is made of)
           lhmix_shuffled  LH-Mix with each pair's similarity taken from another pair of the batch:
                           the same lambdas, no relation to the two texts' hierarchies
           fixed_lambda    Mixup at one lambda (train.fixed_lambda) for every pair
"""
from __future__ import annotations

import re

from lhmix.core.errors import ParamError

DATASETS = ("wordnet", "wos", "nyt", "rcv1")     # the readers of lhmix.datasets
AUGMENTATIONS = ("eda", "bt")                     # data/processed/<dataset>_<augmentation> (Table 7)
FAMILIES = ("bert", "prompt")
MIXINGS = ("none", "mixup", "lhmix")              # the paper's Table 3, for every family
CONTROLS = ("lhmix_shuffled", "fixed_lambda")     # prompt family only
CONTROL_FAMILY = "prompt"
SIMILARITY_MIXINGS = ("lhmix", "lhmix_shuffled")  # the mixings that read the similarity, alpha, beta
# Where LH-Mix's similarity s comes from: frozen = the table of a frozen encoder, computed ahead of training (the
# paper's text); published = the classifier's own encoder at every mixing step (the released code's models/prompt.py)
SIMILARITY_SOURCES = ("frozen", "published")
# Training objective: ZMLCE summed over depths (the papers' Eq. 2 / Eq. 7) or one ZMLCE per document over
# every label with a single 0 anchor (the published code's models/loss.py)
LOSSES = ("per_depth", "per_document")
# Early stopping: ours = dev macro-F1, patience counted from the end of the warm-up at the earliest;
# published = the released code's: reset on a better dev macro-F1 or micro-F1, counted from epoch 0
EARLY_STOPPING = ("ours", "published")
# LH-Mix's mechanism regimes: where each reads its ratio's params. main is the paper's point (alpha, beta at the
# top of params.yaml); spread is a point of the paper's grid where lambda spreads over the training pairs, so that
# the controls (shuffled similarity, fixed lambda at the regime's mean lambda) can test the hierarchy's guidance.
REGIMES = {"main": {"alpha": "alpha", "beta": "beta", "fixed_lambda": "train.fixed_lambda"},
           "spread": {"alpha": "spread.alpha", "beta": "spread.beta", "fixed_lambda": "spread.fixed_lambda"}}
HEADS = ("mlm", "linear")            # the prompt's label scoring (lhmix.model.classifier)
GRAPHS = ("none", "gat", "gcn")      # the prompt's hierarchy injection (lhmix.model.graph)


def variant_name(family: str, mixing: str) -> str:
    """bert + none -> bert, prompt + lhmix -> prompt_lhmix."""
    return family if mixing == "none" else f"{family}_{mixing}"


VARIANTS = (tuple(variant_name(family, mixing) for family in FAMILIES for mixing in MIXINGS)
            + tuple(variant_name(CONTROL_FAMILY, control) for control in CONTROLS))


def parse_variant(name: str) -> tuple[str, str]:
    """'prompt_lhmix' -> ('prompt', 'lhmix'); 'bert' -> ('bert', 'none')."""
    check_choice("variant", name, VARIANTS)
    family, _, mixing = name.partition("_")
    return family, mixing or "none"


def family_of(variant: str) -> str:
    """bert_mixup -> bert: the variants of a family continue the same warm-up state of each seed."""
    return parse_variant(variant)[0]


def check_family_mixing(family: str, mixing: str) -> str:
    """The variant of a family and a mixing, or a ParamError naming the one that does not exist."""
    check_choice("family", family, FAMILIES)
    if family == CONTROL_FAMILY:
        check_choice("mixing", mixing, MIXINGS + CONTROLS)
    else:
        check_choice("mixing", mixing, MIXINGS, f"for the {family} family; the controls {', '.join(CONTROLS)} "
                     f"train the {CONTROL_FAMILY} family only")
    return variant_name(family, mixing)


def check_folder_name(name: str, value) -> str:
    """A dataset's folder name under data/processed/ (a dataset, its augmented copy <dataset>_eda, or a test's
    own): letters, digits, '_' and '-', so that no path or shell syntax gets through. Stage scripts check their
    own arguments: `dvc repro -s` runs a stage without the check stage."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", value):
        raise ParamError(name, value, "a dataset name of letters, digits, '_' and '-' (e.g. "
                         f"{', '.join(DATASETS)}, or {DATASETS[0]}_{AUGMENTATIONS[0]})")
    return value


def check_choice(name: str, value, choices: tuple[str, ...], why: str = "") -> str:
    """value when it is one of `choices`, else a ParamError naming the parameter and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ParamError(name, value, f"one of {', '.join(choices)}" + (f" ({why})" if why else ""))
    return value
