"""One tokenisation cache per test session, outside the repository (lhmix.training.token_cache)."""
import os
import tempfile

os.environ.setdefault("LHMIX_CACHE_DIR", tempfile.mkdtemp(prefix="lhmix-test-cache-"))
