"""`dvc plots show` on a fresh clone: the committed .dvc/config names no HTML template (the offline page is
git-ignored and written by `make plots-template`, which sets it in .dvc/config.local only when written)."""
import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore", ".dvc/plots/variants.json")
# A 1 x 1 PNG: DVC copies image plots as they are.
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                      "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def test_committed_dvc_config_names_no_html_template():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert not any("html_template" in config[section] for section in config.sections())


def test_plots_show_works_on_a_fresh_clone(tmp_path):
    origin = tmp_path / "origin"
    for name in COPIED:
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, origin / name)
    results = origin / "results" / "wordnet"
    (results / "figures").mkdir(parents=True)
    (results / "curves.csv").write_text("variant,epoch,dev_macro_f1\nprompt,1,50.0\nprompt,2,51.0\n")
    (results / "figures" / "fig3_lambda.png").write_bytes(PIXEL)
    (results / "svg").mkdir()
    (results / "svg" / "fig3_lambda.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(["git", "init", "-q"], origin)
    _run(["git", "add", "-A"], origin)
    _run([*git, "commit", "-qm", "copy"], origin)
    _run(["git", "clone", "-q", str(origin), "clone"], tmp_path)

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    _run(["dvc", "plots", "show", "-o", "page"], tmp_path / "clone", env)
    page = (tmp_path / "clone" / "page" / "index.html").read_text()
    assert "results_wordnet_figures_fig3_lambda.png" in page  # the image plot of stage `plots`
    assert "fig3_lambda.svg" not in page
    assert "svg_fig3" not in page  # once: not its SVG too
    assert "dev_macro_f1" in page                              # the dev curves through .dvc/plots/variants.json


def test_template_writer_without_npm_fails_in_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "offline.html"
    env = {**os.environ, "PATH": str(tmp_path)}  # no npm there
    result = subprocess.run([sys.executable, str(REPO / "tools" / "offline_plots_template.py"), str(out)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{out}: not written: npm is not installed"
    assert not out.exists()


def test_a_runs_curves_show_on_demand_and_a_dvc_yaml_inside_an_output_is_not_read(tmp_path):
    """The README's per-run view: `dvc plots show -x step <run>/live/plots/metrics` renders the curves write_curves
    wrote against the epoch, with nothing declared. And why dvclive writes no dvc.yaml of its own (dvcyaml=False): DVC
    reads no dvc.yaml inside a stage's output, so a run folder's own would reach neither `dvc plots show` nor
    the tools built on it (measured on DVC 3.67)."""
    from lhmix.training.outputs import write_curves

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: 'true'\n    outs: [runs/a]\n")
    _run(["git", "init", "-q"], tmp_path)
    _run(["dvc", "init", "-q"], tmp_path, env)
    live = tmp_path / "runs" / "a" / "live"
    write_curves(live, [{"epoch": 1, "train_loss": 0.9, "dev_macro_f1": 0.2},
                        {"epoch": 2, "train_loss": 0.5, "dev_macro_f1": 0.4}])
    (tmp_path / "runs" / ".gitignore").write_text("/a\n")  # as `dvc repro` leaves an output
    (live / "dvc.yaml").write_text("plots:\n- plots/metrics:\n    x: step\n")

    def curve(*options):
        shown = _run(["dvc", "plots", "show", "--json", *options, "runs/a/live/plots/metrics"], tmp_path, env).stdout
        values = json.loads(shown)["data"]["runs/a/live/plots/metrics/dev/macro_f1.tsv"][0]["content"]["data"]["values"]
        return [(int(row["step"]), float(row["macro_f1"])) for row in values]
    assert curve("-x", "step") == [(1, 0.2), (2, 0.4)]  # the epochs
    assert curve() == [(0, 0.2), (1, 0.4)]  # without -x, DVC's own "step" is the row number: hence -x in the README
    assert json.loads(_run(["dvc", "plots", "show", "--json"], tmp_path, env).stdout) == {}
