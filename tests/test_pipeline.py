"""The whole pipeline through `dvc repro` on the tiny profile, then an experiment with `-S alpha=2`."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Stage outputs and caches of the working copy stay behind; the copy rebuilds them.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "cache", "tmp", "processed", "similarity",
                                    "warmup", "runs", "checkpoints", "results", "reports", "*.egg-info")


def _run(args, cwd, check=True):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _copy_with_profile(root: Path, profile: str, **overrides) -> Path:
    """The repository in a fresh git repo, with params/<profile>.yaml (plus overrides) as params.yaml."""
    shutil.copytree(REPO, root, ignore=NOT_COPIED)
    params = yaml.safe_load((root / "params" / f"{profile}.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump({**params, **overrides}))
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", profile]):
        _run(args, root)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return _copy_with_profile(tmp_path_factory.mktemp("pipeline") / "repo", "tiny")


def test_listed_dataset_without_raw_files_fails_in_prepare_with_instructions(tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny", datasets=["wos"])
    result = _run(["dvc", "repro", "prepare@wos"], root, check=False)
    assert result.returncode != 0
    assert "Meta-data/Data.xlsx" in result.stderr and "data/raw/README.md" in result.stderr
    assert not (root / "data" / "processed" / "wos").exists()


@pytest.mark.slow
def test_repro_then_alpha_experiment(project):
    first = _run(["dvc", "repro"], project)
    ran = _stages_run(first.stdout)
    assert {"prepare@wordnet", "similarity@wordnet", "report"} <= ran
    assert len([s for s in ran if s.startswith("train@")]) == 2 * 2 * 2
    for path in ("results/wordnet/metrics.json", "results/wordnet/tables.md", "reports/README.md",
                 "results/wordnet/figures/fig5_sweeps.png"):
        assert (project / path).is_file(), path
    assert "Table 5" in (project / "reports/README.md").read_text()

    nothing = _run(["dvc", "repro"], project)
    assert _stages_run(nothing.stdout) == set()

    _run(["git", "add", "-A"], project)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"], project)
    experiment = _run(["dvc", "exp", "run", "-S", "alpha=2"], project)
    reran = _stages_run(experiment.stdout)
    lhmix_stages = {s for s in reran if s.startswith(("lhmix@", "sparse_lhmix@"))}
    assert lhmix_stages == {"lhmix@wordnet-bert-0", "lhmix@wordnet-bert-1", "lhmix@wordnet-prompt-0",
                            "lhmix@wordnet-prompt-1", "sparse_lhmix@wordnet-0.5"}
    assert reran - lhmix_stages <= {"stats@wordnet", "plots@wordnet", "report"}
    assert "stats@wordnet" in reran

    # Only what changed is listed: the LH-Mix runs trained with another ratio, the others did not.
    diff = _run(["dvc", "metrics", "diff"], project).stdout
    assert "prompt_lhmix.train_loss.mean" in diff and "bert_lhmix.train_loss.mean" in diff
    assert "prompt_mixup" not in diff and "bert.train_loss" not in diff


@pytest.mark.slow
def test_out_of_range_beta_fails_naming_the_parameter(project):
    result = _run(["dvc", "exp", "run", "-S", "beta=0.3"], project, check=False)
    assert result.returncode != 0
    assert "beta" in result.stderr + result.stdout and "(0.5, 1]" in result.stderr + result.stdout
