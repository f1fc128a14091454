"""Copy the default's "verdicts at a glance" from results/wordnet/tables.md (written by the stats stage) into the
README, between its markers; tests/test_readme_facts.py holds the two equal, so run this after a rebuild:

    python tools/quote_verdicts.py
"""
import argparse
import sys
from pathlib import Path

from lhmix.reporting import markdown

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "results" / "wordnet" / "tables.md"
START, END = "<!-- verdicts: from results/wordnet/tables.md by tools/quote_verdicts.py -->", "<!-- end of verdicts -->"
HEADING = "## The verdicts at a glance"


def generated(tables: str) -> str:
    body = markdown.section(tables, HEADING)
    if body is None:
        raise SystemExit(f"quote_verdicts: {SOURCE} has no '{HEADING}' section; run `dvc repro` first")
    return body


def quoted(readme: str) -> str:
    if START not in readme or END not in readme:
        raise SystemExit(f"quote_verdicts: README.md lacks the markers {START} ... {END}")
    return readme.split(START, 1)[1].split(END, 1)[0].strip()


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    block = generated(SOURCE.read_text(encoding="utf-8"))
    before, rest = readme.split(START, 1)
    readme_path.write_text(f"{before}{START}\n{block}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    print(f"README.md: verdicts quoted from {SOURCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
