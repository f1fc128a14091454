"""Every stage script and tool answers --help with what it does, and refuses an argument it does not know."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.relative_to(REPO).as_posix() for folder in ("stages", "tools") for p in (REPO / folder).glob("*.py"))


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_says_what_the_script_does_and_changes_nothing(script, tmp_path):
    before = sorted(p.name for p in REPO.iterdir())
    result = _run(script, "--help")
    assert result.returncode == 0, result.stderr
    usage, _, rest = result.stdout.partition("\n")
    assert usage.startswith("usage:")
    assert len(rest.strip()) > 40  # a description, not only the usage line
    assert sorted(p.name for p in REPO.iterdir()) == before  # no file named --help, nothing run


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_argument_is_refused(script):
    result = _run(script, "--no-such-option")
    assert result.returncode == 2, result.stderr
    # a script with required arguments names those first, the others the argument it does not know
    assert ("unrecognized arguments: --no-such-option" in result.stderr
            or "the following arguments are required" in result.stderr), result.stderr
