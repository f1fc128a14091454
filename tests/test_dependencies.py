"""dvc.yaml declares what each stage's code uses: every library module its script imports is inside
a declared dep. (The params side, every key read is declared and nothing declared is unread, is
checked on a real `dvc repro` in tests/test_pipeline.py with `undeclared_params`: the keys a stage
reads are only known by running it.)"""
import ast
import functools
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src"


def stage_definitions(repo: Path = REPO) -> dict[str, dict]:
    """{stage name: {"cmd", "deps", "params"}} of every stage, matrices expanded, as DVC reads dvc.yaml."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        definitions = {}
        for stage in dvc_repo.index.stages:
            params = set()
            for dep in stage.deps:
                if hasattr(dep, "params"):
                    params.update(dep.params or [])
            definitions[stage.name] = {
                "cmd": stage.cmd,
                "deps": [Path(dep.def_path) for dep in stage.deps if not hasattr(dep, "params")],
                "params": params}
        return definitions


def module_file(name: str) -> Path | None:
    """The file of module `lhmix.x.y`, if it is one of ours."""
    base = SOURCE.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache  # every stage of a script walks the same files: each is parsed once
def imported_modules(path: Path) -> frozenset[str]:
    """lhmix modules a file imports (anywhere in it, lazy imports included), with their packages."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("lhmix"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lhmix"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if module_file(f"{node.module}.{alias.name}"))
    packages = {".".join(name.split(".")[:end]) for name in names for end in range(1, name.count(".") + 1)}
    return frozenset(names | packages)


# Modules loaded by name at run time: stages/prepare.py has lhmix.datasets.prepare() import the reader
# of the dataset its command line names (importlib.import_module(f"lhmix.datasets.{name}")).
DYNAMIC_IMPORTS = {REPO / "stages" / "prepare.py": "lhmix.datasets.{}"}


def dynamic_imports(path: Path, arguments: list[str]) -> set[str]:
    pattern = DYNAMIC_IMPORTS.get(path)
    if pattern is None:
        return set()
    return {pattern.format(word) for word in arguments if module_file(pattern.format(word))}


def code_files(script: Path, arguments: list[str] = ()) -> set[Path]:
    """The script and every lhmix file it runs, transitively (with what it imports by name for these
    command-line arguments). Package __init__ files that hold no statement but a docstring run nothing
    and are left out."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        modules = imported_modules(path) | dynamic_imports(path, list(arguments))
        todo += [file for file in map(module_file, modules) if file and file not in seen]
    return {path for path in seen if not _docstring_only(path)}


@functools.cache
def _docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def undeclared_code(definitions: dict[str, dict], repo: Path = REPO) -> dict[str, list[str]]:
    """{stage: files its script runs that no dep covers (a dep covers itself and what is below it)}."""
    missing = {}
    for name, stage in definitions.items():
        words = shlex.split(stage["cmd"])
        script = repo / words[1]
        deps = [repo / dep for dep in stage["deps"]]
        uncovered = sorted(str(file.relative_to(repo)) for file in code_files(script, words[2:])
                           if not any(file == dep or dep in file.parents for dep in deps))
        if uncovered:
            missing[name] = uncovered
    return missing


def undeclared_params(definitions: dict[str, dict], log: list[dict]) -> dict[str, dict]:
    """{stage: {"read, not declared": [...], "declared, not read": [...]}} from the params log of a
    run (LHMIX_PARAMS_LOG: one {"argv", "read"} per stage process). A declared section covers the
    keys below it; an empty section declared and never read is fine (model.bert: {}). A stage that
    declares params but left no log entry did not run, or read no params: a problem either way."""
    problems = {}
    for name, stage in definitions.items():
        argv = shlex.split(stage["cmd"])[1:]  # python <script> <arguments>: sys.argv of the stage
        reads = [entry["read"] for entry in log if entry["argv"] == argv]
        if not reads:
            if stage["params"]:
                problems[name] = {"no params log": sorted(stage["params"])}
            continue
        read = set(reads[-1])
        declared = stage["params"]
        not_declared = sorted(key for key in read
                              if not any(key == d or key.startswith(d + ".") for d in declared))
        not_read = sorted(d for d in declared
                          if not any(key == d or key.startswith(d + ".") for key in read)
                          and d not in EMPTY_SECTIONS)
        if not_declared or not_read:
            problems[name] = {"read, not declared": not_declared, "declared, not read": not_read}
    return problems


EMPTY_SECTIONS = {"model.bert"}


@pytest.fixture(scope="module")
def definitions():
    return stage_definitions()


def test_every_stage_declares_the_code_it_runs(definitions):
    assert undeclared_code(definitions) == {}


def test_a_left_out_import_is_found(definitions):
    stage = dict(definitions["stats@wordnet"])
    stage["deps"] = [dep for dep in stage["deps"] if dep != Path("src/lhmix/reporting")]
    missing = undeclared_code({"stats@wordnet": stage})["stats@wordnet"]
    assert "src/lhmix/reporting/stats.py" in missing


def test_a_left_out_dataset_reader_is_found(definitions):
    """prepare.py loads its reader by name (lhmix.datasets.build): the dataset's own module must be a dep."""
    stage = dict(definitions["prepare@wordnet"])
    stage["deps"] = [dep for dep in stage["deps"] if dep != Path("src/lhmix/datasets/wordnet.py")]
    assert undeclared_code({"prepare@wordnet": stage}) == {"prepare@wordnet": ["src/lhmix/datasets/wordnet.py"]}


def test_params_check_finds_both_directions():
    definitions = {"train_mixup@d-prompt-0": {"cmd": "python stages/train.py --mixing mixup",
                                              "params": {"train.lr", "model.prompt", "alpha"}}}
    log = [{"argv": ["stages/train.py", "--mixing", "mixup"],
            "read": ["train.lr", "model.prompt.head", "train.mixup_beta_a"]}]
    assert undeclared_params(definitions, log) == {"train_mixup@d-prompt-0": {
        "read, not declared": ["train.mixup_beta_a"], "declared, not read": ["alpha"]}}
    assert undeclared_params(definitions, []) == {"train_mixup@d-prompt-0": {
        "no params log": ["alpha", "model.prompt", "train.lr"]}}


def test_python_byte_code_is_not_part_of_a_code_dependency():
    """Importing the library writes __pycache__/ beside its sources; DVC must not hash it into the src/lhmix/<folder>
    dependencies, or running the tests would make every stage look changed."""
    import subprocess
    import sys

    dvc = Path(sys.executable).parent / "dvc"
    done = subprocess.run([str(dvc), "check-ignore", "src/lhmix/core/__pycache__/params.cpython-311.pyc",
                           "src/lhmix/training/stray.pyc"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["src/lhmix/core/__pycache__/params.cpython-311.pyc", "src/lhmix/training/stray.pyc"]
