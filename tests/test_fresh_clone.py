"""A fresh `git clone` of the repository, without .venv or DVC cache: `dvc repro --dry` lists every stage and
writes nothing (DVC 3.67 alone stops after the check stage, on data/params-checked: lhmix.pipeline.dry_run)."""
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
DVC = Path(sys.executable).parent / "dvc"   # this environment's dvc: it loads lhmix.pipeline.guard


def test_dry_repro_on_a_fresh_clone_lists_every_stage_and_writes_nothing(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    before = sorted(path.relative_to(clone) for path in clone.rglob("*") if ".git" not in path.parts)
    result = subprocess.run([DVC, "repro", "--dry"], cwd=clone, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    first_stages = ("check", "prepare@", "similarity@", "warmup@", "train_lhmix@", "stats@")
    listed = [line.split("'")[1] for line in result.stdout.splitlines() if line.startswith("Running stage '")]
    for stage in first_stages:
        assert any(name == stage or name.startswith(stage) for name in listed), stage
    assert listed.index("check") == 0 and listed[-1].startswith("stats@")
    stages = subprocess.run([DVC, "stage", "list", "--name-only"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.split()
    # every stage would run (the clone has none of their DVC-cached outputs) but the figures and the report,
    # whose inputs and outputs git carries: up to date until stats writes results.json again
    committed = [stage for stage in stages if stage.startswith("plots@") or stage == "report"]
    assert sorted(listed) == sorted(set(stages) - set(committed))
    assert all(f"Stage '{stage}' didn't change, skipping" in result.stdout for stage in committed)
    after = sorted(path.relative_to(clone) for path in clone.rglob("*")
                   if ".git" not in path.parts and path.parts[len(clone.parts)] != ".dvc")
    assert after == [path for path in before if path.parts[0] != ".dvc"]
