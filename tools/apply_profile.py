"""Apply a profile of params/ on top of params.yaml:  python tools/apply_profile.py params/paper-wos.yaml

A profile holds only the keys that differ from the default (params.yaml): mappings are merged key by
key, every other value (lists included) replaces the default's. params.yaml is rewritten in place,
its comments kept; `git checkout params.yaml` returns to the default. A key the profile names that
params.yaml does not have is an error (a typo would otherwise be ignored by every stage).
"""
import sys
from pathlib import Path

from ruamel.yaml import YAML

DEFAULT = Path("params.yaml")


def merge(base, override, where: str = "") -> None:
    for key, value in override.items():
        name = f"{where}{key}"
        if key not in base:
            raise SystemExit(f"apply_profile: '{name}' is not a key of {DEFAULT}; expected one of "
                             f"{', '.join(map(str, base))}")
        if isinstance(value, dict) and isinstance(base[key], dict) and value:
            merge(base[key], value, f"{name}.")
        else:
            base[key] = value


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    yaml = YAML()  # round trip: comments and order stay
    yaml.width = 120
    profile_path = Path(argv[0])
    try:
        profile = yaml.load(profile_path.read_text(encoding="utf-8"))
        params = yaml.load(DEFAULT.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"apply_profile: {error}", file=sys.stderr)
        return 1
    if not isinstance(profile, dict):
        print(f"apply_profile: {profile_path}: expected a mapping of params keys", file=sys.stderr)
        return 1
    merge(params, profile)
    with open(DEFAULT, "w", encoding="utf-8") as handle:
        yaml.dump(params, handle)
    print(f"{DEFAULT}: {profile_path} applied ({', '.join(profile)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
