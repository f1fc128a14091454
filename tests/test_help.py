"""Every stage script and tool answers --help with what it does, and refuses an argument it does not know."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.relative_to(REPO).as_posix() for folder in ("stages", "tools") for p in (REPO / folder).glob("*.py"))


ARGUMENTS = ("--help", "--no-such-option")


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def _listing() -> list[str]:
    return sorted(p.name for p in REPO.iterdir())


@pytest.fixture(scope="module")
def answers() -> dict:
    """Every script's answer to each of ARGUMENTS, two processes at a time (a start-up is mostly one core's
    imports, and the machine has two), with the repository's top-level listing before and after them all."""
    before = _listing()
    cases = [(script, argument) for script in SCRIPTS for argument in ARGUMENTS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(cases, pool.map(lambda case: _run(*case), cases)))
    return {"before": before, "results": results, "after": _listing()}


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_says_what_the_script_does_and_changes_nothing(script, answers):
    result = answers["results"][script, "--help"]
    assert result.returncode == 0, result.stderr
    usage, _, rest = result.stdout.partition("\n")
    assert usage.startswith("usage:")
    assert len(rest.strip()) > 40  # a description, not only the usage line
    assert answers["after"] == answers["before"]  # no file named --help, nothing run (by any of the scripts)


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_argument_is_refused(script, answers):
    result = answers["results"][script, "--no-such-option"]
    assert result.returncode == 2, result.stderr
    # a script with required arguments names those first, the others the argument it does not know
    assert ("unrecognized arguments: --no-such-option" in result.stderr
            or "the following arguments are required" in result.stderr), result.stderr
