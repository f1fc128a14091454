"""A params.yaml from someone else: no value may name a path outside its stage's folder, run a command, or pass
the check stage and crash later (issue 29, items 1, 2, 10, 16).

DVC interpolates params values into out paths and shell commands and removes a stage's outs before its command
runs; `dvc repro -s` and `--downstream` skip the check stage. Each case puts a victim folder beside a copy of the
repository and checks that it is still there, whichever entry point ran.
"""
import re
import sys
from pathlib import Path

import pytest

from lhmix.core.errors import LhmixError, ParamError
from lhmix.core.params import Params
from lhmix.pipeline.plan import SEED_LIMIT, check_params
from tests.test_pipeline import _copy_with_profile, _run
from tests.test_pipeline_plan import PARAMS

# From runs/wordnet/sweep/alpha-<value>: five levels up is the folder holding the repository copy.
TRAVERSAL = "/../../../../../victim"
QUOTE = "1';touch ../PWNED;echo '"
SWEEP = "  alpha:\n  - 0.5\n  - 2\n"   # sweeps.alpha of the tiny profile, as composed


def _hostile_copy(tmp_path: Path, value) -> Path:
    """The tiny profile with `value` (written as Python's repr, which YAML reads back) as a point of sweeps.alpha, the sweep stage's deps in place (so that DVC gets
    to remove its outs and run its command), and a victim folder beside the repository."""
    root = _copy_with_profile(tmp_path / "repo", "tiny", replace={SWEEP: f"  alpha:\n  - 0.5\n  - {value!r}\n"})
    for dependency in ("data/warmup/wordnet/prompt-s0.pt", "data/similarity/wordnet.pt", "data/processed/wordnet/x"):
        (root / dependency).parent.mkdir(parents=True, exist_ok=True)
        (root / dependency).write_text("placeholder")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "precious.txt").write_text("keep me")
    return root


def _untouched(tmp_path: Path) -> None:
    assert (tmp_path / "victim" / "precious.txt").read_text() == "keep me"
    assert not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize("value", [TRAVERSAL, QUOTE], ids=["traversal", "quote"])
@pytest.mark.parametrize("entry", [["dvc", "repro", "-s"], ["dvc", "repro", "--downstream"],
                                   [sys.executable, "tools/repro_parallel.py", "--jobs", "1", "--devices", ""]],
                         ids=["single-item", "downstream", "runner"])
def test_a_hostile_value_is_refused_before_dvc_acts(tmp_path, value, entry):
    root = _hostile_copy(tmp_path, value)
    result = _run([*entry, f"sweep_alpha@wordnet-{value}"], root, check=False)
    _untouched(tmp_path)
    assert result.returncode != 0
    assert f"parameter 'sweeps.alpha[1]' = {value!r}: expected a finite number > 0" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_value_set_by_exp_run_is_refused_before_dvc_acts(tmp_path):
    root = _hostile_copy(tmp_path, 1)   # a valid grid; `-S` then writes the hostile one
    result = _run(["dvc", "exp", "run", "-s", "-S", f"sweeps.alpha=[0.5, '{TRAVERSAL}']",
                   f"sweep_alpha@wordnet-{TRAVERSAL}"], root, check=False)
    _untouched(tmp_path)
    assert result.returncode != 0
    assert "parameter 'sweeps.alpha[1]'" in result.stderr + result.stdout


def test_an_out_outside_the_repository_is_refused_whatever_the_params(tmp_path):
    """The guard's second check holds DVC's resolved outs themselves, so a future value interpolated into a path
    that the shape check does not know of cannot delete outside the repository either."""
    root = _hostile_copy(tmp_path, 1)
    dvc_yaml = (root / "dvc.yaml").read_text()
    out = "outs: ['runs/${item.dataset}/sweep/alpha-${item.alpha}']"
    assert dvc_yaml.count(out) == 1
    (root / "dvc.yaml").write_text(dvc_yaml.replace(out, "outs: ['runs/${item.dataset}/../../../victim']"))
    result = _run(["dvc", "repro", "-s", "sweep_alpha@wordnet-1"], root, check=False)
    _untouched(tmp_path)
    assert result.returncode != 0
    assert "sweep_alpha@wordnet-1: out '../victim' lies outside the repository" in result.stderr, result.stderr


def _params(tmp_path: Path, text: str) -> Params:
    (tmp_path / "params.yaml").write_text(text)
    return Params.load(tmp_path / "params.yaml")


@pytest.mark.parametrize("old, new, key", [
    ("seeds: [0, 1, 2]", "seeds: [0, 1, 18446744073709551616]", "seeds[2]"),
    ("seeds: [0, 1, 2]", "seeds: [0, 1, 4294967296]", "seeds[2]"),
    ("  seed: 1\n", "  seed: 4294967296\n", "figure6.seed"),
    ("  seeds: [0, 2]", "  seeds: [0, 4294967296]", "augment.seeds[1]"),
])
def test_a_seed_beyond_what_numpy_and_sklearn_accept_is_refused_naming_the_key(tmp_path, old, new, key):
    assert old in PARAMS
    with pytest.raises(ParamError, match=rf"parameter '{re.escape(key)}' = \d+: expected an integer in \[0, 2\*\*32\)"):
        check_params(_params(tmp_path, PARAMS.replace(old, new)))


def test_the_largest_seed_numpy_and_sklearn_accept_passes(tmp_path):
    largest = SEED_LIMIT - 1
    plan = check_params(_params(tmp_path, PARAMS.replace("seeds: [0, 1, 2]", f"seeds: [0, 1, 2, {largest}]")))
    assert plan.seeds == [0, 1, 2, largest]


def test_the_prepare_seed_is_checked_in_the_check_stage(tmp_path):
    text = PARAMS + "prepare:\n  wordnet:\n    seed: 4294967296\n"
    with pytest.raises(ParamError, match=r"parameter 'prepare.wordnet.seed' = 4294967296: expected an integer "
                                         r"in \[0, 2\*\*32\)"):
        check_params(_params(tmp_path, text))
    assert check_params(_params(tmp_path, text.replace("4294967296", "7"))).seeds == [0, 1, 2]


def test_the_seed_limit_is_what_numpy_and_sklearn_accept():
    """2**32 - 1 is the largest seed of np.random.seed and of scikit-learn's random_state; torch accepts more."""
    import numpy as np
    import torch
    from sklearn.model_selection import train_test_split

    np.random.RandomState(SEED_LIMIT - 1)
    train_test_split(list(range(10)), test_size=0.2, random_state=SEED_LIMIT - 1)
    torch.manual_seed(SEED_LIMIT - 1)
    with pytest.raises(ValueError):
        np.random.RandomState(SEED_LIMIT)
    with pytest.raises(ValueError):   # sklearn's InvalidParameterError is a ValueError
        train_test_split(list(range(10)), test_size=0.2, random_state=SEED_LIMIT)


@pytest.mark.parametrize("old, new, key", [
    ("  alpha: [5e-1, 2, 1.0e+1]", "  alpha: [1, 1.0]", "sweeps.alpha"),
    ("  alpha: [5e-1, 2, 1.0e+1]", "  alpha: [5e-1, 10, 1.0e+1]", "sweeps.alpha"),
    ("  beta: [0.7, 1]", "  beta: [1, 0.7, 1.0]", "sweeps.beta"),
])
def test_grid_duplicates_are_compared_as_numbers(tmp_path, old, new, key):
    assert old in PARAMS
    with pytest.raises(LhmixError, match=rf"params: {key} = .* lists a value twice \(.* are one number"):
        check_params(_params(tmp_path, PARAMS.replace(old, new)))
