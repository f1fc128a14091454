"""One run's settings: its variant, seed and what params.yaml says of it.

A variant is a family and a mixing, named as in the paper's Table 3 everywhere (params, stage
names, run folders, metrics keys):
  family   bert    [CLS] classifier
           prompt  hierarchical prompt (lhmix.model.classifier)
  mixing   none    plain training
           mixup   lambda ~ Beta(a, a) per sample                 (Zhang et al. 2018)
           lhmix   lambda = -(beta - 0.5) s^alpha + beta per sample (LH-Mix Eq. 4)
  variant  bert, bert_mixup, bert_lhmix, prompt, prompt_mixup, prompt_lhmix

`TrainConfig.from_params` reads exactly the keys the run uses, so a stage declares exactly those:
a warm-up reads no max_epochs, only Mixup reads train.mixup_beta_a, only LH-Mix reads alpha and beta,
and only the prompt family reads model.prompt (head, mlm_weight, graph).
"""
from __future__ import annotations

from dataclasses import dataclass

from lhmix.core.errors import ParamError
from lhmix.core.params import Params, check_integer, check_number
from lhmix.model.classifier import HEADS
from lhmix.model.graph import GRAPHS
from lhmix.model.inputs import FAMILIES
from lhmix.model.mixup import check_ratio_params

MIXINGS = ("none", "mixup", "lhmix")
VARIANTS = tuple(family if mixing == "none" else f"{family}_{mixing}"
                 for family in FAMILIES for mixing in MIXINGS)
DEVICES = ("auto", "cpu", "cuda")


def variant_name(family: str, mixing: str) -> str:
    """bert + none -> bert, prompt + lhmix -> prompt_lhmix."""
    return family if mixing == "none" else f"{family}_{mixing}"


def parse_variant(name: str) -> tuple[str, str]:
    """'prompt_lhmix' -> ('prompt', 'lhmix'); 'bert' -> ('bert', 'none')."""
    if name not in VARIANTS:
        raise ParamError("variant", name, f"one of {', '.join(VARIANTS)}")
    family, _, mixing = name.partition("_")
    return family, mixing or "none"


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
    mixup_beta_a: float | None = None  # mixup only
    alpha: float | None = None         # lhmix only
    beta: float | None = None
    device: str = "auto"
    train_fraction: float = 1.0

    def __post_init__(self):
        variant = variant_name(self.family, self.mixing)
        parse_variant(variant)
        check_integer("seed", self.seed, minimum=0)
        for name in ("batch_size", "eval_batch_size", "patience", "max_length"):
            check_integer(f"train.{name}", getattr(self, name), minimum=1)
        check_integer("train.warmup_epochs", self.warmup_epochs, minimum=0)
        if self.max_epochs is not None:
            check_integer("train.max_epochs", self.max_epochs, minimum=max(1, self.warmup_epochs))
        elif self.mixing != "none":
            raise ParamError("train.max_epochs", None, f"an integer for {variant} (only a warm-up has none)")
        check_number("train.lr", self.lr, 0, strict_minimum=True)
        if self.device not in DEVICES:
            raise ParamError("train.device", self.device, f"one of {', '.join(DEVICES)}")
        fraction = check_number("train_fraction", self.train_fraction, 0, strict_minimum=True)
        if fraction > 1:
            raise ParamError("train_fraction", fraction, "a number in (0, 1]")
        if self.family == "prompt":
            if self.head not in HEADS:
                raise ParamError("model.prompt.head", self.head, f"one of {', '.join(HEADS)}")
            check_number("model.prompt.mlm_weight", self.mlm_weight, minimum=0)
            if self.graph not in GRAPHS:
                raise ParamError("model.prompt.graph", self.graph, f"one of {', '.join(GRAPHS)}")
        elif self.head is not None or self.mlm_weight or self.graph is not None:
            raise ParamError("model.bert", {"head": self.head, "mlm_weight": self.mlm_weight, "graph": self.graph},
                             "no head, MLM loss or graph: the bert family is a [CLS] classifier")
        expected = {"mixup_beta_a": self.mixing == "mixup", "alpha": self.mixing == "lhmix",
                    "beta": self.mixing == "lhmix"}
        for name, wanted in expected.items():
            if (getattr(self, name) is not None) != wanted:
                raise ParamError(name, getattr(self, name),
                                 f"{'a number' if wanted else 'nothing'} for the variant {variant}")
        if self.mixing == "mixup":
            check_number("train.mixup_beta_a", self.mixup_beta_a, 0, strict_minimum=True)
        if self.mixing == "lhmix":
            check_ratio_params(self.alpha, self.beta)

    @property
    def variant(self) -> str:
        return variant_name(self.family, self.mixing)

    @property
    def is_warmup(self) -> bool:
        return self.max_epochs is None

    @classmethod
    def from_params(cls, params: Params, family: str, mixing: str, seed, train_fraction=1.0,
                    warmup: bool = False, alpha=None, beta=None, graph: str | None = None) -> "TrainConfig":
        """The settings of one run from params.yaml; alpha and beta (LH-Mix) and the prompt's graph
        from params unless given (a sweep point, a Table 6 run). A warm-up reads no max_epochs."""
        if family not in FAMILIES:
            raise ParamError("family", family, f"one of {', '.join(FAMILIES)}")
        if mixing not in MIXINGS:
            raise ParamError("mixing", mixing, f"one of {', '.join(MIXINGS)}")
        if graph is not None and family != "prompt":
            raise ParamError("graph", graph, f"no graph for the {family} family (HPT's hierarchy injection feeds "
                             "the prompt's depth markers)")
        values = {name: params.get(f"train.{name}")
                  for name in ("max_length", "batch_size", "eval_batch_size", "lr", "warmup_epochs",
                               "patience", "device")}
        if family == "prompt":
            values["head"] = params.get("model.prompt.head")
            values["mlm_weight"] = params.get("model.prompt.mlm_weight")
            values["graph"] = params.get("model.prompt.graph") if graph is None else graph
        else:
            values.update(head=None, mlm_weight=0.0, graph=None)
        values["max_epochs"] = None if warmup else params.get("train.max_epochs")
        if mixing == "mixup":
            values["mixup_beta_a"] = params.get("train.mixup_beta_a")
        if mixing == "lhmix":
            values["alpha"] = params.get("alpha") if alpha is None else _number_argument("alpha", alpha)
            values["beta"] = params.get("beta") if beta is None else _number_argument("beta", beta)
        return cls(family=family, mixing=mixing, seed=_integer_argument("seed", seed),
                   classifier=params.text("encoder.classifier"),
                   train_fraction=_number_argument("train_fraction", train_fraction), **values)

    def run_name(self) -> str:
        """A readable name of this run (checkpoint folders, log lines)."""
        name = f"{self.variant}-s{self.seed}"
        if self.train_fraction != 1:
            name += f"-f{self.train_fraction:g}"
        if self.mixing == "lhmix":
            name += f"-a{self.alpha:g}-b{self.beta:g}"
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
