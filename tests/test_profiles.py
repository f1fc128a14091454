"""conf/ and params.yaml: DVC's Hydra composition writes params.yaml from conf/config.yaml and a profile of
conf/profile/; the committed params.yaml is the default's composition; a profile chosen by `dvc exp run`
shows in `dvc exp show`; a bad profile, key or override fails in one line and leaves params.yaml alone."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lhmix.core.errors import LhmixError
from lhmix.core.profiles import composed, overridden, profiles

ROOT = Path(__file__).parents[1]
TOOL = ROOT / "tools" / "compose_params.py"


def conf_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


def test_the_committed_params_yaml_is_the_default_composition_byte_for_byte():
    assert (ROOT / "params.yaml").read_text() == composed([], ROOT)


def test_dvc_composes_from_conf():
    config = subprocess.run([sys.executable, "-m", "dvc", "config", "hydra.enabled"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert config == "true"


@pytest.mark.parametrize("profile", profiles(ROOT))
def test_every_profile_composes_to_known_keys_and_names_itself(profile):
    values = yaml.safe_load(composed([f"profile={profile}"], ROOT))   # composed() checks the keys
    assert values["profile"] == profile


def test_a_profile_merges_mappings_key_by_key_and_replaces_lists():
    default = yaml.safe_load(composed([], ROOT))
    tiny = yaml.safe_load(composed(["profile=tiny"], ROOT))
    assert tiny["seeds"] == [0, 1]
    assert tiny["train"]["lr"] == 1.0e-3
    assert tiny["train"]["batch_size"] == default["train"]["batch_size"]
    assert tiny["sweeps"]["alpha"] == [0.5, 2]   # 5e-1 read as the number DVC reads


def test_overrides_apply_after_the_profile():
    values = yaml.safe_load(composed(["profile=tiny", "alpha=2", "seeds=[0]"], ROOT))
    assert (values["alpha"], values["seeds"], values["train"]["lr"]) == (2, [0], 1.0e-3)


@pytest.mark.parametrize("overrides, message", [
    (["profile=no-such"], "profiles: cpu-minilm, default, "),
    (["train.max_epoch=3"], "train.max_epoch"),
    (["alpha=[1"], "alpha=[1"),
])
def test_a_bad_profile_or_override_is_an_error_naming_it(overrides, message):
    with pytest.raises(LhmixError, match=None) as error:
        composed(overrides, ROOT)
    assert message in str(error.value)


def test_a_key_a_profile_adds_is_refused(tmp_path):
    root = conf_copy(tmp_path)
    (root / "conf" / "profile" / "typo.yaml").write_text("# @package _global_\nprofile: typo\ntrain:\n  lr_: 1\n")
    with pytest.raises(LhmixError, match="unknown key 'train.lr_'"):
        composed(["profile=typo"], root)


def run_tool(root: Path, *arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *arguments], cwd=root, capture_output=True, text=True,
                          timeout=120)


def test_the_tool_writes_params_yaml(tmp_path):
    root = conf_copy(tmp_path)
    done = run_tool(root, "profile=tiny")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((root / "params.yaml").read_text())["profile"] == "tiny"


def test_the_tool_fails_in_one_line_and_leaves_params_yaml_as_it_was(tmp_path):
    root = conf_copy(tmp_path)
    done = run_tool(root, "profile=no-such")
    assert done.returncode == 1
    assert done.stderr.startswith("compose_params: conf/ with profile=no-such: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert (root / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()


# (file of conf/, text appended to it, the one line compose_params must print after "compose_params: ")
DAMAGED_CONF = {
    "duplicate key": ("profile/tiny.yaml", "alpha: 2\nalpha: 3\n",
                      "conf/profile/tiny.yaml:{last}: not valid YAML: found duplicate key alpha (while constructing "
                      "a mapping at line 5)"),
    "unclosed bracket": ("profile/tiny.yaml", "seeds: [0, 1\n",
                         "conf/profile/tiny.yaml:{end}: not valid YAML: expected ',' or ']', but got '<stream end>' "
                         "(while parsing a flow sequence at line {last})"),
    "not UTF-8": ("config.yaml", "# caf\xe9\n", "conf/config.yaml:{last}: not UTF-8 (byte 0xe9)"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGED_CONF))
def test_a_damaged_conf_file_is_named_in_one_line_and_params_yaml_is_left_as_it_was(tmp_path, damage):
    name, appended, expected = DAMAGED_CONF[damage]
    root = conf_copy(tmp_path)
    path = root / "conf" / name
    raw = path.read_bytes() + appended.encode("latin-1")
    path.write_bytes(raw)
    lines = raw.count(b"\n")
    done = run_tool(root, "profile=tiny")
    assert done.returncode == 1
    assert done.stderr == f"compose_params: {expected.format(end=lines + 1, last=lines)}\n"
    assert (root / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()


def test_overridden_merges_nested_params_without_touching_the_original():
    values = {"model": {"prompt": {"head": "mlm", "mlm_weight": 1.0}}, "train": {"lr": 5e-4, "max_epochs": 60}}
    merged = overridden(values, {"model": {"prompt": {"head": "linear"}}, "train": {"max_epochs": 2}})
    assert merged == {"model": {"prompt": {"head": "linear", "mlm_weight": 1.0}},
                      "train": {"lr": 5e-4, "max_epochs": 2}}
    assert values["model"]["prompt"]["head"] == "mlm"


@pytest.mark.parametrize("overrides, message", [
    ({"train": {"max_epoch": 2}}, "'train.max_epoch' is not a key of params.yaml; its keys there: lr, max_epochs"),
    ({"train": 5}, "'train' is a section of params.yaml (lr, max_epochs); an override sets keys inside it"),
])
def test_overridden_refuses_a_typo_or_a_replaced_section(overrides, message):
    values = {"train": {"lr": 5e-4, "max_epochs": 60}}
    with pytest.raises(LhmixError) as error:
        overridden(values, overrides)
    assert message in str(error.value)


def test_a_profile_chosen_by_dvc_exp_run_shows_in_dvc_exp_show(tmp_path):
    """Through DVC itself: `dvc exp run -S profile=tiny -S alpha=2 check` (the cheapest stage) in a git copy."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if not name.startswith(("results/", "reports/")) and (ROOT / name).is_file():   # raw data is ignored
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # stage `python`

    def run(*arguments):
        return subprocess.run(arguments, cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    run("git", "init", "-q")
    run("git", "add", "-A")
    run("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy")
    run(sys.executable, "-m", "dvc", "exp", "run", "-S", "profile=tiny", "-S", "alpha=2", "check")
    shown = json.loads(run(sys.executable, "-m", "dvc", "exp", "show", "--json"))
    experiments = [exp for baseline in shown for exp in (baseline.get("experiments") or [])]
    params = [exp["revs"][0]["data"]["params"]["params.yaml"]["data"] for exp in experiments]
    assert [(p["profile"], p["alpha"]) for p in params] == [("tiny", 2)]
    committed = [row for row in shown if row["rev"] != "workspace"]
    baseline = committed[0]["data"]["params"]["params.yaml"]["data"]
    assert (baseline["profile"], baseline["alpha"]) == ("default", 1.0)
