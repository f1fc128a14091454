"""One run's settings: its variant, seed and what params.yaml says of it.

Variants (family x mixing, and the prompt family's controls) are named in lhmix.core.vocabulary.

`TrainConfig.from_params` reads exactly the keys the run uses, so a stage declares exactly those:
a warm-up reads no max_epochs, only Mixup reads train.mixup_beta_a, only the fixed-lambda control reads
train.fixed_lambda, only LH-Mix and its shuffled control read alpha, beta and similarity.source (and, with the
published source, similarity.label_length and attention_mask), and only the prompt family reads model.prompt
(head, mlm_weight, graph).
"""
from __future__ import annotations

from dataclasses import dataclass

from lhmix.core.errors import ParamError
from lhmix.core.params import Params, check_integer, check_number
from lhmix.core.vocabulary import (EARLY_STOPPING, GRAPHS, HEADS, LOSSES, REGIMES, SIMILARITY_MIXINGS,
                                   SIMILARITY_SOURCES, VARIANTS, check_choice, check_family_mixing, parse_variant,
                                   variant_name)
from lhmix.core.ratios import check_fixed_ratio, check_ratio_params

DEVICES = ("auto", "cpu", "cuda")
__all__ = ["DEVICES", "TrainConfig", "VARIANTS", "parse_variant", "variant_name"]


@dataclass(frozen=True)
class TrainConfig:
    family: str
    mixing: str
    seed: int
    classifier: str = "minilm"   # encoder name, see lhmix.model.encoders
    head: str | None = "mlm"     # prompt family: mlm | linear; None for bert
    mlm_weight: float = 0.0      # prompt family: HPT's MLM loss weight
    graph: str | None = "none"   # prompt family: HPT's hierarchy injection, none | gat | gcn; None for bert
    max_length: int = 64
    batch_size: int = 16
    eval_batch_size: int = 128
    lr: float = 3e-5
    warmup_epochs: int = 2
    max_epochs: int | None = 4   # None: a warm-up, which trains warmup_epochs and stops
    patience: int = 5
    loss: str = "per_depth"            # lhmix.core.vocabulary.LOSSES
    early_stopping: str = "ours"       # lhmix.core.vocabulary.EARLY_STOPPING
    mixup_beta_a: float | None = None  # mixup only
    fixed_lambda: float | None = None  # fixed_lambda only
    alpha: float | None = None         # lhmix and lhmix_shuffled only
    beta: float | None = None
    similarity_source: str | None = None  # lhmix and lhmix_shuffled only: frozen (None: frozen) | published
    label_length: int | None = None       # the published source only (similarity.label_length)
    label_mask: bool | None = None        # the published source only (similarity.attention_mask)
    device: str = "auto"
    train_fraction: float = 1.0

    def __post_init__(self):
        variant = check_family_mixing(self.family, self.mixing)
        check_integer("seed", self.seed, minimum=0)
        for name in ("batch_size", "eval_batch_size", "patience", "max_length"):
            check_integer(f"train.{name}", getattr(self, name), minimum=1)
        check_integer("train.warmup_epochs", self.warmup_epochs, minimum=0)
        if self.max_epochs is not None:
            check_integer("train.max_epochs", self.max_epochs, minimum=max(1, self.warmup_epochs))
        elif self.mixing != "none":
            raise ParamError("train.max_epochs", None, f"an integer for {variant} (only a warm-up has none)")
        check_number("train.lr", self.lr, 0, strict_minimum=True)
        check_choice("train.device", self.device, DEVICES)
        check_choice("train.loss", self.loss, LOSSES)
        check_choice("train.early_stopping", self.early_stopping, EARLY_STOPPING)
        fraction = check_number("train_fraction", self.train_fraction, 0, strict_minimum=True)
        if fraction > 1:
            raise ParamError("train_fraction", fraction, "a number in (0, 1]")
        if self.family == "prompt":
            check_choice("model.prompt.head", self.head, HEADS)
            check_number("model.prompt.mlm_weight", self.mlm_weight, minimum=0)
            check_choice("model.prompt.graph", self.graph, GRAPHS)
        elif self.head is not None or self.mlm_weight or self.graph is not None:
            raise ParamError("model.bert", {"head": self.head, "mlm_weight": self.mlm_weight, "graph": self.graph},
                             "no head, MLM loss or graph: the bert family is a [CLS] classifier")
        similarity = self.mixing in SIMILARITY_MIXINGS
        expected = {"mixup_beta_a": self.mixing == "mixup", "fixed_lambda": self.mixing == "fixed_lambda",
                    "alpha": similarity, "beta": similarity}
        for name, wanted in expected.items():
            if (getattr(self, name) is not None) != wanted:
                raise ParamError(name, getattr(self, name),
                                 f"{'a number' if wanted else 'nothing'} for the variant {variant}")
        if self.mixing == "mixup":
            check_number("train.mixup_beta_a", self.mixup_beta_a, 0, strict_minimum=True)
        if self.mixing == "fixed_lambda":
            check_fixed_ratio(self.fixed_lambda)
        if similarity:
            check_ratio_params(self.alpha, self.beta)
        self._check_similarity_source(similarity)

    def _check_similarity_source(self, similarity: bool) -> None:
        if not similarity:
            if (self.similarity_source, self.label_length, self.label_mask) != (None, None, None):
                raise ParamError("similarity", {"source": self.similarity_source}, f"nothing for {self.variant}")
            return
        if self.similarity_source is None:
            object.__setattr__(self, "similarity_source", "frozen")
        published = check_choice("similarity.source", self.similarity_source, SIMILARITY_SOURCES) == "published"
        if published:
            check_integer("similarity.label_length", self.label_length, minimum=2)
            if not isinstance(self.label_mask, bool):
                raise ParamError("similarity.attention_mask", self.label_mask, "true or false")
        elif (self.label_length, self.label_mask) != (None, None):
            raise ParamError("similarity.label_length", self.label_length, "nothing for the frozen source")

    @property
    def uses_similarity(self) -> bool:
        return self.mixing in SIMILARITY_MIXINGS

    @property
    def uses_published_similarity(self) -> bool:
        """s from the classifier's own encoder at every mixing step (lhmix.model.published_similarity)."""
        return self.similarity_source == "published"

    @property
    def variant(self) -> str:
        return variant_name(self.family, self.mixing)

    @property
    def is_warmup(self) -> bool:
        return self.max_epochs is None

    @classmethod
    def from_params(cls, params: Params, family: str, mixing: str, seed, train_fraction=1.0,
                    warmup: bool = False, alpha=None, beta=None, graph: str | None = None,
                    regime: str = "main") -> "TrainConfig":
        """The settings of one run from params.yaml; alpha and beta (LH-Mix) and the prompt's graph
        from params unless given (a sweep point, a Table 6 run), alpha, beta and the fixed lambda from
        the keys of `regime` (lhmix.core.vocabulary.REGIMES). A warm-up reads no max_epochs."""
        check_family_mixing(family, mixing)
        regime_keys = REGIMES[check_choice("regime", regime, tuple(REGIMES))]
        if graph is not None and family != "prompt":
            raise ParamError("graph", graph, f"no graph for the {family} family (HPT's hierarchy injection feeds "
                             "the prompt's depth markers)")
        values = {name: params.get(f"train.{name}")
                  for name in ("max_length", "batch_size", "eval_batch_size", "lr", "warmup_epochs",
                               "patience", "device", "loss", "early_stopping")}
        if family == "prompt":
            values["head"] = params.get("model.prompt.head")
            values["mlm_weight"] = params.get("model.prompt.mlm_weight")
            values["graph"] = params.get("model.prompt.graph") if graph is None else graph
        else:
            values.update(head=None, mlm_weight=0.0, graph=None)
        values["max_epochs"] = None if warmup else params.get("train.max_epochs")
        if mixing == "mixup":
            values["mixup_beta_a"] = params.get("train.mixup_beta_a")
        if mixing == "fixed_lambda":
            values["fixed_lambda"] = params.get(regime_keys["fixed_lambda"])
        if mixing in SIMILARITY_MIXINGS:
            values["alpha"] = params.get(regime_keys["alpha"]) if alpha is None else _number_argument("alpha", alpha)
            values["beta"] = params.get(regime_keys["beta"]) if beta is None else _number_argument("beta", beta)
            values["similarity_source"] = params.get("similarity.source")
            if values["similarity_source"] == "published":
                values["label_length"] = params.get("similarity.label_length")
                values["label_mask"] = params.get("similarity.attention_mask")
        return cls(family=family, mixing=mixing, seed=_integer_argument("seed", seed),
                   classifier=params.text("encoder.classifier"),
                   train_fraction=_number_argument("train_fraction", train_fraction), **values)

    def run_name(self) -> str:
        """A readable name of this run (checkpoint folders, log lines)."""
        name = f"{self.variant}-s{self.seed}"
        if self.train_fraction != 1:
            name += f"-f{self.train_fraction:g}"
        if self.uses_similarity:
            name += f"-a{self.alpha:g}-b{self.beta:g}"
        if self.uses_published_similarity:
            name += f"-published{self.label_length}" + ("-masked" if self.label_mask else "")
        if self.mixing == "fixed_lambda":
            name += f"-l{self.fixed_lambda:g}"
        if self.loss != "per_depth":
            name += f"-{self.loss}"
        if self.early_stopping != "ours":
            name += f"-stop_{self.early_stopping}"
        if self.graph not in (None, "none"):
            name += f"-{self.graph}"
        return name


def _integer_argument(name: str, text) -> int:
    try:
        return check_integer(name, int(text) if isinstance(text, str) else text, minimum=0)
    except ValueError:
        raise ParamError(name, text, "an integer >= 0") from None


def _number_argument(name: str, text) -> float:
    try:
        return check_number(name, float(text) if isinstance(text, str) else text)
    except ValueError:
        raise ParamError(name, text, "a number") from None
