"""Tokenised texts cached on disk, so that a dataset is tokenised once per tokenizer, template and length
and every run reuses it (on RCV1, 781k test documents would otherwise be tokenised by each of its runs).

The cache is addressed by content: the key hashes the tokenizer's full definition, the family's template
(family, depth), max_length and every text, so an entry can only be what tokenising those texts gives.
It lives outside DVC's outputs (LHMIX_CACHE_DIR, default .cache/lhmix under the working directory), is
written atomically (parallel workers may race to write one entry), and an unreadable entry is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from lhmix.core.files import replaced_on_success
from lhmix.core.logs import logger
from lhmix.model import inputs
from lhmix.training.batches import Ragged

CACHE_ENV = "LHMIX_CACHE_DIR"
# The code that makes an entry is part of its key: a change to it can never be served a stale entry.
BUILDER = hashlib.sha256(Path(inputs.__file__).read_bytes()).hexdigest()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or ".cache/lhmix") / "tokenized"


def tokenizer_fingerprint(tokenizer) -> str:
    """The tokenizer's whole definition (vocabulary, normaliser, special tokens) as one hash."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    definition = (backend.to_str() if backend is not None
                  else json.dumps([tokenizer.get_vocab(), tokenizer.all_special_tokens], sort_keys=True))
    return hashlib.sha256(definition.encode("utf-8")).hexdigest()


def cache_key(tokenizer, texts: Sequence[str], family: str, depth: int, max_length: int) -> str:
    digest = hashlib.sha256(json.dumps([BUILDER, tokenizer_fingerprint(tokenizer), family, depth, max_length,
                                        len(texts)]).encode("utf-8"))
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def tokenised(tokenizer, texts: Sequence[str], family: str, depth: int, max_length: int) -> Ragged:
    """inputs.build_inputs(...) as a Ragged, from the cache when an entry for exactly these inputs exists."""
    path = cache_dir() / f"{cache_key(tokenizer, texts, family, depth, max_length)}.npz"
    cached = _read(path, len(texts))
    if cached is not None:
        return cached
    ragged = Ragged(inputs.build_inputs(tokenizer, list(texts), family, depth, max_length))
    with replaced_on_success(path) as partial:
        with open(partial, "wb") as handle:
            np.savez(handle, offsets=ragged.offsets, values=ragged.values)
    return ragged


def _read(path: Path, rows: int) -> Ragged | None:
    """The entry at `path`, or None when there is none or it cannot be this entry (then it is rebuilt and
    overwritten, with a warning naming it)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            ragged = Ragged.from_arrays(arrays["offsets"], arrays["values"])
    except Exception as error:  # damage surfaces as many types (BadZipFile, EOFError, zlib.error,
        # ValueError, KeyError, OSError); whichever it is, tokenising again gives the entry back
        problem = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    else:
        if len(ragged) == rows:
            return ragged
        problem = f"{len(ragged)} rows, not {rows}"
    logger.warning(f"{path}: unreadable token-cache entry ({problem}); rebuilt")
    return None
