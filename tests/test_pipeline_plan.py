"""lhmix.pipeline.plan: which runs the params name, where they write, and the shape checks."""
import importlib
from pathlib import Path

import pytest

from lhmix.core.errors import LhmixError, ParamError
from lhmix.core.params import Params, load_yaml
from lhmix.pipeline.plan import DATASETS, Plan

PARAMS = """
alpha: 1.0
beta: 0.75
spread:
  alpha: 10
  beta: 1.0
  fixed_lambda: 0.8
datasets: [wordnet]
seeds: [0, 1, 2]
families: [bert, prompt]
sweeps:
  seed: 0
  alpha: [5e-1, 2, 1.0e+1]
  beta: [0.7, 1]
  sparse: [0.5, .1]
augment:
  seeds: [0, 2]
  back_translation:
    models: null
    seeds: []
table6:
  graphs: [gat, gcn]
  seeds: [0, 1]
figure6:
  label: null
  seed: 1
"""


def plan_of(tmp_path: Path, text: str = PARAMS, **replace) -> Plan:
    for old, new in replace.items():
        text = text.replace(old.replace("_", " "), new)
    (tmp_path / "params.yaml").write_text(text)
    return Plan.from_params(Params.load(tmp_path / "params.yaml"))


@pytest.mark.parametrize("name", DATASETS)
def test_each_dataset_name_has_its_reader(name):
    assert callable(importlib.import_module(f"lhmix.datasets.{name}").build)


def test_table6_runs_continue_one_warmup_per_graph_and_seed(tmp_path):
    plan = plan_of(tmp_path)
    runs = plan.table6_runs("wos", root=Path("runs"))
    assert [(run.path.as_posix(), run.graph) for run in runs[:2]] == [
        ("runs/wos/table6/gat/prompt-s0", "gat"), ("runs/wos/table6/gat/prompt_lhmix-s0", "gat")]
    assert len(runs) == 2 * 2 * 2
    assert runs[-1].path == Path("runs/wos/table6/gcn/prompt_lhmix-s1")
    assert (runs[1].alpha, runs[1].beta, runs[0].alpha) == (1.0, 0.75, None)
    warmups = plan.table6_warmups("wos", root=Path("runs"))
    assert [run.path.as_posix() for run in warmups] == [f"runs/wos/table6/{graph}/warmup-s{seed}"
                                                        for graph in ("gat", "gcn") for seed in (0, 1)]
    assert plan.figure6_seed == 1


def test_spread_regime_and_hpt_runs_cover_every_seed(tmp_path):
    plan = plan_of(tmp_path)
    spread = plan.spread_runs("wos", root=Path("runs"))
    assert [(run.variant, run.seed, run.path.as_posix(), run.alpha, run.beta) for run in spread[::3]] == [
        ("prompt_lhmix", 0, "runs/wos/spread/prompt_lhmix-s0", 10, 1.0),
        ("prompt_lhmix_shuffled", 0, "runs/wos/spread/prompt_lhmix_shuffled-s0", 10, 1.0),
        ("prompt_fixed_lambda", 0, "runs/wos/spread/prompt_fixed_lambda-s0", None, None)]
    assert len(spread) == 3 * 3
    assert plan.spread_fixed_lambda == 0.8
    hpt = plan.hpt_runs("wos", root=Path("runs")) + plan.hpt_warmups("wos", root=Path("runs"))
    assert [(run.variant, run.graph, run.path.as_posix()) for run in hpt[::3]] == [
        ("prompt", "gat", "runs/wos/hpt/prompt-s0"), ("prompt", "gat", "runs/wos/hpt/warmup-s0")]


def test_folder_names_are_what_dvc_interpolates(tmp_path):
    """DVC reads params.yaml as YAML 1.2 and writes str() of the values: 5e-1 is the float 0.5
    (YAML 1.1, PyYAML, would read the string '5e-1'), so the folder is alpha-0.5."""
    from dvc.utils.serialize import parse_yaml

    plan = plan_of(tmp_path)
    dvc_values = parse_yaml(PARAMS, "params.yaml")["sweeps"]
    sweeps = plan.sweep_runs("wordnet", root=Path("runs"))
    assert [run.path.name for run in sweeps["alpha"]] == [f"alpha-{value}" for value in dvc_values["alpha"]]
    assert [run.path.name for run in sweeps["alpha"]] == ["alpha-0.5", "alpha-2", "alpha-10.0"]
    assert [run.alpha for run in sweeps["alpha"]] == [0.5, 2.0, 10.0]
    sparse = plan.sparse_runs("wordnet", root=Path("runs"))
    assert sparse[0].path == Path("runs/wordnet/sparse/f0.5/prompt")
    assert sparse[-1].path.parent.name == "f0.1"
    main = plan.main_runs("wordnet", root=Path("runs"))
    assert len(main) == (2 * 3 + 2) * 3  # two families x three mixings, and the prompt's two controls
    assert Path("runs/wordnet/main/prompt_lhmix-s2") in {r.path for r in main}
    assert Path("runs/wordnet/main/prompt_lhmix_shuffled-s2") in {r.path for r in main}
    assert {run.variant for run in main} == {"bert", "bert_mixup", "bert_lhmix", "prompt", "prompt_mixup",
                                             "prompt_lhmix", "prompt_lhmix_shuffled", "prompt_fixed_lambda"}
    shuffled = next(r for r in main if r.variant == "prompt_lhmix_shuffled")
    assert (shuffled.alpha, shuffled.beta) == (plan.alpha, plan.beta)


def test_sweep_point_alpha_1_beta_1_is_trained_once(tmp_path):
    """The beta sweep at alpha = 1 ends with beta = 1, which is the alpha sweep's run alpha = 1: one folder, and
    the check refuses a beta grid that would train it a second time."""
    text = PARAMS.replace("alpha: [5e-1, 2, 1.0e+1]", "alpha: [5e-1, 1, 1.0e+1]")
    plan = plan_of(tmp_path, text.replace("beta: [0.7, 1]", "beta: [0.7]"))
    sweeps = plan.sweep_runs("wordnet", root=Path("runs"))
    assert sweeps["beta"][-1] == sweeps["alpha"][1]
    assert (sweeps["beta"][-1].alpha, sweeps["beta"][-1].beta) == (1.0, 1.0)
    assert sweeps["beta"][-1].path == Path("runs/wordnet/sweep/alpha-1")
    with pytest.raises(LhmixError, match="remove 1 from sweeps.beta"):
        plan_of(tmp_path, text)


@pytest.mark.parametrize("old, new, message", [
    ("families: [bert, prompt]", "families: [bert]", "families = ['bert'] has no 'prompt'"),
    ("seed: 0", "seed: 7", "sweeps.seed = 7 is not among seeds = [0, 1, 2]"),
    ("datasets: [wordnet]", "datasets: [foo]", "'datasets[0]' = 'foo': expected one of wordnet, wos, nyt, rcv1"),
    ("seeds: [0, 1, 2]", "seeds: [0, 1, 1]", "seeds = [0, 1, 1] lists a value twice"),
    ("beta: 0.75", "beta: 0.3", "'beta' = 0.3: expected a number in (0.5, 1]"),
    ("alpha: 1.0", "alpha: yes", "'alpha' = 'yes': expected a finite number > 0"),
    ("alpha: 1.0", "alpha: true", "'alpha' = True: expected a finite number > 0"),
    ("seeds: [0, 1, 2]", "seeds: [0, -1]", "'seeds[1]' = -1: expected an integer >= 0"),
    # DVC would name the folder -s1.0 where the plan names -s1
    ("seeds: [0, 1, 2]", "seeds: [0, 1.0, 2]", "'seeds[1]' = 1.0: expected an integer >= 0"),
    ("sparse: [0.5, .1]", "sparse: [1.5]", "'sweeps.sparse[0]' = 1.5: expected a fraction in (0, 1)"),
    ("seeds: [0, 2]", "seeds: [0, 3]", "augment.seeds = [0, 3] is not a subset of seeds = [0, 1, 2]"),
    ("seeds: [0, 2]", "seeds: 0", "'augment.seeds' = 0: expected a list of seeds ([] for none)"),
    ("seeds: []", "seeds: [1, 1]", "augment.back_translation.seeds = [1, 1] lists a value twice"),
    ("seeds: []", "seeds: [4]", "augment.back_translation.seeds = [4] is not a subset of seeds"),
    ("seeds: []", "seeds: [1]", "augment.back_translation.seeds = [1] asks for back-translation runs, but "
                                "augment.back_translation.models is null"),
    ("seeds: [0, 1]", "seeds: [0, 3, 4]", "table6.seeds = [0, 3, 4] has [3, 4] not among seeds = [0, 1, 2]"),
    ("seeds: [0, 1]", "seeds: [2, 2]", "table6.seeds = [2, 2] lists a value twice"),
    ("graphs: [gat, gcn]", "graphs: [none, gat]", "'table6.graphs[0]' = 'none': expected one of gat, gcn (graph "
                                                  "none is the main runs)"),
    ("graphs: [gat, gcn]", "graphs: gat", "'table6.graphs' = 'gat': expected a list"),
    ("seeds: [0, 1, 2]", "seeds: []", "'seeds' = []: expected a non-empty list"),
    ("  beta: 1.0\n  fixed", "  beta: 0.5\n  fixed", "'spread.beta' = 0.5: expected a number in (0.5, 1]"),
    ("fixed_lambda: 0.8", "fixed_lambda: 1.5", "'spread.fixed_lambda' = 1.5: expected a number in [0, 1]"),
    ("seed: 1", "seed: 3", "figure6.seed = 3 is not among seeds = [0, 1, 2]"),
])
def test_shapes_that_cannot_run_fail_in_one_line(tmp_path, old, new, message):
    assert old in PARAMS
    with pytest.raises(LhmixError) as error:
        plan_of(tmp_path, PARAMS.replace(old, new))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_default_may_leave_out_the_sweeps_sparse_runs_and_table6(tmp_path):
    """The profile default-full runs them; the default lists none, and the plan then names no such run."""
    plan = plan_of(tmp_path, PARAMS.replace("alpha: [5e-1, 2, 1.0e+1]", "alpha: []").replace("beta: [0.7, 1]", "beta: []")
                   .replace("sparse: [0.5, .1]", "sparse: []").replace("graphs: [gat, gcn]", "graphs: []"))
    assert plan.sweep_runs("wordnet") == {"alpha": [], "beta": []}
    assert (plan.sparse_runs("wordnet"), plan.table6_runs("wordnet"), plan.table6_warmups("wordnet")) == ([], [], [])
    assert len(plan.main_runs("wordnet")) > 0


def test_augmentation_runs_are_the_seeds_asked_for(tmp_path):
    plan = plan_of(tmp_path, PARAMS.replace("models: null", "models: [en-de, de-en]")
                   .replace("seeds: []", "seeds: [1]"))
    runs = plan.augment_runs("wordnet", root=Path("runs"))
    assert [run.path for run in runs["eda"]] == [Path("runs/wordnet/augment/eda/prompt-s0"),
                                                 Path("runs/wordnet/augment/eda/prompt-s2")]
    assert [(run.variant, run.seed, run.path) for run in runs["bt"]] == [
        ("prompt", 1, Path("runs/wordnet/augment/bt/prompt-s1"))]
    assert plan_of(tmp_path).augment_runs("wordnet")["bt"] == []


def test_a_missing_key_and_bad_yaml_name_it(tmp_path):
    with pytest.raises(ParamError, match="'sweeps.sparse' = None: expected a value in"):
        plan_of(tmp_path, PARAMS.replace("  sparse: [0.5, .1]\n", ""))
    (tmp_path / "bad.yaml").write_text("alpha: [1\n")
    with pytest.raises(LhmixError, match="bad.yaml"):
        load_yaml(tmp_path / "bad.yaml")


@pytest.mark.parametrize("section, key, value, message", [
    ("augment.eda", "num_augs", 4, "unknown key 'augment.eda.num_augs' (known here: augment.eda.alpha, "
                                   "augment.eda.num_aug, augment.eda.seed); did you mean 'augment.eda.num_aug'?"),
    ("train", "learning_rate", 1e-3, "unknown key 'train.learning_rate'"),
    ("", "alpah", 2, "unknown key 'alpah' (known here: profile, alpha, beta, "),
])
def test_an_unknown_key_is_refused_naming_the_nearest_known_one(section, key, value, message):
    from lhmix.core.params import check_known_keys

    values = load_yaml(Path(__file__).parents[1] / "params.yaml")
    target = values
    for part in filter(None, section.split(".")):
        target = target[part]
    target[key] = value
    with pytest.raises(LhmixError) as error:
        check_known_keys(values)
    assert message in str(error.value)


def test_a_section_that_takes_no_settings_or_a_section_that_is_not_a_mapping_is_refused():
    from lhmix.core.params import check_known_keys

    values = load_yaml(Path(__file__).parents[1] / "params.yaml")
    values["model"]["bert"] = {"graph": "gat", "head": "linear"}
    with pytest.raises(ParamError, match="'model.bert' = .*: expected {}: this section takes no settings"):
        check_known_keys(values)
    values["model"]["bert"] = {}
    values["train"] = None
    with pytest.raises(ParamError, match="'train' = None: expected a mapping of parameters"):
        check_known_keys(values)


def test_a_mistyped_dataset_key_of_figure6_label_is_an_error():
    from lhmix.reporting.figure6 import choose_label
    from lhmix.data.hierarchy import Hierarchy

    hierarchy = Hierarchy.from_paths([("A", "a1"), ("A", "a2")])[0]
    assert choose_label(hierarchy, {"wordnet": "a2"}, "wordnet") == 2
    with pytest.raises(ParamError, match="'figure6.label.wordnett' = 'act': expected a key that names a dataset"):
        choose_label(hierarchy, {"wordnett": "act"}, "wordnet")
