"""Apply a profile of params/ on top of params.yaml:  python tools/apply_profile.py params/paper-wos.yaml

A profile holds only the keys that differ from the default (params.yaml): mappings are merged key by
key, every other value (lists included) replaces the default's. params.yaml is rewritten in place,
its comments kept; `git checkout params.yaml` returns to the default. A key the profile names that
params.yaml does not have is an error (a typo would otherwise be ignored by every stage), and so is a
section replaced by something that is not a mapping of its keys; the result must hold only known keys
(lhmix.core.params.KNOWN_KEYS). Any error leaves params.yaml as it was.
"""
import argparse
import sys
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from lhmix.core.errors import LhmixError
from lhmix.core.files import replaced_on_success
from lhmix.core.params import check_known_keys

DEFAULT = Path("params.yaml")


def merge(base, override, where: str = "") -> None:
    for key, value in override.items():
        name = f"{where}{key}"
        if key not in base:
            raise SystemExit(f"apply_profile: '{name}' is not a key of {DEFAULT}; expected one of "
                             f"{', '.join(map(str, base))}")
        if isinstance(base[key], dict) and base[key]:
            if not isinstance(value, dict) or not value:
                raise SystemExit(f"apply_profile: '{name}' is a section of {DEFAULT} ({', '.join(map(str, base[key]))}); "
                                 f"a profile sets keys inside it, it cannot replace it by {value!r}")
            merge(base[key], value, f"{name}.")
        else:
            base[key] = value


def load(yaml: YAML, path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SystemExit(f"apply_profile: {path}: {error.strerror or error}") from None
    except YAMLError as error:  # invalid YAML, a key given twice
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
        raise SystemExit(f"apply_profile: {where}: not valid YAML ({problem})") from None


def main(argv: list[str]) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("profile", type=Path, help="a file of params/ (only the keys that differ)")
    args = arguments.parse_args(argv)
    yaml = YAML()  # round trip: comments and order stay; a key given twice is an error
    yaml.width = 120
    profile = load(yaml, args.profile)
    params = load(yaml, DEFAULT)
    if not isinstance(profile, dict):
        raise SystemExit(f"apply_profile: {args.profile}: expected a mapping of params keys")
    merge(params, profile)
    try:
        check_known_keys(params, f"{DEFAULT} with {args.profile}")
    except LhmixError as error:
        raise SystemExit(f"apply_profile: {error}") from None
    with replaced_on_success(DEFAULT) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        yaml.dump(params, handle)
    print(f"{DEFAULT}: {args.profile} applied ({', '.join(profile)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
