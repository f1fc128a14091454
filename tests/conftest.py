"""Per test run: one tokenisation cache outside the repository (lhmix.training.token_cache), one toy project
(tests/toy.py) and one `dvc repro` of the tiny profile (tests/shared_repro.py), built in the background while the
tests that do not read it run first. `make test` spreads the tests over the cores with pytest-xdist."""
import os
import tempfile

import pytest

import shared_repro

os.environ.setdefault("LHMIX_CACHE_DIR", tempfile.mkdtemp(prefix="lhmix-test-cache-"))
# One thread per process (set before anything imports torch; stages run by the tests inherit it): the models are
# tiny, and the xdist workers and the background build share the cores; spinning OpenMP threads of several
# processes would starve each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The fixtures that read the tiny profile's build: tiny_repro, and test_parallel_repro's `sequential`, which reads it
# when the run builds it anyway.
READ_THE_BUILD = ("tiny_repro", "sequential")


def pytest_collection_modifyitems(config, items):
    """Where a test reads the tiny profile's build: start it now, and run its readers last."""
    if not any("tiny_repro" in item.fixturenames for item in items):
        return
    readers = [item for item in items if set(READ_THE_BUILD) & set(item.fixturenames)]
    items[:] = [item for item in items if item not in readers] + readers
    base = config._tmp_path_factory.getbasetemp()
    # under pytest-xdist each worker has a basetemp of its own inside the run's one: build there, once
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny-repro"
    config.stash[shared_repro.BUILD] = folder
    shared_repro.start(folder)


def pytest_sessionfinish(session, exitstatus):
    shared_repro.stop(finished=exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
                      and not session.shouldstop)


@pytest.fixture(scope="session")
def tiny_repro(request):
    """The tiny profile's whole pipeline, built once per run: read it only (shared_repro.writable_copy)."""
    return shared_repro.wait(request.config.stash[shared_repro.BUILD])


@pytest.fixture(scope="session")
def toy_project(tmp_path_factory):
    """The toy project, built once per session: read it only (toy.project copies it for each test module)."""
    from toy import make_project

    return make_project(tmp_path_factory.mktemp("toy-project"))
