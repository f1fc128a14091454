"""Classifier inputs: the text after the family's template, as WordPiece ids.

`bert`    [CLS] text [SEP]
`prompt`  [CLS] [D1] [MASK] [D2] [MASK] ... [DD] [MASK] [SEP] text [SEP]  (HPT section 4, LH-Mix section 3)

The depth markers [Dd] are reserved `[unusedK]` slots of the BERT WordPiece vocabulary. The template
comes first, so the d-th [MASK] is always at position 2d, and the text is cut so that the whole input
fits in max_length.
"""
from __future__ import annotations

from lhmix.core.errors import LhmixError, ParamError
from lhmix.core.vocabulary import FAMILIES, check_choice


def marker_token(depth: int) -> str:
    """The vocabulary slot used as the marker of `depth` (1-based)."""
    return f"[unused{depth - 1}]"


def prompt_length(depth: int) -> int:
    """Tokens before the text in a prompt input: [CLS], D pairs [Dd] [MASK], [SEP]."""
    return 2 * depth + 2


def check_family(family: str) -> None:
    check_choice("family", family, FAMILIES)


def _prefix(tokenizer, family: str, depth: int) -> list[int]:
    check_family(family)
    if family == "bert":
        return [tokenizer.cls_token_id]
    prefix = [tokenizer.cls_token_id]
    for d in range(1, depth + 1):
        prefix += [marker_id(tokenizer, d), tokenizer.mask_token_id]
    return prefix + [tokenizer.sep_token_id]


def marker_id(tokenizer, depth: int) -> int:
    token = marker_token(depth)
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise LhmixError(f"the tokenizer has no reserved slot {token} for the depth-{depth} marker: "
                         "the prompt needs a BERT WordPiece vocabulary with [unusedK] tokens")
    return token_id


def build_inputs(tokenizer, texts: list[str], family: str, depth: int, max_length: int) -> list[list[int]]:
    """Token ids of each text: the prompt template (family 'prompt') or [CLS] (family 'bert'),
    then the text, then [SEP]. The text is truncated so that the whole fits in max_length."""
    prefix = _prefix(tokenizer, family, depth)
    room = max_length - len(prefix) - 1
    if room < 1:
        raise ParamError("train.max_length", max_length,
                         f"at least {len(prefix) + 2} for a '{family}' input of depth {depth}")
    text_ids = _truncated_ids(tokenizer, list(texts), room)
    return [prefix + ids + [tokenizer.sep_token_id] for ids in text_ids]


def _truncated_ids(tokenizer, texts: list[str], room: int) -> list[list[int]]:
    """The first `room` WordPiece ids of each text, without special tokens.

    Long texts (RCV1) are first cut to their first `room` words: WordPiece splits at whitespace and
    a word gives at least one token, so the cut keeps the same first `room` ids and saves most of
    the tokenising. The rare text whose words give no token (e.g. only control characters) and so
    comes out short is tokenised again in full: the result is exact either way.
    """
    parts = [text.split(None, room) for text in texts]
    cut = [len(words) > room for words in parts]
    short_texts = [" ".join(words[:room]) if was_cut else text
                   for text, words, was_cut in zip(texts, parts, cut)]
    ids = _tokenize(tokenizer, short_texts, room)
    redo = [index for index, row in enumerate(ids) if cut[index] and len(row) < room]
    for index, row in zip(redo, _tokenize(tokenizer, [texts[index] for index in redo], room)):
        ids[index] = row
    return ids


def _tokenize(tokenizer, texts: list[str], room: int) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer(texts, add_special_tokens=False, truncation=True, max_length=room)["input_ids"]
