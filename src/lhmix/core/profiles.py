"""params.yaml composed from conf/ by DVC's Hydra composition: conf/config.yaml (the default, every key
explained) and one profile of conf/profile/ (only the keys that differ), plus Hydra overrides such as
`alpha=2`. `dvc exp run -S profile=tiny -S alpha=2` does this before it runs; `compose_params` below does
it for `dvc repro` through the same DVC function, so both write the same bytes.

Hydra merges mappings key by key and replaces every other value (lists included). A key that a profile
adds, which Hydra would keep, is refused here as in every stage (lhmix.core.params.KNOWN_KEYS).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from lhmix.core.errors import LhmixError, MalformedInput
from lhmix.core.files import replaced_on_success, utf8_text
from lhmix.core.params import check_known_keys, load_yaml

# DVC's defaults for `hydra.config_dir` and `hydra.config_name` (.dvc/config enables the composition)
CONFIG_DIR = "conf"
CONFIG_NAME = "config"
PARAMS_FILE = "params.yaml"


def profiles(root: str | Path = ".") -> list[str]:
    return sorted(path.stem for path in (Path(root) / CONFIG_DIR / "profile").glob("*.yaml"))


def composed(overrides: list[str], root: str | Path = ".") -> str:
    """The text of params.yaml for these Hydra overrides (e.g. ['profile=tiny', 'alpha=2'])."""
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    root = Path(root).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / PARAMS_FILE
        try:
            compose_and_dump(out, str(root / CONFIG_DIR), None, CONFIG_NAME, str(root), list(overrides))
        except yaml.MarkedYAMLError as error:  # Hydra's loader lets these through (duplicate key, unclosed [)
            raise _not_yaml(error, root) from None
        except UnicodeDecodeError:  # which names no file
            raise _not_utf8(root) from None
        except (HydraException, OmegaConfBaseException) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise LhmixError(f"{CONFIG_DIR}/ with {' '.join(overrides) or 'no overrides'}: {first} "
                             f"(profiles: {', '.join(profiles(root))})") from None
        check_known_keys(load_yaml(out), f"{CONFIG_DIR}/ with {' '.join(overrides) or 'no overrides'}")
        return out.read_text(encoding="utf-8")


def _not_yaml(error, root: Path) -> MalformedInput:
    """A YAML error of a conf/ file in one line: the file (relative to `root`), the line, the problem and where
    the construct it broke began."""
    mark = error.problem_mark
    began = (f" ({error.context} at line {error.context_mark.line + 1})"
             if error.context and error.context_mark is not None else "")
    return MalformedInput(_shown(Path(mark.name), root), mark.line + 1, f"not valid YAML: {error.problem}{began}")


def _not_utf8(root: Path) -> MalformedInput:
    """The first file of conf/ that is not UTF-8, with the line of its first such byte."""
    for path in sorted((root / CONFIG_DIR).rglob("*.yaml")):
        try:
            utf8_text(path.read_bytes(), _shown(path, root))
        except MalformedInput as error:
            return error
    return MalformedInput(root / CONFIG_DIR, None, "a file is not UTF-8")


def _shown(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def compose_params(overrides: list[str], root: str | Path = ".") -> Path:
    """Write <root>/params.yaml composed from conf/; on any error it stays as it was."""
    text = composed(overrides, root)
    target = Path(root) / PARAMS_FILE
    with replaced_on_success(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target


def overridden(values: dict, overrides: dict, where: str = "") -> dict:
    """A copy of params `values` with nested `overrides` merged in as a profile merges (mappings key by key,
    any other value replaced); a key `values` does not have is a typo, not a new setting: LhmixError."""
    merged = dict(values)
    for key, value in overrides.items():
        name = f"{where}{key}"
        if key not in values:
            raise LhmixError(f"'{name}' is not a key of {PARAMS_FILE}; its keys there: {', '.join(map(str, values))}")
        if isinstance(values[key], dict) and values[key]:
            if not isinstance(value, dict) or not value:
                raise LhmixError(f"'{name}' is a section of {PARAMS_FILE} ({', '.join(map(str, values[key]))}); "
                                 f"an override sets keys inside it, it cannot replace it by {value!r}")
            merged[key] = overridden(values[key], value, f"{name}.")
        else:
            merged[key] = value
    return merged
