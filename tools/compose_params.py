"""Write params.yaml from conf/ (DVC's Hydra composition), for `dvc repro`:

    python tools/compose_params.py profile=paper-wos          a profile of conf/profile/
    python tools/compose_params.py profile=tiny alpha=2       and Hydra overrides of any key
    python tools/compose_params.py                            the default (the committed params.yaml)

`dvc exp run -S profile=paper-wos -S alpha=2` composes the same file before it runs an experiment, and
`dvc exp show` then lists the profile beside alpha and beta. An unknown profile or key is an error that
leaves params.yaml as it was.
"""
import argparse
import sys

from lhmix.core.errors import LhmixError
from lhmix.core.profiles import compose_params, profiles


def main(argv: list[str]) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                           help=f"Hydra overrides; profile= one of {', '.join(profiles())}")
    args = arguments.parse_args(argv)
    try:
        written = compose_params(args.overrides)
    except LhmixError as error:
        print(f"compose_params: {error}", file=sys.stderr)
        return 1
    print(f"{written}: composed from conf/ ({' '.join(args.overrides) or 'the default'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
