"""NYT: The New York Times Annotated Corpus (LDC2008T19) with the split the HTC papers share.

Reads the corpus as LDC distributes it, `data/YYYY/MM.tgz` (each a gzip tar of NITF files
`MM/DD/NNNNNNN.xml`), streaming the archives without extracting them, plus three files from
the published HTC setup (released with HiAGM; read by HPT's and contrastive-htc's
`data/nyt/data_nyt.py`): the split lists `idnewnyt_{train,val,test}.json` (despite the name, one
path per line, `Nytimes/1995/0799990.xml`) and the label vocabulary `nyt_label.vocab` (`Root`,
then one `Top/...` path per line).

- labels: every `<classifier type="taxonomic_classifier">` path with at least three parts
  (`Top/News/Business`; `Top/News` alone is skipped, as published) contributes each of its
  prefixes that is in the vocabulary. The leading `Top` is not a label: `Top/News` is a
  top-level label named "News". 166 labels, depth 8.
- text: the article as printed, i.e. the paragraphs of the `full_text` block of `body.content`
  (all `body.content` paragraphs when an article has no such block), joined by single spaces.
  The published script took every `<p>` of the file but the first, glued together; that first
  `<p>` is the abstract when there is one (the lead paragraph then comes twice), else the
  `lead_paragraph` block, which `full_text` repeats. Case is kept (HPT keeps it; the uncased
  tokenizer lowers it).
- splits: the lists, in their order, one copy per document. The published lists repeat paths,
  within a list and across lists; the published script kept every copy and put each in the first
  of train, val, test whose list names it. Here a document stays only where it is first listed in
  that order, and every repeated line is counted in `dropped` (`repeat_within_list`,
  `repeat_across_lists`): 23,280 / 5,816 / 7,259 documents. The papers' 23,345 / 5,834 / 7,292 are
  the lists' line counts. Document id = the number in the path (`0799990`).

A listed document the corpus does not have stops the stage (the published script fails on it
too), and so does a list that gives its split no document. Listed documents the published script
could not have used are also counted in `dropped`: `empty_text` (it skipped them) and `no_label`
(it kept them with no label; the contract needs one).
"""
from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ElementTree
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


from lhmix.datasets.contract import PreparedDataset
from lhmix.core.errors import MalformedInput, ParamError, RawDataMissing
from lhmix.core.progress_log import ProgressLog
from lhmix.data.hierarchy import Hierarchy

NAME = "nyt"
CORPUS = Path("data")
VOCAB = Path("nyt_label.vocab")
SPLIT_LISTS = {"train": Path("idnewnyt_train.json"), "dev": Path("idnewnyt_val.json"),
               "test": Path("idnewnyt_test.json")}
HOW_TO_GET = """\
The corpus is LDC2008T19 (The New York Times Annotated Corpus, LDC licence): copy or link its
folder nyt_corpus/data (the YYYY/MM.tgz archives) to data/raw/nyt/data. The split lists
idnewnyt_train.json, idnewnyt_val.json, idnewnyt_test.json and the label list nyt_label.vocab of
the published HTC setup are in the data/ folder of the HiAGM repository (Alibaba-NLP/HiAGM);
put them in data/raw/nyt/. See docs/data/nyt.md."""

# One line of a split list: the published script keeps the text between "Nytimes/YYYY/" and ".xml".
_LISTED_PATH = re.compile(r"(?:.*/)?(?P<year>\d{4})/(?P<number>\d+)\.xml")
_SHORTEST_USED_PATH = 3  # Top/News/Business; the published script skips Top/News
DROP_REASONS = ("repeat_within_list", "repeat_across_lists", "empty_text", "no_label")


@dataclass(frozen=True)
class Listed:
    """One entry of a split list."""
    number: str  # the document number, as in the file name: the document id
    year: str    # which data/YYYY/ holds it
    where: str   # file:line, for messages


@dataclass(frozen=True)
class Article:
    text: str
    taxonomy: tuple[str, ...]  # the taxonomic_classifier paths, e.g. "Top/News/Business"


def build(raw_dir: Path, cfg: dict) -> PreparedDataset:
    if cfg:
        raise ParamError(f"prepare.{NAME}", cfg, "no parameters: labels, text and splits are "
                                                 "fixed by the published setup")
    raw_dir = Path(raw_dir)
    check_present(raw_dir)
    hierarchy, label_of = read_vocabulary(raw_dir / VOCAB)
    dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})  # zeros are listed in stats too
    lists = read_split_lists(raw_dir, dropped)
    articles = read_articles(raw_dir / CORPUS, [entry for entries in lists.values() for entry in entries])
    splits = {}
    for split, entries in lists.items():
        splits[split] = []
        for entry in entries:
            article = articles[entry.number]
            labels = hierarchy.with_ancestors(labels_of(article.taxonomy, label_of))
            if not article.text:
                dropped["empty_text"] += 1
            elif not labels:
                dropped["no_label"] += 1
            else:
                splits[split].append({"id": entry.number, "labels": labels, "text": article.text})
    return PreparedDataset(name=NAME, hierarchy=hierarchy, splits=splits, dropped=dropped)


def check_present(raw_dir: Path) -> None:
    expected = [raw_dir / CORPUS, raw_dir / VOCAB, *(raw_dir / name for name in SPLIT_LISTS.values())]
    missing = [path for path in expected if not path.exists()]
    if missing:
        raise RawDataMissing(NAME, missing, HOW_TO_GET)


# ---------------------------------------------------------------- labels

def read_vocabulary(path: Path) -> tuple[Hierarchy, dict[str, int]]:
    """The label tree from nyt_label.vocab, and the id of each vocabulary entry (`Top/...`)."""
    line_of: dict[str, int] = {}
    for number, line in enumerate(read_lines(path), start=1):
        entry = line.strip()
        if entry in ("", "Top", "Root"):
            continue
        parts = entry.split("/")
        if parts[0] != "Top" or len(parts) < 2 or "" in parts:
            raise MalformedInput(path, number, f"expected a taxonomy path like Top/News/Business, "
                                               f"found {entry!r}")
        if entry in line_of:
            raise MalformedInput(path, number, f"{entry!r} is already on line {line_of[entry]}")
        line_of[entry] = number
    if not line_of:
        raise MalformedInput(path, None, "no labels; expected one Top/... path per line")
    for entry, number in line_of.items():
        parent = entry.rsplit("/", 1)[0]
        if parent != "Top" and parent not in line_of:
            raise MalformedInput(path, number, f"{entry!r} has no line for its parent {parent!r}")
    key_paths = {entry: tuple(entry.split("/")[1:]) for entry in line_of}
    hierarchy, id_of = Hierarchy.from_paths(key_paths.values())
    return hierarchy, {entry: id_of[key] for entry, key in key_paths.items()}


def labels_of(taxonomy: tuple[str, ...], label_of: dict[str, int]) -> set[int]:
    """The vocabulary labels of a document's taxonomy paths, as the published script picks them."""
    labels = set()
    for path in taxonomy:
        parts = path.split("/")
        if len(parts) < _SHORTEST_USED_PATH:
            continue
        for end in range(1, len(parts) + 1):
            label = label_of.get("/".join(parts[:end]))
            if label is not None:
                labels.add(label)
    return labels


# ---------------------------------------------------------------- split lists

def read_split_lists(raw_dir: Path, dropped: Counter) -> dict[str, list[Listed]]:
    """The documents of each list in list order, each once: a document listed again, in the same
    list or a later one (train, val, test), stays where it was first listed; the extra lines are
    counted in `dropped`."""
    lists: dict[str, list[Listed]] = {}
    first_seen: dict[str, tuple[str, Listed]] = {}  # document number -> (split, entry)
    for split, name in SPLIT_LISTS.items():
        path = raw_dir / name
        lists[split] = []
        listed_lines = 0
        for number, line in enumerate(read_lines(path), start=1):
            if not line.strip():
                continue
            listed_lines += 1
            entry = parse_listed(path, number, line.strip())
            first_split, first = first_seen.setdefault(entry.number, (split, entry))
            if first is entry:
                lists[split].append(entry)
            elif first.year != entry.year:
                raise MalformedInput(path, number, f"document {entry.number} is listed under "
                                                   f"{entry.year} here but under {first.year} at "
                                                   f"{first.where}")
            else:
                dropped["repeat_within_list" if first_split == split else "repeat_across_lists"] += 1
        if not lists[split]:
            problem = (f"its {listed_lines} lines all repeat documents listed before them" if listed_lines
                       else "lists no document")
            raise MalformedInput(path, None, f"{problem}: split {split} would be empty; expected one "
                                             f"corpus path like Nytimes/1995/0799990.xml per line")
    return lists


def parse_listed(path: Path, number: int, line: str) -> Listed:
    match = _LISTED_PATH.fullmatch(line)
    if match is None:
        raise MalformedInput(path, number, f"expected a corpus path like Nytimes/1995/0799990.xml, "
                                           f"found {line!r}")
    return Listed(number=match["number"], year=match["year"], where=f"{path}:{number}")


# ---------------------------------------------------------------- the corpus

def read_articles(corpus: Path, wanted: list[Listed]) -> dict[str, Article]:
    """Parse the listed documents, and only those, out of the month archives of their years."""
    year_of = {entry.number: entry.year for entry in wanted}
    archives = [archive for year in sorted(set(year_of.values()))
                for archive in sorted((corpus / year).glob("**/*.tgz"))]
    articles: dict[str, Article] = {}
    progress = ProgressLog("prepare nyt: reading the month archives", len(archives), "archive")
    for archive in archives:
        year = archive.relative_to(corpus).parts[0]
        for member_name, content in listed_members(archive, year, year_of):
            where = f"{archive}:{member_name}"
            number = Path(member_name).stem
            if number in articles:
                raise MalformedInput(archive, None, f"{member_name}: document {number} is in the "
                                                    f"corpus twice")
            articles[number] = parse_article(content, where)
        progress.advance()
    progress.finish()
    missing = [entry for entry in wanted if entry.number not in articles]
    if missing:
        shown = [corpus / entry.year / f"*.tgz: {entry.number}.xml (listed at {entry.where})"
                 for entry in missing[:20]]
        if len(missing) > len(shown):
            shown.append(Path(f"... and {len(missing) - len(shown)} more listed documents"))
        raise RawDataMissing(NAME, shown, HOW_TO_GET)
    return articles


def listed_members(archive: Path, year: str, year_of: dict[str, str]):
    """(name, bytes) of each member of a month archive that a split list asks for."""
    try:
        with tarfile.open(archive, mode="r|gz") as members:
            for member in members:
                number = Path(member.name).stem
                if member.isfile() and member.name.endswith(".xml") and year_of.get(number) == year:
                    yield member.name, members.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise MalformedInput(archive, None, f"cannot be read as a gzip-compressed tar archive "
                                            f"({error})") from None


def parse_article(content: bytes, where: str) -> Article:
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise MalformedInput(where, error.position[0], f"not well-formed XML ({error})") from None
    if root.tag != "nitf":
        raise MalformedInput(where, None, f"expected an NITF document (<nitf>), found <{root.tag}>")
    taxonomy = tuple((classifier.text or "").strip() for classifier in root.iter("classifier")
                     if classifier.get("type") == "taxonomic_classifier")
    return Article(text=article_text(root), taxonomy=taxonomy)


def article_text(root: ElementTree.Element) -> str:
    content = root.find("body/body.content")
    if content is None:
        return ""
    full_text = [block for block in content.iter("block") if block.get("class") == "full_text"]
    paragraphs = ["".join(p.itertext()) for source in (full_text or [content]) for p in source.iter("p")]
    return " ".join(" ".join(paragraphs).split())


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise MalformedInput(path, None, f"not UTF-8 text ({error.reason})") from None
