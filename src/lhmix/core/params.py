"""params.yaml, read the way DVC reads it, with typed getters that name the key in every error.

DVC parses params.yaml as YAML 1.2 (ruamel.yaml, safe) and interpolates `${...}` with `str()` of
those values; reading it the same way here means run folder names, grid points and values agree
with DVC's by construction (PyYAML, YAML 1.1, reads `5e-1` as a string and `yes` as true).

Every getter records the dotted key it read (`Params.read`), so a test can hold what a stage's code
reads against what its dvc.yaml entry declares.
"""
from __future__ import annotations

import difflib
import math
from numbers import Integral, Real
from pathlib import Path

from lhmix.core.errors import LhmixError, MalformedInput, ParamError
from lhmix.core.vocabulary import check_choice

MISSING = object()


def load_yaml(path: str | Path) -> dict:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            values = YAML(typ="safe").load(handle)
    except FileNotFoundError:
        raise LhmixError(f"{path}: not found (run from the repository root)") from None
    except (YAMLError, UnicodeDecodeError) as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        raise MalformedInput(path, None if line is None else line + 1, f"not valid YAML ({error})") from None
    if not isinstance(values, dict):
        raise MalformedInput(path, None, "expected a mapping of parameters at the top level")
    return values


class Params:
    def __init__(self, values: dict, source: str = "params.yaml"):
        self.values, self.source = values, source
        self.read: set[str] = set()

    @classmethod
    def load(cls, path: str | Path = "params.yaml") -> "Params":
        return cls(load_yaml(path), str(path))

    def get(self, key: str, default=MISSING):
        """The value at a dotted key, e.g. 'train.lr'; a missing key is a ParamError unless a default is given."""
        self.read.add(key)
        value = self.values
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                if default is not MISSING:
                    return default
                raise ParamError(key, None, f"a value in {self.source} (the key is missing)")
            value = value[part]
        return value

    def integer(self, key: str, minimum: int | None = None):
        return check_integer(key, self.get(key), minimum)

    def number(self, key: str, minimum: float | None = None, strict_minimum: bool = False) -> float:
        return check_number(key, self.get(key), minimum, strict_minimum)

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        return check_choice(key, self.get(key), choices)

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value:
            raise ParamError(key, value, "a non-empty string")
        return value

    def items(self, key: str, check, may_be_empty: bool = False) -> list:
        """A list (non-empty unless `may_be_empty`) whose items pass `check(name, item)` (which returns the
        item as wanted)."""
        value = self.get(key)
        if not isinstance(value, list) or not (value or may_be_empty):
            raise ParamError(key, value, "a list" if may_be_empty else "a non-empty list")
        return [check(f"{key}[{index}]", item) for index, item in enumerate(value)]


def check_integer(name: str, value, minimum: int | None = None) -> int:
    """An int, never a bool nor a float: 16.0 is refused rather than converted, because DVC interpolates
    the value as written (a seed 1.0 names its run folder `-s1.0`) and a float batch size cannot
    slice a batch."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ParamError(name, value, "an integer" + (f" >= {minimum}" if minimum is not None else ""))
    if minimum is not None and value < minimum:
        raise ParamError(name, value, f"an integer >= {minimum}")
    return int(value)


def check_number(name: str, value, minimum: float | None = None, strict_minimum: bool = False) -> float:
    """A finite real number (ints accepted: `dvc exp run -S alpha=2` writes an int); never a bool."""
    bound = "" if minimum is None else f" {'>' if strict_minimum else '>='} {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ParamError(name, value, "a finite number" + bound)
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ParamError(name, value, "a number" + bound)
    return float(value)


# Every key params.yaml may hold: a mapping is a section (its keys are all there is), ANY a value of any shape
# (checked where it is read), NO_SETTINGS a section that takes none. A key not here is a typo that every stage
# would otherwise ignore; `read_params` (every stage) and lhmix.core.profiles refuse it.
ANY = None
NO_SETTINGS = "no settings"
KNOWN_KEYS = {
    "profile": ANY,   # the conf/profile/ file composed in (lhmix.core.profiles); read by no stage
    "alpha": ANY, "beta": ANY, "datasets": ANY, "seeds": ANY, "families": ANY,
    "spread": {"alpha": ANY, "beta": ANY, "fixed_lambda": ANY},   # the second mechanism regime
    "prepare": {"wordnet": ANY, "wos": ANY, "nyt": ANY, "rcv1": ANY},   # each reader checks its own keys
    "encoder": {"classifier": ANY, "similarity": ANY, "similarity_max_length": ANY},
    "similarity": {"source": ANY, "label_length": ANY, "attention_mask": ANY},
    "model": {"bert": NO_SETTINGS, "prompt": {"head": ANY, "mlm_weight": ANY, "graph": ANY}},
    "train": {key: ANY for key in ("max_length", "batch_size", "eval_batch_size", "lr", "warmup_epochs", "max_epochs",
                                   "patience", "early_stopping", "loss", "mixup_beta_a", "fixed_lambda", "device")},
    "sweeps": {"seed": ANY, "alpha": ANY, "beta": ANY, "sparse": ANY},
    "augment": {"seeds": ANY, "eda": {"alpha": ANY, "num_aug": ANY, "seed": ANY},
                "back_translation": {"models": ANY, "max_length": ANY, "seeds": ANY}},
    "table6": {"graphs": ANY, "seeds": ANY},
    "figure6": {"label": ANY, "seed": ANY},
    "stats": {"equivalence_margin": ANY, "target_mdd": {"micro_f1": ANY, "macro_f1": ANY}},
}


def check_known_keys(values, source: str = "params.yaml", known: dict = KNOWN_KEYS, where: str = "") -> None:
    """A ParamError for the first key of `values` that is not in `known`, naming the nearest known key, or for
    a section given a value that is not a mapping, or settings under a section that takes none."""
    if not isinstance(values, dict):
        raise ParamError(where.rstrip(".") or source, values, "a mapping of parameters")
    for key, value in values.items():
        name = f"{where}{key}"
        if key not in known:
            nearest = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.5)
            hint = f"; did you mean '{where}{nearest[0]}'?" if nearest else ""
            raise LhmixError(f"{source}: unknown key '{name}' (known here: "
                             f"{', '.join(where + str(k) for k in known)}){hint}")
        expected = known[key]
        if expected == NO_SETTINGS:
            if value not in (None, {}):
                raise ParamError(name, value, "{}: this section takes no settings (the bert family is a [CLS] "
                                 "classifier; its head, MLM loss and graph do not apply)")
        elif isinstance(expected, dict):
            check_known_keys(value, source, expected, f"{name}.")
