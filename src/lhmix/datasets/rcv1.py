"""RCV1-V2: Reuters Corpus Volume 1 with the RCV1-v2 topics and the LYRL2004 training set.

Reads the corpus (Reuters / NIST, newsML stories `<id>newsML.xml`) in any of the forms it comes
in: the per-day zip files of the CDs or per-day folders of XML under `rcv1/`, or one tar archive
`rcv1.tar.xz` (`.tar.gz`, `.tgz`, `.tar.bz2`, `.tar`) of those folders. Plus three appendices
of LYRL2004 (Lewis et al., JMLR 2004), each plain or gzipped: the topic assignments
`rcv1-v2.topics.qrels` (`TOPIC DOCID 1`), the topic tree `rcv1.topics.hier.orig` (`parent: CCAT
child: C15 child-description: PERFORMANCE`) and `lyrl2004_tokens_train.dat`, whose `.I <id>`
lines are the 23,149 training stories (the *tokens* file: the vectors file is another format).

As in the published HTC setup (HPT / contrastive-htc `data/rcv1/data_rcv1.py`):
- labels: the qrels topics of a story with their ancestors (103 labels, depth 4); names are the
  topic descriptions.
- text: the story's `<p>` paragraphs joined by single spaces (the published code glued them);
  case kept. `include_headline: true` puts the `<headline>` first; the published code had none.
- splits: the LYRL training stories, sorted by id, go through scikit-learn's
  `train_test_split(test_size=dev_fraction, random_state=0)` into train and dev (20,834 / 2,315);
  every other story with qrels topics is test (about 781k), in corpus order (day, then id).

Memory stays bounded: train and dev are held in memory, `splits["test"]` is a generator that
reads one story at a time, and the counts in `dropped` are complete once it is exhausted:
`not_in_rcv1_v2` (a story without qrels topics), `empty_text` (no paragraph text: the published
code skipped these), `train_id_without_topics`, `train_id_not_in_corpus`,
`in_qrels_not_in_corpus`, and with `skip_malformed: true`, `malformed_xml` (by default a story
that is not well-formed XML stops the stage with its file and line).
"""
from __future__ import annotations

import gzip
import re
import tarfile
import xml.etree.ElementTree as ElementTree
import zipfile
import zlib
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

from sklearn.model_selection import train_test_split

from lhmix.datasets.contract import PreparedDataset
from lhmix.core.errors import MalformedInput, ParamError, RawDataMissing
from lhmix.core.progress_log import ProgressLog
from lhmix.data.hierarchy import Hierarchy

NAME = "rcv1"
QRELS = "rcv1-v2.topics.qrels"
TOPIC_TREE = "rcv1.topics.hier.orig"
TRAIN_TOKENS = "lyrl2004_tokens_train.dat"
CORPUS_FOLDER = "rcv1"
CORPUS_ARCHIVES = ("rcv1.tar.xz", "rcv1.tar.gz", "rcv1.tgz", "rcv1.tar.bz2", "rcv1.tar")
HOW_TO_GET = """\
The stories are Reuters Corpus Volume 1 (RCV1), from NIST under the Reuters Corpus agreement:
copy the per-day zip files of both CDs (or per-day folders of the XML files) into
data/raw/rcv1/rcv1/, or put a tar archive of those folders at data/raw/rcv1/rcv1.tar.xz.
rcv1-v2.topics.qrels, rcv1.topics.hier.orig and lyrl2004_tokens_train.dat (each may stay .gz)
are online appendices 8, 2 and 12 of Lewis et al., "RCV1: A New Benchmark Collection for Text
Categorization Research", JMLR 5 (2004); put them in data/raw/rcv1/.
See docs/data/rcv1.md."""
OPTIONS = {"dev_fraction": 0.1, "include_headline": False, "skip_malformed": False}
SPLIT_STATE = 0  # random_state of the published train_test_split
DROP_REASONS = ("not_in_rcv1_v2", "empty_text", "train_id_without_topics", "train_id_not_in_corpus",
                "in_qrels_not_in_corpus", "malformed_xml")  # all listed in stats.json, zeros too

_STORY_FILE = re.compile(r"(?:.*/)?(\d+)newsML\.xml")
_TREE_LINE = re.compile(r"parent:\s*(\S+)\s+child:\s*(\S+)\s+child-description:\s*(.*\S)\s*")

Story = tuple[int, str, Callable[[], bytes]]  # id, where (for messages), read its bytes


def build(raw_dir: Path, cfg: dict) -> PreparedDataset:
    options = read_options(cfg)
    raw_dir = Path(raw_dir)
    files = locate(raw_dir)
    hierarchy, id_of_code = read_topic_tree(files[TOPIC_TREE])
    topics = read_qrels(files[QRELS], id_of_code, hierarchy)
    reader = StoryReader(options["include_headline"], options["skip_malformed"])
    dropped = reader.dropped

    train_ids = read_train_ids(files[TRAIN_TOKENS])
    labelled = [doc_id for doc_id in train_ids if doc_id in topics]
    dropped["train_id_without_topics"] += len(train_ids) - len(labelled)
    corpus = files[CORPUS_FOLDER]
    train_docs = collect_train(corpus, set(labelled), topics, reader)
    if len(train_docs) < 2:
        raise MalformedInput(files[TRAIN_TOKENS], None,
                             f"only {len(train_docs)} of its training stories have topics and text "
                             f"in the corpus; a train/dev split needs at least 2")
    try:
        train, dev = train_test_split(train_docs, test_size=options["dev_fraction"],
                                      random_state=SPLIT_STATE)
    except ValueError:  # one side would be empty
        raise ParamError(f"prepare.{NAME}.dev_fraction", options["dev_fraction"],
                         f"a fraction that leaves train and dev non-empty for "
                         f"{len(train_docs)} training stories") from None
    test = stream_test(corpus, topics, frozenset(train_ids), reader)
    return PreparedDataset(name=NAME, hierarchy=hierarchy, dropped=dropped,
                           splits={"train": train, "dev": dev, "test": test})


def read_options(cfg: dict) -> dict:
    unknown = sorted(set(cfg) - set(OPTIONS))
    if unknown:
        raise ParamError(f"prepare.{NAME}.{unknown[0]}", cfg[unknown[0]],
                         f"one of the parameters {', '.join(OPTIONS)}")
    options = {**OPTIONS, **cfg}
    fraction = options["dev_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ParamError(f"prepare.{NAME}.dev_fraction", fraction, "a number in (0, 1)")
    for flag in ("include_headline", "skip_malformed"):
        if not isinstance(options[flag], bool):
            raise ParamError(f"prepare.{NAME}.{flag}", options[flag], "true or false")
    options["dev_fraction"] = float(fraction)
    return options


def locate(raw_dir: Path) -> dict[str, Path]:
    """Each raw input's path (a LYRL file plain or .gz; the corpus folder, else an archive)."""
    found: dict[str, Path] = {}
    missing: list[Path] = []
    for name in (QRELS, TOPIC_TREE, TRAIN_TOKENS):
        candidates = [raw_dir / name, raw_dir / f"{name}.gz"]
        present = [path for path in candidates if path.is_file()]
        if present:
            found[name] = present[0]
        else:
            missing.append(Path(f"{candidates[0]} (or {candidates[1].name})"))
    candidates = [raw_dir / CORPUS_FOLDER, *(raw_dir / name for name in CORPUS_ARCHIVES)]
    present = [path for path in candidates if path.exists()]
    if present:
        found[CORPUS_FOLDER] = present[0]
    else:
        missing.append(Path(f"{candidates[0]}/ (per-day zip files or folders), or "
                            f"{' / '.join(path.name for path in candidates[1:])}"))
    if missing:
        raise RawDataMissing(NAME, missing, HOW_TO_GET)
    return found


# ---------------------------------------------------------------- LYRL2004 appendices

def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines of a LYRL text file, gzipped or not, numbered from 1. The files are ASCII: a byte
    that is not UTF-8 stops here with its line, not later as a wrong topic code or name."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise MalformedInput(path, number, f"byte 0x{raw[error.start]:02x} at column "
                                                       f"{error.start + 1} is not UTF-8 text (the "
                                                       f"LYRL2004 files are ASCII)") from None
                yield number, line
    except (OSError, EOFError, zlib.error) as error:  # a damaged .gz
        raise MalformedInput(path, None, f"cannot be read ({error})") from None


def read_topic_tree(path: Path) -> tuple[Hierarchy, dict[str, int]]:
    """The topic tree, and the label id of each topic code. `Root` is the tree's root, not a label."""
    parent_of: dict[str, str] = {}
    name_of: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        match = _TREE_LINE.fullmatch(line.rstrip("\r\n"))
        if match is None:
            raise MalformedInput(path, number, "expected 'parent: CODE child: CODE "
                                               f"child-description: TEXT', found {line.strip()!r}")
        parent, child, description = match.groups()
        if child == "Root":  # the line that introduces the root
            continue
        if child in line_of:
            raise MalformedInput(path, number, f"topic {child} is already defined on line {line_of[child]}")
        parent_of[child], name_of[child], line_of[child] = parent, description, number
    if not parent_of:
        raise MalformedInput(path, None, "no topics")
    key_paths = {code: path_from_root(code, parent_of, path, line_of) for code in parent_of}
    hierarchy, id_of = Hierarchy.from_paths(key_paths.values(),
                                            {key: name_of[key[-1]] for key in key_paths.values()})
    return hierarchy, {code: id_of[key] for code, key in key_paths.items()}


def path_from_root(code: str, parent_of: dict[str, str], path: Path, line_of: dict[str, int]
                   ) -> tuple[str, ...]:
    chain = [code]
    while parent_of[chain[-1]] != "Root":
        parent = parent_of[chain[-1]]
        if parent not in parent_of:
            raise MalformedInput(path, line_of[chain[-1]], f"parent {parent} of {chain[-1]} is "
                                                           f"neither Root nor a topic of this file")
        if parent in chain:
            raise MalformedInput(path, line_of[code], f"topic {code} is its own ancestor")
        chain.append(parent)
    return tuple(reversed(chain))


def read_qrels(path: Path, id_of_code: dict[str, int], hierarchy: Hierarchy
               ) -> dict[int, tuple[int, ...]]:
    """The labels of each story, ancestors included. Stories share one tuple per label set."""
    codes_of: dict[int, set[int]] = {}
    for number, line in numbered_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[1].isdigit() or fields[2] != "1":
            raise MalformedInput(path, number, f"expected 'TOPIC DOCID 1', found {line.strip()!r}")
        label = id_of_code.get(fields[0])
        if label is None:
            raise MalformedInput(path, number, f"topic {fields[0]} is not in {TOPIC_TREE}")
        codes_of.setdefault(int(fields[1]), set()).add(label)
    if not codes_of:
        raise MalformedInput(path, None, "no topic assignments")
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    labels_of: dict[int, tuple[int, ...]] = {}
    for doc_id, labels in codes_of.items():
        closed = tuple(hierarchy.with_ancestors(labels))
        labels_of[doc_id] = shared.setdefault(closed, closed)
    return labels_of


def read_train_ids(path: Path) -> list[int]:
    """The `.I <id>` lines of the LYRL2004 tokens file; each must be followed by a `.W` line."""
    ids: list[int] = []
    line_of: dict[int, int] = {}
    expect_text_marker = False
    for number, line in numbered_lines(path):
        if expect_text_marker:
            if line.strip() != ".W":
                raise MalformedInput(path, number, f"expected '.W' after the '.I' line, found {line.strip()!r}")
            expect_text_marker = False
        elif line.startswith(".I"):
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit():
                raise MalformedInput(path, number, f"expected '.I <story id>', found {line.strip()!r}")
            doc_id = int(fields[1])
            if doc_id in line_of:
                raise MalformedInput(path, number, f"story {doc_id} is already on line {line_of[doc_id]}")
            line_of[doc_id] = number
            ids.append(doc_id)
            expect_text_marker = True
        elif not ids and line.strip():
            raise MalformedInput(path, number, "expected the LYRL2004 tokens format, which starts "
                                               "with '.I <story id>' (the vectors file "
                                               "lyrl2004_vectors_train.dat is not it)")
    if expect_text_marker:
        raise MalformedInput(path, None, "ends right after an '.I' line")
    if not ids:
        raise MalformedInput(path, None, "no '.I <story id>' lines")
    return ids


# ---------------------------------------------------------------- the stories

def stories(corpus: Path) -> Iterator[Story]:
    """Every story of the corpus, in corpus order; the bytes must be read before the next one."""
    if corpus.is_dir():
        for entry in sorted(corpus.iterdir()):
            if entry.is_dir():
                yield from folder_stories(entry)
            elif entry.suffix.lower() == ".zip":
                yield from zip_stories(entry)
    else:
        yield from tar_stories(corpus)


def story_id(name: str) -> int | None:
    match = _STORY_FILE.fullmatch(name)
    return int(match[1]) if match else None


def folder_stories(folder: Path) -> Iterator[Story]:
    found = [(story_id(path.name), path) for path in folder.rglob("*newsML.xml")]
    for doc_id, path in sorted((doc_id, path) for doc_id, path in found if doc_id is not None):
        yield doc_id, str(path), path.read_bytes


def zip_stories(path: Path) -> Iterator[Story]:
    try:
        with zipfile.ZipFile(path) as archive:
            found = [(story_id(name), name) for name in archive.namelist()]
            for doc_id, name in sorted((doc_id, name) for doc_id, name in found if doc_id is not None):
                yield doc_id, f"{path}:{name}", partial(archive.read, name)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise MalformedInput(path, None, f"cannot be read as a zip file ({error})") from None


def tar_stories(path: Path) -> Iterator[Story]:
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                doc_id = story_id(member.name) if member.isfile() else None
                if doc_id is not None:
                    yield doc_id, f"{path}:{member.name}", partial(read_member, archive, member)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise MalformedInput(path, None, f"cannot be read as a tar archive ({error})") from None


def read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return archive.extractfile(member).read()


class StoryReader:
    """Turns a story's XML into its text; counts what it drops in `dropped`."""

    def __init__(self, include_headline: bool, skip_malformed: bool):
        self.include_headline = include_headline
        self.skip_malformed = skip_malformed
        self.dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})

    def text(self, story: Story) -> str | None:
        """The text, or None (counted) when the story is dropped."""
        doc_id, where, read = story
        try:
            content = read()
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError) as error:
            raise MalformedInput(where, None, f"cannot be read from its archive ({error})") from None
        try:
            text = story_text(doc_id, where, content, self.include_headline)
        except MalformedInput:
            if not self.skip_malformed:
                raise
            self.dropped["malformed_xml"] += 1
            return None
        if not text:
            self.dropped["empty_text"] += 1
            return None
        return text


def story_text(doc_id: int, where: str, content: bytes, include_headline: bool) -> str:
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise MalformedInput(where, error.position[0], f"not well-formed XML ({error})") from None
    if root.tag != "newsitem" or root.get("itemid") != str(doc_id):
        raise MalformedInput(where, None, f"expected <newsitem itemid=\"{doc_id}\">, found <{root.tag}"
                                          f" itemid={root.get('itemid')!r}>")
    body = " ".join(" ".join("".join(p.itertext()) for p in root.iter("p")).split())
    if body and include_headline:
        headline = " ".join((root.findtext("headline") or "").split())
        return f"{headline} {body}" if headline else body
    return body


def collect_train(corpus: Path, wanted: set[int], topics: dict[int, tuple[int, ...]],
                  reader: StoryReader) -> list[dict]:
    """The LYRL training stories, sorted by id. Stops reading once all are found
    (they are the first days of the corpus)."""
    found: dict[int, dict] = {}
    seen: set[int] = set()
    progress = ProgressLog("prepare rcv1: reading the train/dev stories", len(wanted), "story")
    for story in stories(corpus):
        doc_id, where = story[0], story[1]
        if doc_id not in wanted:
            continue
        if doc_id in seen:
            raise MalformedInput(where, None, f"story {doc_id} is in the corpus twice")
        seen.add(doc_id)
        progress.advance()
        text = reader.text(story)
        if text is not None:
            found[doc_id] = {"id": str(doc_id), "labels": list(topics[doc_id]), "text": text}
        if len(seen) == len(wanted):
            break
    progress.finish()
    reader.dropped["train_id_not_in_corpus"] += len(wanted) - len(seen)
    return [found[doc_id] for doc_id in sorted(found)]


def stream_test(corpus: Path, topics: dict[int, tuple[int, ...]], train_ids: frozenset[int],
                reader: StoryReader) -> Iterator[dict]:
    """Every story with topics that is not a LYRL training story, one at a time in corpus order."""
    seen: set[int] = set()
    expected = sum(1 for doc_id in topics if doc_id not in train_ids)
    progress = ProgressLog("prepare rcv1: test", expected, "story")
    for story in stories(corpus):
        doc_id, where = story[0], story[1]
        if doc_id in seen:
            raise MalformedInput(where, None, f"story {doc_id} is in the corpus twice")
        seen.add(doc_id)
        if doc_id in train_ids:
            continue
        labels = topics.get(doc_id)
        if labels is None:
            reader.dropped["not_in_rcv1_v2"] += 1
            continue
        progress.advance()
        text = reader.text(story)
        if text is not None:
            yield {"id": str(doc_id), "labels": list(labels), "text": text}
    progress.finish()
    reader.dropped["in_qrels_not_in_corpus"] += sum(
        1 for doc_id in topics if doc_id not in seen and doc_id not in train_ids)
