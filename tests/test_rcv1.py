"""RCV1-V2 reader: newsML stories as folders, per-day zips or one tar; qrels, topic tree, LYRL ids."""
from __future__ import annotations

import gzip
import inspect
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from lhmix.datasets.contract import read_split, write_dataset
from lhmix.datasets import rcv1
from lhmix.core.errors import MalformedInput, ParamError, RawDataMissing

TOPIC_TREE = """\
parent: None      child: Root   child-description: Root
parent: Root      child: CCAT   child-description: CORPORATE/INDUSTRIAL
parent: CCAT      child: C15    child-description: PERFORMANCE
parent: C15       child: C151   child-description: ACCOUNTS/EARNINGS
parent: C151      child: C1511  child-description: ANNUAL RESULTS
parent: Root      child: ECAT   child-description: ECONOMICS
parent: ECAT      child: E11    child-description: ECONOMIC PERFORMANCE
parent: Root      child: GCAT   child-description: GOVERNMENT/SOCIAL
"""
# Label ids: CCAT 0, ECAT 1, GCAT 2, C15 3, E11 4, C151 5, C1511 6.
ANCESTORS_OF = {"CCAT": [0], "ECAT": [1], "GCAT": [2], "C15": [0, 3], "E11": [1, 4],
                "C151": [0, 3, 5], "C1511": [0, 3, 5, 6]}

TRAIN_IDS = list(range(101, 111))  # in the corpus, with topics and text
# 111: LYRL train id missing from the corpus; 112: no topics; 113: empty text.
LYRL_IDS = TRAIN_IDS + [111, 112, 113]
QRELS_TOPICS = {**{doc_id: ["C15"] for doc_id in TRAIN_IDS}, 111: ["GCAT"], 113: ["ECAT"],
                201: ["C1511"], 202: ["E11", "GCAT"], 203: ["CCAT"], 205: ["GCAT"]}
# 203: empty text; 204: no topics (not in RCV1-v2); 205: in the qrels, not in the corpus.
DAYS = {"19960820": [101, 102, 103, 104, 105, 106, 107, 112, 113],
        "19960821": [108, 109, 110, 201, 202],
        "19960822": [203, 204]}
EMPTY = {113, 203}


def story(doc_id: int, paragraphs: list[str] | None = None) -> bytes:
    """A newsML story as on the RCV1 CDs (ISO-8859-1, topic codes of RCV1-v1 in the metadata)."""
    if paragraphs is None:
        paragraphs = [] if doc_id in EMPTY else [f"Story {doc_id} opens.", f"Café  prices\nrose {doc_id}."]
    body = "\n".join(f"<p>{text}</p>" for text in paragraphs)
    return f"""<?xml version="1.0" encoding="iso-8859-1" ?>
<newsitem itemid="{doc_id}" id="root" date="1996-08-20" xml:lang="en">
<title>MEXICO: Headline {doc_id}.</title>
<headline>Headline {doc_id}.</headline>
<byline>A Reporter</byline>
<dateline>MEXICO CITY 1996-08-20</dateline>
<text>
{body}
</text>
<copyright>(c) Reuters Limited 1996</copyright>
<metadata>
<codes class="bip:topics:1.0">
  <code code="M14">
    <editdetail attribution="Reuters BIP Coding Group" action="confirmed" date="1996-08-20"/>
  </code>
</codes>
<dc element="dc.date.created" value="1996-08-20"/>
</metadata>
</newsitem>
""".encode("iso-8859-1")


def corpus_files(days=DAYS) -> dict[str, dict[str, bytes]]:
    return {day: {f"{doc_id}newsML.xml": story(doc_id) for doc_id in ids} for day, ids in days.items()}


def write_folders(raw: Path, days: dict[str, dict[str, bytes]]) -> None:
    for day, files in days.items():
        for name, content in files.items():
            path = raw / "rcv1" / day / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def write_zips(raw: Path, days: dict[str, dict[str, bytes]]) -> None:
    (raw / "rcv1").mkdir(parents=True, exist_ok=True)
    for day, files in days.items():
        with zipfile.ZipFile(raw / "rcv1" / f"{day}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)


def write_tar(raw: Path, days: dict[str, dict[str, bytes]]) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    with tarfile.open(raw / "rcv1.tar.xz", "w:xz") as archive:
        for name, content in [("rcv1/codes/topic_codes.txt", b"not a story")] + [
                (f"rcv1/{day}/{name}", content) for day, files in days.items() for name, content in files.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


LAYOUTS = {"folders": write_folders, "zips": write_zips, "tar": write_tar}


def write_appendices(raw: Path, tree=TOPIC_TREE, lyrl_ids=LYRL_IDS, compress=False, qrels=None) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    if qrels is None:
        qrels = "".join(f"{topic} {doc_id} 1\n" for doc_id, topics in sorted(QRELS_TOPICS.items())
                        for topic in topics)
    tokens = "".join(f".I {doc_id}\n.W\nrecov excit mexic market\nfrenzi\n\n" for doc_id in lyrl_ids)
    for name, text in ((rcv1.TOPIC_TREE, tree), (rcv1.QRELS, qrels), (rcv1.TRAIN_TOKENS, tokens)):
        if compress:
            with gzip.open(raw / f"{name}.gz", "wt", encoding="ascii") as handle:
                handle.write(text)
        else:
            (raw / name).write_text(text, encoding="ascii")


def write_raw(raw: Path, layout: str = "folders", days=None, **appendices) -> Path:
    write_appendices(raw, **appendices)
    LAYOUTS[layout](raw, corpus_files() if days is None else days)
    return raw


def consume(dataset) -> dict[str, list[dict]]:
    return {split: list(docs) for split, docs in dataset.splits.items()}


def text_of(doc_id: int) -> str:
    return f"Story {doc_id} opens. Café prices rose {doc_id}."


EXPECTED_DROPS = {"not_in_rcv1_v2": 1, "empty_text": 2, "train_id_without_topics": 1,
                  "train_id_not_in_corpus": 1, "in_qrels_not_in_corpus": 1, "malformed_xml": 0}


def test_tree_names_and_depths(tmp_path: Path) -> None:
    dataset = rcv1.build(write_raw(tmp_path), {})
    assert [(label.name, label.depth, label.parent) for label in dataset.hierarchy.labels] == [
        ("CORPORATE/INDUSTRIAL", 1, None), ("ECONOMICS", 1, None), ("GOVERNMENT/SOCIAL", 1, None),
        ("PERFORMANCE", 2, 0), ("ECONOMIC PERFORMANCE", 2, 1), ("ACCOUNTS/EARNINGS", 3, 3),
        ("ANNUAL RESULTS", 4, 5)]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_splits_labels_texts_and_drops(tmp_path: Path, layout: str) -> None:
    dataset = rcv1.build(write_raw(tmp_path, layout), {"dev_fraction": 0.1})
    assert inspect.isgenerator(dataset.splits["test"])
    docs = consume(dataset)
    # train_test_split(sorted ids 101..110, test_size=0.1, random_state=0), in the order it returns
    assert [doc["id"] for doc in docs["train"]] == ["109", "105", "110", "102", "107", "108", "104", "101", "106"]
    assert docs["dev"] == [{"id": "103", "labels": [0, 3], "text": text_of(103)}]
    assert docs["test"] == [{"id": "201", "labels": ANCESTORS_OF["C1511"], "text": text_of(201)},
                            {"id": "202", "labels": [1, 2, 4], "text": text_of(202)}]
    assert dict(dataset.dropped) == EXPECTED_DROPS


def test_zips_and_folders_side_by_side(tmp_path: Path) -> None:
    days = corpus_files()
    write_appendices(tmp_path)
    write_zips(tmp_path, {"19960821": days["19960821"]})
    write_folders(tmp_path, {day: files for day, files in days.items() if day != "19960821"})
    docs = consume(rcv1.build(tmp_path, {}))
    assert [doc["id"] for doc in docs["test"]] == ["201", "202"]
    assert len(docs["train"]) + len(docs["dev"]) == 10


def test_drop_counts_grow_while_test_is_read(tmp_path: Path) -> None:
    dataset = rcv1.build(write_raw(tmp_path), {})
    assert dataset.dropped["not_in_rcv1_v2"] == 0
    assert dataset.dropped["empty_text"] == 1
    list(dataset.splits["test"])
    assert dataset.dropped["not_in_rcv1_v2"] == 1
    assert dataset.dropped["empty_text"] == 2


def test_contract_written(tmp_path: Path) -> None:
    stats = write_dataset(rcv1.build(write_raw(tmp_path / "raw", "tar"), {}), tmp_path / "out")
    assert stats["splits"] == {"train": 9, "dev": 1, "test": 2}
    assert stats["depth"] == 4
    assert stats["num_labels"] == 7
    assert stats["dropped"] == EXPECTED_DROPS
    assert read_split(tmp_path / "out", "test")[1] == {"id": "202", "labels": [1, 2, 4], "text": text_of(202)}


def test_dev_fraction_and_gzipped_appendices(tmp_path: Path) -> None:
    docs = consume(rcv1.build(write_raw(tmp_path, compress=True), {"dev_fraction": 0.3}))
    assert [doc["id"] for doc in docs["dev"]] == ["103", "109", "105"]
    assert len(docs["train"]) == 7


def test_headline_first_when_asked(tmp_path: Path) -> None:
    docs = consume(rcv1.build(write_raw(tmp_path), {"include_headline": True}))
    assert docs["test"][0]["text"] == "Headline 201. " + text_of(201)
    assert len(docs["test"]) == 2  # a story with a headline but no paragraph is still dropped


def test_training_pass_stops_once_all_found_and_test_is_lazy(tmp_path: Path) -> None:
    raw = write_raw(tmp_path, "zips", lyrl_ids=TRAIN_IDS)
    (raw / "rcv1" / "19960822.zip").write_bytes(b"damaged")  # after every training story
    dataset = rcv1.build(raw, {})
    assert len(dataset.splits["train"]) == 9
    with pytest.raises(MalformedInput, match=r"19960822\.zip: cannot be read as a zip file"):
        list(dataset.splits["test"])


def test_all_missing_raw_files_are_listed(tmp_path: Path) -> None:
    with pytest.raises(RawDataMissing) as error:
        rcv1.build(tmp_path, {})
    message = str(error.value)
    for name in ("rcv1-v2.topics.qrels", "rcv1.topics.hier.orig", "lyrl2004_tokens_train.dat",
                 "rcv1.tar.xz", "NIST", "JMLR"):
        assert name in message


def test_malformed_story_stops_with_file_and_line(tmp_path: Path) -> None:
    days = corpus_files()
    days["19960822"]["203newsML.xml"] = b'<?xml version="1.0"?>\n<newsitem itemid="203">\n<text><p>x</text>'
    dataset = rcv1.build(write_raw(tmp_path, "zips", days=days), {})
    with pytest.raises(MalformedInput, match=r"19960822\.zip:203newsML\.xml:3: not well-formed XML"):
        list(dataset.splits["test"])


def test_malformed_story_counted_when_skipping(tmp_path: Path) -> None:
    days = corpus_files()
    days["19960822"]["203newsML.xml"] = b"<newsitem"
    dataset = rcv1.build(write_raw(tmp_path, days=days), {"skip_malformed": True})
    assert len(list(dataset.splits["test"])) == 2
    assert dataset.dropped["malformed_xml"] == 1
    assert dataset.dropped["empty_text"] == 1


def test_damaged_member_of_a_zip(tmp_path: Path) -> None:
    raw = write_raw(tmp_path, "zips")
    path = raw / "rcv1" / "19960821.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for doc_id in DAYS["19960821"]:
            archive.writestr(f"{doc_id}newsML.xml", story(doc_id))
    content = path.read_bytes()
    marker = content.index(b"Story 201 opens")
    path.write_bytes(content[:marker] + b"X" + content[marker + 1:])  # CRC no longer matches
    with pytest.raises(MalformedInput, match=r"201newsML\.xml: cannot be read from its archive"):
        list(rcv1.build(raw, {}).splits["test"])


def test_story_whose_id_does_not_match_its_file(tmp_path: Path) -> None:
    days = corpus_files()
    days["19960821"]["202newsML.xml"] = story(222)
    dataset = rcv1.build(write_raw(tmp_path, days=days), {})
    with pytest.raises(MalformedInput, match=r'202newsML\.xml: expected <newsitem itemid="202">'):
        list(dataset.splits["test"])


def test_story_twice_in_corpus(tmp_path: Path) -> None:
    days = corpus_files()
    days["19960822"]["202newsML.xml"] = story(202)
    dataset = rcv1.build(write_raw(tmp_path, days=days), {})
    with pytest.raises(MalformedInput, match="story 202 is in the corpus twice"):
        list(dataset.splits["test"])


@pytest.mark.parametrize("qrels, line, problem", [
    ("C15 101 1\nC15 102\n", 2, "expected 'TOPIC DOCID 1'"),
    ("C15 101 1\nC15 abc 1\n", 2, "expected 'TOPIC DOCID 1'"),
    ("X99 101 1\n", 1, "topic X99 is not in rcv1.topics.hier.orig"),
])
def test_bad_qrels(tmp_path: Path, qrels: str, line: int, problem: str) -> None:
    raw = write_raw(tmp_path, qrels=qrels)
    with pytest.raises(MalformedInput, match=f"rcv1-v2.topics.qrels:{line}: {problem}"):
        rcv1.build(raw, {})


@pytest.mark.parametrize("extra, line, problem", [
    ("parent: Root child: MCAT\n", 9, "expected 'parent: CODE child: CODE child-description: TEXT'"),
    ("parent: Root child: C15 child-description: AGAIN\n", 9, "topic C15 is already defined on line 3"),
    ("parent: M14 child: M141 child-description: COMMODITIES\n", 9, "parent M14 of M141 is neither Root"),
])
def test_bad_topic_tree(tmp_path: Path, extra: str, line: int, problem: str) -> None:
    raw = write_raw(tmp_path, tree=TOPIC_TREE + extra)
    with pytest.raises(MalformedInput, match=f"rcv1.topics.hier.orig:{line}: {problem}"):
        rcv1.build(raw, {})


@pytest.mark.parametrize("good, bad, line, column", [
    (b"ECONOMICS", b"ECON\xd6MICS", 6, 56),   # Latin-1 in a description: it was read as U+FFFD
    (b"child: GCAT", b"child: GC\xc1T", 8, 28),  # in a code: the qrels file was blamed
])
def test_topic_tree_byte_that_is_not_utf8(tmp_path: Path, good: bytes, bad: bytes, line: int,
                                          column: int) -> None:
    raw = write_raw(tmp_path)
    (raw / rcv1.TOPIC_TREE).write_bytes(TOPIC_TREE.encode("ascii").replace(good, bad))
    with pytest.raises(MalformedInput, match=f"rcv1.topics.hier.orig:{line}: byte 0x.. at column "
                                             f"{column} is not UTF-8 text"):
        rcv1.build(raw, {})


def test_gzipped_appendix_with_damaged_data(tmp_path: Path) -> None:
    raw = write_raw(tmp_path, compress=True)
    path = raw / f"{rcv1.QRELS}.gz"
    content = bytearray(path.read_bytes())
    content[20:30] = bytes(10)  # inside the deflate stream
    path.write_bytes(bytes(content))
    with pytest.raises(MalformedInput, match=r"rcv1-v2\.topics\.qrels\.gz: cannot be read"):
        rcv1.build(raw, {})


def test_topic_tree_cycle(tmp_path: Path) -> None:
    tree = TOPIC_TREE + "parent: B1 child: A1 child-description: A\nparent: A1 child: B1 child-description: B\n"
    with pytest.raises(MalformedInput, match="its own ancestor"):
        rcv1.build(write_raw(tmp_path, tree=tree), {})


@pytest.mark.parametrize("tokens, line, problem", [
    ("2286 864:0.0497 1523:0.0732\n", 1, "vectors file"),
    (".I 101\n.W\nrecov\n\n.I abc\n.W\n", 5, "expected '.I <story id>'"),
    (".I 101\nrecov\n", 2, "expected '.W'"),
    (".I 101\n.W\nx\n\n.I 101\n.W\n", 5, "story 101 is already on line 1"),
])
def test_bad_tokens_file(tmp_path: Path, tokens: str, line: int, problem: str) -> None:
    raw = write_raw(tmp_path)
    (raw / rcv1.TRAIN_TOKENS).write_text(tokens, encoding="ascii")
    with pytest.raises(MalformedInput, match=f"lyrl2004_tokens_train.dat:{line}: .*{problem}"):
        rcv1.build(raw, {})


def test_dev_fraction_that_empties_train(tmp_path: Path) -> None:
    with pytest.raises(ParamError, match="leaves train and dev non-empty for 2 training stories"):
        rcv1.build(write_raw(tmp_path, lyrl_ids=[101, 102]), {"dev_fraction": 0.9})


def test_too_few_training_stories(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="only 1 of its training stories"):
        rcv1.build(write_raw(tmp_path, lyrl_ids=[101]), {})


@pytest.mark.parametrize("cfg, parameter", [
    ({"dev_fraction": 0}, "dev_fraction"), ({"dev_fraction": 1.5}, "dev_fraction"),
    ({"dev_fraction": True}, "dev_fraction"), ({"dev_fraction": "0.1"}, "dev_fraction"),
    ({"include_headline": "yes"}, "include_headline"), ({"seed": 3}, "seed"),
])
def test_bad_parameters(tmp_path: Path, cfg: dict, parameter: str) -> None:
    with pytest.raises(ParamError, match=f"prepare.rcv1.{parameter}"):
        rcv1.build(tmp_path, cfg)
