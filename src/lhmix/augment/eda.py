"""EDA, Easy Data Augmentation (Wei and Zou 2019, EMNLP-IJCNLP, arXiv 1901.11196).

Each augmented copy of a text comes from one of four operations on its words, as in the paper's
section 2 and its code (github.com/jasonwei20/eda_nlp, code/eda.py):
  SR  synonym replacement  n distinct non-stop words that have synonyms, every occurrence replaced
                           by one random synonym
  RI  random insertion     n times: a random synonym of a random non-stop word, at a random position
  RS  random swap          n times: two random positions swap their words
  RD  random deletion      each word deleted with probability alpha; at least one word stays
with n = max(1, int(alpha * words)). The copies of a text spread over the operations as the code
spreads them: (num_aug // 4 + 1) of each, shuffled, the first num_aug kept. The text is put in EDA's
normal form first (lower case, letters a-z only; lhmix.augment.synonyms.normalise).

Where the code and the paper differ, this follows the paper: RI picks among non-stop words that have
synonyms and inserts a random synonym at any of the len + 1 positions (the code tries ten random
words, stop words included, takes the first synonym of an unordered set and never appends at the end).

Randomness comes only from the numpy Generator passed in, so a copy is a function of (text, seed).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lhmix.augment.synonyms import Synonyms, normalise

# The stop words of EDA's code (NLTK's English list): SR and RI leave them alone.
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is
are was were be been being have has had having do does did doing a an the and but if or because as
until while of at by for with about against between into through during before after above below to
from up down in out on off over under again further then once here there when where why how all any
both each few more most other some such no nor not only own same so than too very s t can will just
don should now""".split())

Words = list[str]


def synonym_replacement(words: Words, n: int, synonyms: Synonyms, rng: np.random.Generator) -> Words:
    candidates = [word for word in dict.fromkeys(words) if word not in STOP_WORDS and word in synonyms]
    chosen = [candidates[i] for i in rng.permutation(len(candidates))[:n]]
    replacement = {word: synonyms[word][rng.integers(len(synonyms[word]))] for word in chosen}
    return " ".join(replacement.get(word, word) for word in words).split()


def random_insertion(words: Words, n: int, synonyms: Synonyms, rng: np.random.Generator) -> Words:
    words = list(words)
    for _ in range(n):
        candidates = [word for word in words if word not in STOP_WORDS and word in synonyms]
        if not candidates:
            break
        options = synonyms[candidates[rng.integers(len(candidates))]]
        position = int(rng.integers(len(words) + 1))
        words[position:position] = options[rng.integers(len(options))].split()
    return words


def random_swap(words: Words, n: int, rng: np.random.Generator) -> Words:
    words = list(words)
    if len(words) < 2:
        return words
    for _ in range(n):
        first, second = rng.choice(len(words), size=2, replace=False)
        words[first], words[second] = words[second], words[first]
    return words


def random_deletion(words: Words, p: float, rng: np.random.Generator) -> Words:
    if len(words) < 2:
        return list(words)
    kept = [word for word, draw in zip(words, rng.random(len(words))) if draw >= p]
    return kept or [words[rng.integers(len(words))]]


def augment(text: str, alpha: float, num_aug: int, synonyms: Synonyms, rng: np.random.Generator) -> list[str]:
    """`num_aug` augmented copies of `text`. A text with no letters has no words to change: its
    copies are the text itself."""
    words = normalise(text).split()
    if not words:
        return [text] * num_aug
    n = max(1, int(alpha * len(words)))
    operations: tuple[Callable[[], Words], ...] = (
        lambda: synonym_replacement(words, n, synonyms, rng),
        lambda: random_insertion(words, n, synonyms, rng),
        lambda: random_swap(words, n, rng),
        lambda: random_deletion(words, alpha, rng),
    )
    order = rng.permutation(np.tile(np.arange(len(operations)), num_aug // len(operations) + 1))[:num_aug]
    return [" ".join(operations[index]()) for index in order]


def eda_augmenter(alpha: float, num_aug: int, seed: int, synonyms: Synonyms):
    """texts -> each text's copies; the copies of the i-th text use a Generator seeded with (seed, i),
    so they do not depend on the other texts or on the order they are made in."""
    def copies(texts: list[str]) -> list[list[str]]:
        return [augment(text, alpha, num_aug, synonyms, np.random.default_rng([seed, index]))
                for index, text in enumerate(texts)]
    return copies
