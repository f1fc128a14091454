"""The check stage's validation, run before DVC acts on any stage of this project, whatever the entry point.

DVC interpolates params.yaml's values into out paths and shell commands, and removes a stage's outs before its
command runs; `dvc repro -s <stage>` and `dvc repro --downstream` skip the check stage. So a hostile value
(sweeps.alpha: ["/../../victim"] or ["1';touch x;echo '"]) deletes a folder outside the repository or runs a
command before any stage script could look at it: a check inside the stage, or in the check stage, comes too
late. DVC 3.67 offers no hook and no quoting of its own for that (measured: it removes such an out, and its
shell-quoting is only for dicts unpacked into a command); values could not be kept out of dvc.yaml's paths
either, since the stage lists (seeds, grids) are params.

So this environment gives DVC the hook: `make venv` writes lhmix_dvc_guard.pth into .venv's site-packages
(`python -m lhmix.pipeline.guard`), which imports this module at the start of every Python process of the
venv; in a `dvc` process, `install_in_dvc` wraps `Stage.reproduce`, which DVC calls for every stage of
`dvc repro` (with or without -s, --downstream) and of `dvc exp run` (after -S has written params.yaml),
before it removes that stage's outs or runs its command. The wrapper refuses a stage unless
  1. params.yaml passes the check stage's validation (lhmix.pipeline.plan.check_params), which holds every
     value dvc.yaml interpolates to a vocabulary name or a number, so no value reaches a path or a shell
     unchecked, however it reached params.yaml (composition, hand edit, `dvc exp run -S`);
  2. each of the stage's outs, as DVC resolved it, lies inside the repository (whatever a future dvc.yaml
     interpolates there).
The check stage itself runs unguarded (its command and out are fixed text) so that `dvc repro` shows its
error. The parallel runner calls `check_stage` itself (lhmix.pipeline.runner).

A `dvc` from another environment (pipx, a system install) loads no guard: with a params.yaml that the
check stage has not passed, use this project's .venv/bin/dvc or `make repro` (docs/method.md, "Params from someone else").
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

PTH_NAME = "lhmix_dvc_guard.pth"
UNGUARDED = "check"   # the stage that runs the same validation itself, with a fixed command and out


def check_stage(stage) -> None:
    """An LhmixError unless `stage` (a DVC stage of this project) may run: see the module's docstring."""
    from lhmix.core.errors import LhmixError
    from lhmix.core.params import Params, check_known_keys
    from lhmix.pipeline.plan import check_params

    root = Path(stage.repo.root_dir)
    if not is_this_project(root) or stage.addressing == UNGUARDED:
        return
    params = Params.load(root / "params.yaml")
    check_known_keys(params.values, "params.yaml")
    check_params(params, root)
    for out in stage.outs:
        if out.protocol == "local" and not Path(os.path.abspath(out.fs_path)).is_relative_to(root):
            raise LhmixError(f"{stage.addressing}: out '{os.path.relpath(out.fs_path, root)}' lies outside the "
                             f"repository ({root}); DVC would remove it before running the stage")


def is_this_project(root: Path) -> bool:
    return (root / "stages" / "check.py").is_file() and (root / "params.yaml").is_file()


def install_in_dvc() -> None:
    """Wrap DVC's Stage.reproduce with check_stage, in a `dvc` process only (every other process of the venv
    imports this module and nothing more)."""
    command = Path(sys.argv[0]).name if sys.argv else ""
    if command != "dvc" and getattr(sys, "orig_argv", [])[1:3] != ["-m", "dvc"]:
        return
    from dvc.exceptions import DvcException
    from dvc.stage import Stage

    from lhmix.core.errors import LhmixError
    from lhmix.pipeline import dry_run

    reproduce = Stage.reproduce

    def guarded_reproduce(self, *args, **kwargs):
        try:
            check_stage(self)
        except LhmixError as error:   # DVC prints it as one line: "ERROR: failed to reproduce '<stage>': ..."
            raise DvcException(f"refused by lhmix.pipeline.guard: {error}") from None
        return reproduce(self, *args, **kwargs)

    Stage.reproduce = guarded_reproduce
    dry_run.install_in_dvc()   # not a check: the same hook, so that `dvc repro --dry` works on a fresh clone


def install(site_packages: str | None = None) -> Path:
    """Write the .pth file that loads the guard into every `dvc` of this environment."""
    import sysconfig

    path = Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME
    path.write_text("import lhmix.pipeline.guard; lhmix.pipeline.guard.install_in_dvc()\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"guard installed: {install()}")
