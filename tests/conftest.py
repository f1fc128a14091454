"""Per test session: one tokenisation cache outside the repository (lhmix.training.token_cache), one toy project
(tests/toy.py) and one `dvc repro` of the tiny profile (tests/shared_repro.py)."""
import os
import tempfile

import pytest

os.environ.setdefault("LHMIX_CACHE_DIR", tempfile.mkdtemp(prefix="lhmix-test-cache-"))


@pytest.fixture(scope="session")
def tiny_repro(tmp_path_factory):
    """The tiny profile's whole pipeline, built once per session: read it only (shared_repro.writable_copy)."""
    from shared_repro import build_tiny_repro

    return build_tiny_repro(tmp_path_factory.mktemp("tiny-repro"))


@pytest.fixture(scope="session")
def toy_project(tmp_path_factory):
    """The toy project, built once per session: read it only (toy.project copies it for each test module)."""
    from toy import make_project

    return make_project(tmp_path_factory.mktemp("toy-project"))
