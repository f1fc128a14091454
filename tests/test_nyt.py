"""NYT reader: NITF files inside per-month .tgz archives, the published split lists and vocabulary."""
from __future__ import annotations

import io
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from lhmix.datasets.contract import read_split, write_dataset
from lhmix.datasets import nyt, prepare
from lhmix.core.errors import MalformedInput, ParamError, RawDataMissing

VOCAB = """\
Top/News
Top/News/Business
Top/News/Business/Markets
Top/News/Sports
Top/Features
Top/Features/Arts
"""
# Label ids: depth 1 Features 0, News 1; depth 2 Features/Arts 2, News/Business 3, News/Sports 4;
# depth 3 News/Business/Markets 5.


def nitf(classifiers: list[tuple[str, str]], body: str, abstract: str = "") -> bytes:
    """An NITF document laid out as in LDC2008T19 (doctype, head/docdata, body.head, body.content)."""
    tags = "\n".join(f'<classifier class="online_producer" type="{kind}">{path}</classifier>'
                     for kind, path in classifiers)
    summary = f"<abstract><p>{abstract}</p></abstract>" if abstract else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nitf SYSTEM "http://www.nitf.org/IPTC/NITF/3.3/specification/dtd/nitf-3-3.dtd">
<nitf change.date="June 10, 2005" change.time="19:30" version="-//IPTC//DTD NITF 3.3//EN">
<head><title>A title</title>
<docdata><doc-id id-string="1"/><identified-content>
<classifier class="indexing_service" type="descriptor">Stocks and Bonds</classifier>
{tags}
</identified-content></docdata></head>
<body><body.head><hedline><hl1>Headline Words</hl1></hedline>{summary}</body.head>
<body.content>{body}</body.content>
<body.end><tagline>A tagline</tagline></body.end></body></nitf>
""".encode("utf-8")


LEAD_AND_FULL = ('<block class="lead_paragraph"><p>LEAD: Stocks rose.</p></block>'
                 '<block class="full_text"><p>LEAD: Stocks rose.</p>\n<p>Bonds  fell\n'
                 'sharply.</p></block>')

ARTICLES = {
    # (year, month archive): {member path: NITF}
    ("1987", "01"): {
        "01/01/0000001.xml": nitf([("taxonomic_classifier", "Top/News/Business/Markets"),
                                   ("taxonomic_classifier", "Top/Features/Arts/Music")], LEAD_AND_FULL),
        # Top/News is too short to count; a descriptor path is no taxonomy: no label.
        "01/02/0000002.xml": nitf([("taxonomic_classifier", "Top/News"),
                                   ("descriptor", "Top/News/Sports")], LEAD_AND_FULL),
        "01/02/0000009.xml": b"<nitf><unclosed></nitf>",  # not listed: never parsed
    },
    ("1987", "02"): {
        # No full_text block: the body.content paragraphs; inline markup inside a paragraph.
        "02/03/0000003.xml": nitf([("taxonomic_classifier", "Top/News/Sports/Baseball")],
                                  '<block class="lead_paragraph"><p>Mets win <person>again</person>'
                                  ' today.</p></block>'),
    },
    ("1988", "05"): {
        "05/06/0000004.xml": nitf([("taxonomic_classifier", "Top/News/Sports")], ""),
        "05/07/0000005.xml": nitf([("taxonomic_classifier", "Top/News/Business")],
                                  '<block class="lead_paragraph"><p>First.</p></block>'
                                  '<block class="full_text"><p>First.</p><p>Second &amp; last.</p></block>',
                                  abstract="An abstract."),
        "05/07/0000006.xml": nitf([("taxonomic_classifier", "Top/Features/Arts")], LEAD_AND_FULL),
    },
}

LISTS = {
    "idnewnyt_train.json": ["Nytimes/1987/0000001.xml", "Nytimes/1987/0000002.xml", "Nytimes/1988/0000005.xml"],
    "idnewnyt_val.json": ["Nytimes/1987/0000003.xml"],
    "idnewnyt_test.json": ["Nytimes/1988/0000004.xml", "Nytimes/1988/0000006.xml"],
}


def write_month(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def write_raw(raw: Path, articles=ARTICLES, lists=LISTS, vocab=VOCAB) -> Path:
    for (year, month), members in articles.items():
        write_month(raw / "data" / year / f"{month}.tgz", members)
    for name, lines in lists.items():
        (raw / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (raw / "nyt_label.vocab").write_text(vocab, encoding="utf-8")
    return raw


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return write_raw(tmp_path / "raw")


def test_labels_texts_splits_and_drops(raw: Path) -> None:
    dataset = nyt.build(raw, {})
    names = [(label.name, label.depth, label.parent) for label in dataset.hierarchy.labels]
    assert names == [("Features", 1, None), ("News", 1, None), ("Arts", 2, 0), ("Business", 2, 1),
                     ("Sports", 2, 1), ("Markets", 3, 3)]
    assert dataset.splits["train"] == [
        {"id": "0000001", "labels": [0, 1, 2, 3, 5], "text": "LEAD: Stocks rose. Bonds fell sharply."},
        {"id": "0000005", "labels": [1, 3], "text": "First. Second & last."},
    ]
    assert dataset.splits["dev"] == [{"id": "0000003", "labels": [1, 4], "text": "Mets win again today."}]
    assert dataset.splits["test"] == [
        {"id": "0000006", "labels": [0, 2], "text": "LEAD: Stocks rose. Bonds fell sharply."}]
    assert dataset.dropped == {"no_label": 1, "empty_text": 1, "repeat_within_list": 0,
                               "repeat_across_lists": 0}


def test_contract_written(raw: Path, tmp_path: Path) -> None:
    stats = write_dataset(nyt.build(raw, {}), tmp_path / "out")
    assert stats["splits"] == {"train": 2, "dev": 1, "test": 1}
    assert stats["depth"] == 3
    assert stats["num_labels"] == 6
    assert stats["dropped"] == {"empty_text": 1, "no_label": 1, "repeat_across_lists": 0,
                                "repeat_within_list": 0}


# Like the published lists: a path three times in train, paths of train in val and test, of val in
# test, and repeats inside val and test.
LISTS_WITH_REPEATS = {
    "idnewnyt_train.json": ["Nytimes/1987/0000001.xml", "Nytimes/1988/0000005.xml",
                            "Nytimes/1987/0000001.xml", "Nytimes/1987/0000002.xml",
                            "Nytimes/1987/0000001.xml"],
    "idnewnyt_val.json": ["Nytimes/1987/0000003.xml", "Nytimes/1988/0000005.xml",
                          "Nytimes/1987/0000003.xml"],
    "idnewnyt_test.json": ["Nytimes/1988/0000006.xml", "Nytimes/1987/0000003.xml",
                           "Nytimes/1987/0000001.xml", "Nytimes/1988/0000004.xml",
                           "Nytimes/1988/0000006.xml"],
}


def test_repeated_paths_stay_once_in_the_first_list(tmp_path: Path) -> None:
    stats = write_dataset(nyt.build(write_raw(tmp_path / "raw", lists=LISTS_WITH_REPEATS), {}),
                          tmp_path / "out")
    ids = {split: [doc["id"] for doc in read_split(tmp_path / "out", split)]
           for split in ("train", "dev", "test")}
    assert ids == {"train": ["0000001", "0000005"], "dev": ["0000003"], "test": ["0000006"]}
    assert stats["dropped"] == {"repeat_within_list": 4, "repeat_across_lists": 3,
                                "no_label": 1, "empty_text": 1}
    assert [doc["id"] for doc in read_split(tmp_path / "out", "train")] == ["0000001", "0000005"]


def test_vocabulary_root_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw", vocab="Root\n\n" + VOCAB)
    assert len(nyt.build(raw, {}).hierarchy) == 6


def test_month_archives_in_month_folders_are_found(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw")
    archive = raw / "data" / "1987" / "02.tgz"
    (raw / "data" / "1987" / "02").mkdir()
    archive.rename(raw / "data" / "1987" / "02" / "02.tgz")
    assert [doc["id"] for doc in nyt.build(raw, {}).splits["dev"]] == ["0000003"]


def test_all_missing_raw_files_are_listed(tmp_path: Path) -> None:
    with pytest.raises(RawDataMissing) as error:
        nyt.build(tmp_path, {})
    message = str(error.value)
    for name in ("data", "nyt_label.vocab", "idnewnyt_train.json", "idnewnyt_val.json",
                 "idnewnyt_test.json", "LDC2008T19"):
        assert name in message


def test_listed_document_missing_from_corpus(tmp_path: Path) -> None:
    lists = dict(LISTS, **{"idnewnyt_test.json": ["Nytimes/1988/0000006.xml", "Nytimes/1990/0000077.xml"]})
    raw = write_raw(tmp_path / "raw", lists=lists)
    with pytest.raises(RawDataMissing, match=r"0000077\.xml \(listed at .*idnewnyt_test\.json:2\)"):
        nyt.build(raw, {})


def test_malformed_listed_article(tmp_path: Path) -> None:
    articles = dict(ARTICLES)
    articles["1987", "02"] = {"02/03/0000003.xml": b"<nitf>\n<head>\n</nitf>"}
    raw = write_raw(tmp_path / "raw", articles=articles)
    with pytest.raises(MalformedInput, match=r"02\.tgz:02/03/0000003\.xml:3: not well-formed XML"):
        nyt.build(raw, {})


def test_document_that_is_not_nitf(tmp_path: Path) -> None:
    articles = dict(ARTICLES)
    articles["1987", "02"] = {"02/03/0000003.xml": b"<html/>"}
    with pytest.raises(MalformedInput, match="expected an NITF document"):
        nyt.build(write_raw(tmp_path / "raw", articles=articles), {})


def test_damaged_month_archive(raw: Path) -> None:
    (raw / "data" / "1988" / "05.tgz").write_bytes(b"not a gzip file at all")
    with pytest.raises(MalformedInput, match=r"05\.tgz: cannot be read as a gzip-compressed tar"):
        nyt.build(raw, {})


def test_document_twice_in_corpus(tmp_path: Path) -> None:
    articles = dict(ARTICLES)
    articles["1987", "03"] = {"03/01/0000001.xml": ARTICLES["1987", "01"]["01/01/0000001.xml"]}
    with pytest.raises(MalformedInput, match="document 0000001 is in the corpus twice"):
        nyt.build(write_raw(tmp_path / "raw", articles=articles), {})


@pytest.mark.parametrize("vocab, line, problem", [
    ("Top/News\nNews/Business\n", 2, "expected a taxonomy path"),
    ("Top/News\nTop/News//Markets\n", 2, "expected a taxonomy path"),
    ("Top/News\nTop/News\n", 2, "already on line 1"),
    ("Top/News\nTop/News/Business/Markets\n", 2, "no line for its parent 'Top/News/Business'"),
])
def test_bad_vocabulary(tmp_path: Path, vocab: str, line: int, problem: str) -> None:
    raw = write_raw(tmp_path / "raw", vocab=vocab)
    with pytest.raises(MalformedInput, match=f"nyt_label.vocab:{line}: .*{problem}"):
        nyt.build(raw, {})


def test_empty_vocabulary(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="no labels"):
        nyt.build(write_raw(tmp_path / "raw", vocab="\n"), {})


@pytest.mark.parametrize("lines, problem", [
    (["Nytimes/1987/0000003.xml", "Nytimes/1987/0000003"], "expected a corpus path"),
    (["Nytimes/1987/0000003.xml", "Nytimes/1990/0000001.xml"],
     "document 0000001 is listed under 1990 here but under 1987 at .*idnewnyt_train.json:1$"),
])
def test_bad_split_list(tmp_path: Path, lines: list[str], problem: str) -> None:
    raw = write_raw(tmp_path / "raw", lists=dict(LISTS, **{"idnewnyt_val.json": lines}))
    with pytest.raises(MalformedInput, match=f"idnewnyt_val.json:2: .*{problem}"):
        nyt.build(raw, {})


@pytest.mark.parametrize("lines, problem", [
    ([], "lists no document"),
    (["", "  "], "lists no document"),
    (["Nytimes/1987/0000001.xml", "Nytimes/1988/0000005.xml"],
     "its 2 lines all repeat documents listed before them"),
])
def test_split_list_that_gives_no_document(tmp_path: Path, lines: list[str], problem: str) -> None:
    raw = write_raw(tmp_path / "raw", lists=dict(LISTS, **{"idnewnyt_val.json": lines}))
    with pytest.raises(MalformedInput) as caught:
        prepare("nyt", {}, raw, tmp_path / "processed" / "nyt")
    assert str(caught.value) == (f"{raw / 'idnewnyt_val.json'}: {problem}: split dev would be empty; "
                                 f"expected one corpus path like Nytimes/1995/0799990.xml per line")
    assert not (tmp_path / "processed").exists()


PUBLISHED = Path(__file__).resolve().parents[1] / "data" / "raw" / "nyt"


def test_published_split_lists_and_vocabulary() -> None:
    """The files of the published setup (HiAGM's data/ folder), when they are in data/raw/nyt/."""
    missing = [name for name in (*nyt.SPLIT_LISTS.values(), nyt.VOCAB) if not (PUBLISHED / name).is_file()]
    if missing:
        pytest.skip(f"the published NYT lists and vocabulary are not all in {PUBLISHED} "
                    f"(missing {', '.join(map(str, missing))})")
    dropped: Counter = Counter()
    sizes = {split: len(entries) for split, entries in nyt.read_split_lists(PUBLISHED, dropped).items()}
    assert sizes == {"train": 23_280, "dev": 5_816, "test": 7_259}
    assert dropped["repeat_within_list"] + dropped["repeat_across_lists"] == 116
    hierarchy, _ = nyt.read_vocabulary(PUBLISHED / nyt.VOCAB)
    assert (len(hierarchy), hierarchy.depth) == (166, 8)


def test_parameters_are_refused(raw: Path) -> None:
    with pytest.raises(ParamError, match="prepare.nyt"):
        nyt.build(raw, {"dev_fraction": 0.1})
