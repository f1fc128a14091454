"""lhmix.training.token_cache: a dataset is tokenised once per tokenizer, template and length."""
import numpy as np
import pytest

from lhmix.model import inputs
from lhmix.model.encoders import load_tokenizer
from lhmix.training import token_cache
from lhmix.training.batches import Ragged

UNCACHED = inputs.build_inputs
TEXTS = ["neural networks learn representations from data", "genes", "a third text about boats"]


@pytest.fixture
def tokenizer():
    return load_tokenizer("tiny-random")


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Counts real tokenisations, with a cache of this test's own."""
    monkeypatch.setenv(token_cache.CACHE_ENV, str(tmp_path / "cache"))
    counted = []
    original = inputs.build_inputs

    def counting(*args, **kwargs):
        counted.append(args[1])
        return original(*args, **kwargs)
    monkeypatch.setattr(inputs, "build_inputs", counting)
    return counted


def rows(ragged: Ragged) -> list[list[int]]:
    return [ragged.row(i).tolist() for i in range(len(ragged))]


def test_a_second_run_does_not_tokenise_and_gets_what_tokenising_gives(tokenizer, calls):
    expected = UNCACHED(tokenizer, TEXTS, "prompt", 2, 16)
    first = token_cache.tokenised(tokenizer, TEXTS, "prompt", 2, 16)
    second = token_cache.tokenised(tokenizer, TEXTS, "prompt", 2, 16)
    assert len(calls) == 1
    assert rows(first) == expected
    assert rows(second) == expected


@pytest.mark.parametrize("change", [dict(family="bert"), dict(depth=3), dict(max_length=12),
                                    dict(texts=TEXTS[:2] + ["another text"])])
def test_any_other_input_is_tokenised_afresh(tokenizer, calls, change):
    base = dict(texts=TEXTS, family="prompt", depth=2, max_length=16)
    token_cache.tokenised(tokenizer, **base)
    token_cache.tokenised(tokenizer, **{**base, **change})
    assert len(calls) == 2


def test_another_tokenizer_is_another_entry(tokenizer, calls):
    other = load_tokenizer("splade-tiny")
    assert token_cache.tokenizer_fingerprint(other) != token_cache.tokenizer_fingerprint(tokenizer)
    token_cache.tokenised(tokenizer, TEXTS, "prompt", 2, 16)
    token_cache.tokenised(other, TEXTS, "prompt", 2, 16)
    assert len(calls) == 2


def truncated(entry):
    entry.write_bytes(entry.read_bytes()[:len(entry.read_bytes()) // 2])


def corrupted_inside(entry):
    """A flipped byte inside the compressed values: the zip's checksum no longer holds."""
    raw = bytearray(entry.read_bytes())
    start = raw.index(b"values.npy") + 200
    raw[start:start + 16] = bytes(255 - b for b in raw[start:start + 16])
    entry.write_bytes(bytes(raw))


def without_values(entry):
    with np.load(entry) as arrays:
        offsets = arrays["offsets"]
    with open(entry, "wb") as handle:
        np.savez(handle, offsets=offsets)


def other_rows(entry):
    with open(entry, "wb") as handle:
        np.savez(handle, offsets=np.array([0, 1]), values=np.array([7], dtype=np.int32))


DAMAGES = {"not an archive": lambda entry: entry.write_bytes(b"not a numpy archive"),
           "empty": lambda entry: entry.write_bytes(b""), "truncated": truncated,
           "corrupted inside": corrupted_inside, "without values": without_values, "other rows": other_rows}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_entry_is_rebuilt_with_a_warning(tokenizer, calls, tmp_path, caplog, damage):
    expected = rows(token_cache.tokenised(tokenizer, TEXTS, "prompt", 2, 16))
    (entry,) = (tmp_path / "cache" / "tokenized").glob("*.npz")
    DAMAGES[damage](entry)
    caplog.clear()
    assert rows(token_cache.tokenised(tokenizer, TEXTS, "prompt", 2, 16)) == expected
    assert len(calls) == 2
    (warning,) = [record for record in caplog.records if record.levelname == "WARNING"]
    assert str(entry) in warning.getMessage()
    assert "rebuilt" in warning.getMessage()
    assert "\n" not in warning.getMessage()
    assert rows(token_cache.tokenised(tokenizer, TEXTS, "prompt", 2, 16)) == expected
    assert len(calls) == 2  # the rebuilt entry is served


def test_ragged_from_arrays_refuses_offsets_that_do_not_fit():
    values = np.arange(5, dtype=np.int32)
    assert Ragged.from_arrays(np.array([0, 2, 5]), values).row(1).tolist() == [2, 3, 4]
    for offsets in ([1, 5], [0, 4], [0, 3, 2, 5], []):
        with pytest.raises(ValueError, match="offsets"):
            Ragged.from_arrays(np.array(offsets, dtype=np.int64), values)
