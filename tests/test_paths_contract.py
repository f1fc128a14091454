"""The paths contract between dvc.yaml and the code: lhmix.pipeline.plan names the runs/ folders, the
processed datasets and the similarity tables exactly where DVC's resolved stages write them, and every path a
stage script gets on its command line is one its stage declares (read: a dep; written: an out). Checked on the
committed params.yaml and on the tiny profile, so that a layout changed in one place and not the other fails."""
import shlex
import shutil
from pathlib import Path

import pytest

from lhmix.core.params import Params
from lhmix.core.profiles import composed
from lhmix.pipeline.plan import RUNS, Plan, processed_folder, similarity_table

REPO = Path(__file__).resolve().parents[1]
# The path options of the stage scripts, by direction.
READ_OPTIONS = {"--data", "--raw", "--similarity", "--warm-start", "--warmup-data"}
WRITTEN_OPTIONS = {"--out", "--state"}


def resolved_stages(root: Path) -> dict[str, dict]:
    """{stage: {"cmd", "deps", "outs"}} as DVC resolves dvc.yaml against root's params.yaml."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {stage.name: {"cmd": stage.cmd,
                                   "deps": {dep.def_path for dep in stage.deps if not hasattr(dep, "params")},
                                   "outs": {out.def_path for out in stage.outs}}
                for stage in repo.index.stages}


@pytest.fixture(scope="module", params=["committed", "tiny"])
def project(request, tmp_path_factory) -> Path:
    """A DVC project of dvc.yaml and a params.yaml: the committed one, or the tiny profile's."""
    if request.param == "committed":
        return REPO
    root = tmp_path_factory.mktemp("tiny")
    shutil.copy(REPO / "dvc.yaml", root)
    (root / "params.yaml").write_text(composed(["profile=tiny"], REPO), encoding="utf-8")
    from dvc.repo import Repo
    Repo.init(str(root), no_scm=True).close()
    return root


@pytest.fixture(scope="module")
def stages(project) -> dict[str, dict]:
    return resolved_stages(project)


@pytest.fixture(scope="module")
def plan(project) -> Plan:
    return Plan.from_params(Params.load(project / "params.yaml"))


def plan_runs(plan: Plan) -> set[str]:
    """Every folder under runs/ the plan names, warm-ups included."""
    runs = []
    for dataset in plan.datasets:
        runs += plan.main_runs(dataset) + plan.warmup_runs(dataset) + plan.sparse_runs(dataset)
        runs += plan.table6_runs(dataset) + plan.table6_warmups(dataset)
        runs += plan.spread_runs(dataset) + plan.hpt_runs(dataset) + plan.hpt_warmups(dataset)
        for grouped in (plan.sweep_runs(dataset), plan.augment_runs(dataset)):
            runs += [run for group in grouped.values() for run in group]
    return {run.path.as_posix() for run in runs}


def test_the_plan_names_exactly_the_run_folders_dvc_writes(stages, plan):
    written = {out for stage in stages.values() for out in stage["outs"] if Path(out).parts[0] == RUNS.name}
    assert plan_runs(plan) == written


def test_the_processed_datasets_are_where_prepare_writes_them(stages, plan):
    for dataset in plan.datasets:
        assert stages[f"prepare@{dataset}"]["outs"] == {processed_folder(dataset).as_posix()}


def test_the_similarity_tables_are_where_their_stage_writes_them(stages, plan):
    for dataset in plan.datasets:
        assert stages[f"similarity@{dataset}"]["outs"] == {similarity_table(dataset).as_posix()}


def test_stats_reads_the_runs_of_its_dataset(stages, plan):
    for dataset in plan.datasets:
        assert (RUNS / dataset).as_posix() in stages[f"stats@{dataset}"]["deps"]


def undeclared(cmd: str, options: set[str], declared: set[str]) -> list[str]:
    """The values of `options` on the command line that are neither a declared path nor a folder of declared
    paths (stats gets data/processed/<dataset> and declares the files of it that it reads)."""
    words = shlex.split(cmd)
    paths = {value for option, value in zip(words, words[1:]) if option in options}
    return sorted(path for path in paths
                  if not any(entry == path or entry.startswith(path + "/") for entry in declared))


def test_every_path_a_stage_reads_from_its_command_line_is_a_dep(stages):
    missing = {name: undeclared(stage["cmd"], READ_OPTIONS, stage["deps"]) for name, stage in stages.items()}
    assert {name: paths for name, paths in missing.items() if paths} == {}


def test_every_path_a_stage_writes_from_its_command_line_is_an_out(stages):
    missing = {name: undeclared(stage["cmd"], WRITTEN_OPTIONS, stage["outs"]) for name, stage in stages.items()}
    assert {name: paths for name, paths in missing.items() if paths} == {}


def test_a_moved_out_is_found():
    cmd = "python stages/train.py --data 'data/processed/d' --out 'runs/d/main/prompt-s0'"
    assert undeclared(cmd, WRITTEN_OPTIONS, {"runs/d/main/prompt-s0x"}) == ["runs/d/main/prompt-s0"]


def test_a_folder_of_declared_files_counts_as_declared():
    cmd = "python stages/stats.py --data 'data/processed/d' --out 'results/d'"
    assert undeclared(cmd, READ_OPTIONS, {"data/processed/d/stats.json"}) == []
