"""The whole pipeline through `dvc repro` on the tiny profile, then experiments with `-S`.

Checked on the real run: every stage's params as declared in dvc.yaml are exactly the keys its
code reads (tests/test_dependencies.py); `-S alpha=2` and `-S train.mixup_beta_a=2` re-run only
the stages that read them; pipeline shapes that cannot run stop in the check stage."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared_repro import writable_copy
from test_dependencies import stage_definitions, undeclared_params

REPO = Path(__file__).resolve().parents[1]
# The copy holds the repository's files (tracked, or new and not ignored) but no committed results:
# it rebuilds them.
NOT_COPIED = ("results/", "reports/README.md")   # the outputs; make ablation's reports are inputs
# The README's readable `dvc exp show` (held against the README, run on the tiny profile).
EXP_SHOW = ("dvc exp show --drop '.*' --keep 'Experiment|profile|alpha$|beta$|"
            ".*/(prompt|prompt_lhmix)[.]json:macro_f1$'")
PARAMS_LOG = "params-read.jsonl"


def _run(args, cwd, check=True, env=None):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "LHMIX_PARAMS_LOG": str(Path(cwd) / PARAMS_LOG), **(env or {})}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _copy_with_profile(root: Path, profile: str, overrides: tuple[str, ...] = (), replace: dict | None = None) -> Path:
    """The repository in a fresh git repo, params.yaml composed for conf/profile/<profile>.yaml and Hydra
    `overrides` (tools/compose_params.py), then text replacements in it: what composing refuses (an unknown
    key, a hostile value) reaches the stages only that way."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if not name.startswith(NOT_COPIED) and (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    _run([sys.executable, "tools/compose_params.py", f"profile={profile}", *overrides], root)
    text = (root / "params.yaml").read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    (root / "params.yaml").write_text(text)
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + f"/{PARAMS_LOG}\n")
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", profile]):
        _run(args, root)
    return root


def _commit(root: Path, message: str) -> None:
    _run(["git", "add", "-A"], root)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], root)


@pytest.fixture(scope="module")
def project(tiny_repro, tmp_path_factory):
    """The session's tiny `dvc repro` (conftest.py), copied: the experiments change it."""
    return writable_copy(tiny_repro.root, tmp_path_factory.mktemp("pipeline") / "repo")


def test_listed_dataset_without_raw_files_fails_before_prepare_with_instructions(tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny", ("datasets=[wos]",))
    for command in (["dvc", "repro", "prepare@wos"], ["dvc", "repro", "-s", "prepare@wos"]):
        result = _run(command, root, check=False)
        assert result.returncode != 0
        assert "docs/data/wos.md" in result.stderr
        assert "data/raw/README.md" in result.stderr
        assert "does not exist" not in result.stderr   # DVC's own words, which say nothing of what to put there
        assert not (root / "data" / "processed" / "wos").exists()


@pytest.mark.parametrize("overrides, replace, message", [
    (("families=[bert]",), None, "has no 'prompt'"),
    (("sweeps.seed=5",), None, "sweeps.seed = 5 is not among seeds = [0, 1]"),
    (("datasets=[foo]",), None, "'datasets[0]' = 'foo': expected one of"),
    ((), {"figure6:\n": "figure6:\n  lable: act\n"},
     "unknown key 'figure6.lable' (known here: figure6.label, figure6.seed); did you mean 'figure6.label'?"),
])
def test_shapes_that_cannot_run_stop_in_the_check_stage(tmp_path, overrides, replace, message):
    root = _copy_with_profile(tmp_path / "repo", "tiny", overrides, replace)
    result = _run(["dvc", "repro"], root, check=False)
    assert result.returncode != 0
    assert _stages_run(result.stdout) == {"check"}
    assert message in result.stderr
    assert "No such file" not in result.stderr + result.stdout


@pytest.mark.slow
def test_predict_classifies_as_a_run_of_the_profile_did(tiny_repro, tmp_path):
    """tools/predict.py with a model/ folder of the tiny profile's pipeline, on that run's test split: the
    decisions of its predictions.npz (scored at the run's eval batch size, so in the very same batches)."""
    from test_predict import recorded_decisions

    run = tiny_repro.root / "runs" / "wordnet" / "main" / "prompt_lhmix-s0"
    settings = json.loads((run / "model" / "classifier.json").read_text())["settings"]
    out = tmp_path / "predictions.jsonl"
    _run([sys.executable, str(REPO / "tools" / "predict.py"), str(run / "model"), "--format", "jsonl", "--input",
          "data/processed/wordnet/test.jsonl", "--output", str(out), "--batch-size", str(settings["eval_batch_size"]),
          "--device", "cpu"], tiny_repro.root)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["id"], row["labels"]) for row in rows] == recorded_decisions(run)


@pytest.mark.slow
def test_repro_then_experiments(project, tiny_repro):
    ran = _stages_run(tiny_repro.stdout)  # the first `dvc repro` of the project
    assert {"check", "prepare@wordnet", "similarity@wordnet", "stats@wordnet", "report"} <= ran
    for mixing in ("none", "mixup", "lhmix"):
        assert len([s for s in ran if s.startswith(f"train_{mixing}@")]) == 2 * 2
    for control in ("shuffled", "fixed"):  # the controls of LH-Mix: prompt family, every seed
        assert len([s for s in ran if s.startswith(f"control_{control}@")]) == 2
    for path in ("results/wordnet/metrics/prompt_lhmix.json", "results/wordnet/tables.md", "reports/README.md",
                 "results/wordnet/figures/fig5_sweeps.png", "runs/wordnet/sweep/alpha-0.5/metrics.json",
                 "results/wordnet/figure6.json", "results/wordnet/svg/fig6_label_words.svg",
                 "runs/wordnet/main/prompt-s0/train.log",
                 "runs/wordnet/table6/gcn/prompt_lhmix-s0/metrics.json"):
        assert (project / path).is_file(), path
    assert "Table 5" in (project / "reports/README.md").read_text()
    page = (project / "reports/README.md").read_bytes()
    _run(["dvc", "repro", "--force", "--single-item", "report"], project)
    assert (project / "reports/README.md").read_bytes() == page  # the report's bytes depend only on its inputs

    _check_what_dvc_shows(project)

    log = [json.loads(line) for line in (project / PARAMS_LOG).read_text().splitlines()]
    assert undeclared_params(stage_definitions(project), log) == {}

    nothing = _run(["dvc", "repro"], project)
    assert _stages_run(nothing.stdout) == set()

    _commit(project, "baseline")
    experiment = _run(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "alpha=2"], project)
    reran = _stages_run(experiment.stdout)
    training = {s for s in reran if not s.startswith(("check", "stats@", "plots@", "report"))}
    assert training == {"train_lhmix@wordnet-bert-0", "train_lhmix@wordnet-bert-1",
                        "train_lhmix@wordnet-prompt-0", "train_lhmix@wordnet-prompt-1",
                        "control_shuffled@wordnet-0", "control_shuffled@wordnet-1",
                        "sparse_lhmix@wordnet-0.5", "table6_lhmix@wordnet-gat-0", "table6_lhmix@wordnet-gcn-0"}
    assert "stats@wordnet" in reran

    # Only what changed is listed: the LH-Mix runs mixed with another ratio, the others did not.
    diff = _run(["dvc", "metrics", "diff"], project).stdout
    changed = {tuple(line.split()[:2]) for line in diff.splitlines()[1:] if line.strip()}
    assert ("results/wordnet/metrics/prompt_lhmix.json", "lambda") in changed
    assert ("results/wordnet/metrics/bert_lhmix.json", "lambda") in changed
    assert not {path for path, _ in changed} & {"results/wordnet/metrics/prompt_mixup.json",
                                                 "results/wordnet/metrics/bert.json"}

    _run(["dvc", "exp", "apply", experiment_name(experiment.stdout)], project)
    _commit(project, "alpha 2")
    # Mixup's own parameter stales Mixup's runs alone (what `dvc exp run` would then rerun before the reporting)
    _run([sys.executable, "tools/compose_params.py", "profile=tiny", "alpha=2", "train.mixup_beta_a=2"], project)
    stale = set(json.loads(_run(["dvc", "status", "--json"], project).stdout))
    assert stale == {"train_mixup@wordnet-bert-0", "train_mixup@wordnet-bert-1", "train_mixup@wordnet-prompt-0",
                     "train_mixup@wordnet-prompt-1", "sparse_mixup@wordnet-0.5"}


def _check_what_dvc_shows(project: Path) -> None:
    """DVC's own views fit a 200-column terminal: metrics, the README's experiments table and `dvc dag` commands;
    plots show each figure once, and a single run's dev curve on demand."""
    env = {"COLUMNS": "200"}
    metrics = _run(["dvc", "metrics", "show"], project, env=env).stdout
    assert "results/wordnet/metrics/prompt_lhmix.json" in metrics
    assert "claims/lhmix_vs_prompt/macro_f1.json" in metrics
    assert max(map(len, metrics.splitlines())) <= 200, metrics
    assert EXP_SHOW in (REPO / "README.md").read_text()
    table = _run(["dvc", "exp", "show", "--no-pager", *shlex.split(EXP_SHOW)[3:]], project, env=env).stdout
    assert max(map(len, table.splitlines())) <= 200, table
    assert "…" not in table, table  # no column collapsed
    dags = re.findall(r"^(dvc dag [^#\n]*?)\s*(?:#.*)?$", (REPO / "README.md").read_text(), flags=re.M)
    assert len(dags) == 2, dags
    for command in dags:
        drawn = _run(shlex.split(command), project, env=env).stdout
        assert "train_lhmix" in drawn and max(map(len, drawn.splitlines())) <= 200, (command, drawn)
    lhmix = json.loads((project / "results/wordnet/metrics/prompt_lhmix.json").read_text())
    assert f"{lhmix['macro_f1']:g}"[:5] in table, table
    _run(["dvc", "plots", "show", "-o", "page"], project)
    page = (project / "page" / "index.html").read_text()
    assert "results_wordnet_figures_fig5_sweeps.png" in page
    assert "fig5_sweeps.svg" not in page
    curve = "runs/wordnet/main/prompt_lhmix-s0/live/plots/metrics/dev/macro_f1.tsv"
    _run(["dvc", "plots", "show", curve, "-o", "curve"], project)
    assert "macro_f1" in (project / "curve" / "index.html").read_text()


def experiment_name(output: str) -> str:
    return re.search(r"Ran experiment\(s\): (\S+)", output).group(1)


@pytest.mark.slow
def test_out_of_range_beta_fails_naming_the_parameter(tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny")
    result = _run(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "beta=0.3"], root, check=False)
    assert result.returncode != 0
    assert "parameter 'beta' = 0.3: expected a number in (0.5, 1]" in result.stderr + result.stdout


def test_a_hostile_grid_value_never_reaches_a_shell(tmp_path):
    """DVC is refused the stage before it runs its command (lhmix.pipeline.guard), also when `dvc repro -s` skips
    the check stage (tests/test_untrusted_params.py holds the other entry points)."""
    hostile = "2;touch pwned;#"
    root = _copy_with_profile(tmp_path / "repo", "tiny",
                              replace={"  alpha:\n  - 0.5\n  - 2\n": f"  alpha:\n  - 0.5\n  - '{hostile}'\n"})
    for dependency in ("data/warmup/wordnet/prompt-s0.pt", "data/similarity/wordnet.pt", "data/processed/wordnet/x"):
        (root / dependency).parent.mkdir(parents=True, exist_ok=True)  # so that DVC gets to run the command
        (root / dependency).write_text("placeholder")
    result = _run(["dvc", "repro", "-s", f"sweep_alpha@wordnet-{hostile}"], root, check=False)
    assert result.returncode != 0
    assert not (root / "pwned").exists()
    assert not list(root.rglob("pwned"))
    assert f"parameter 'sweeps.alpha[1]' = '{hostile}': expected a finite number" in result.stderr + result.stdout
