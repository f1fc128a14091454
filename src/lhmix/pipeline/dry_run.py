"""`dvc repro --dry` on a fresh clone, where the outputs of upstream stages do not exist yet.

DVC 3.67 keys its run cache by the hashes of a stage's deps, and computes them even in a dry run, before it
would print the stage's command: a dep that an earlier stage of the same dry run would have written
(data/params-checked, data/processed/<dataset>) is not there, and the dry run stops on FileNotFoundError
(treeverse/dvc issues 9021, 9818). A dep that does not exist has no hash, so no run-cache entry can match it:
`install_in_dvc` makes DVC's test for a hashable stage say so, and the dry run goes on to print the command.
A real run is unchanged: its upstream stages have written every dep before DVC asks."""
from __future__ import annotations


def install_in_dvc() -> None:
    from dvc.stage import cache

    can_hash = cache._can_hash

    def can_hash_existing_deps(stage) -> bool:
        if any(dep.protocol == "local" and not dep.exists for dep in stage.deps):
            return False
        return can_hash(stage)

    cache._can_hash = can_hash_existing_deps
