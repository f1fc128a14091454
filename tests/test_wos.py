"""WOS reader: both raw formats, the published merge, cleaning and split, and every bad input."""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from sklearn.model_selection import train_test_split

from lhmix.datasets.contract import read_split, write_dataset
from lhmix.datasets import wos
from lhmix.core.errors import MalformedInput, ParamError, RawDataMissing

HEADER = ["Y1", "Y2", "Y", "Domain", "area", "keywords", "Abstract"]

# (Y1, Y2, Y, Domain, area, keywords, Abstract) as in Data.xlsx, untidy whitespace included.
ROWS = [
    (0, 0, 0, "CS ", "Machine learning  ", "ml", "Deep nets DON'T overfit; they don't   either."),
    (0, 1, 1, " CS", "Computer vision", "", '"It\'s the model\'s view."'),
    (5, 7, 50, "Medical  ", "Atrial Fibrillation ", "", "We've seen AF in  trials."),
    (5, 7, 50, "Medical", "Atrial Fibrillation", "", "They're ill."),
    (5, 7, 50, "Medical", "Depression", "", "I'd rest; we'll see."),   # 1 row < 2: merged
    (2, 0, 20, "Psychology ", "Depression", "", "Mood  matters."),
    (0, 2, 2, "CS", "Structured Storage", "", "Early rare row."),      # first of its code: stays
    (0, 2, 2, "CS", "Relational databases", "", "SQL tables."),
    (0, 2, 2, "CS", "Relational databases", "", "More SQL."),
    (0, 2, 2, "CS", "Relational databases", "", "NA"),                 # text, not a missing value
    (0, 2, 2, "CS", "Structured Storage", "", "Late rare\n\nrow."),   # 2 rows < 3: merged
]
# Ids: domains sorted, then (domain, area) sorted.
LABELS = ["CS", "Medical", "Psychology", "Computer vision", "Machine learning",
          "Relational databases", "Structured Storage", "Atrial Fibrillation", "Depression"]
PARENTS = [None, None, None, 0, 0, 0, 0, 1, 2]
EXPECTED = {  # document id -> (labels, text)
    "0": ([0, 4], "deep nets don't overfit; they do n't either."),
    "1": ([0, 3], "it 's the model 's view."),
    "2": ([1, 7], "we 've seen af in trials."),
    "3": ([1, 7], "they 're ill."),
    "4": ([1, 7], "i 'd rest; we 'll see."),
    "5": ([2, 8], "mood matters."),
    "6": ([0, 6], "early rare row."),
    "7": ([0, 5], "sql tables."),
    "8": ([0, 5], "more sql."),
    "9": ([0, 5], "na"),
    "10": ([0, 5], "late rare row."),
}
SPLIT_OF_11_ROWS = {"train": [7, 10, 3, 4, 2, 6], "dev": [8, 5], "test": [1, 9, 0]}


def write_xlsx(raw_dir: Path, header=HEADER, rows=ROWS) -> Path:
    path = raw_dir / "Meta-data" / "Data.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(list(row))
    book.save(path)
    return path


def write_tsv(raw_dir: Path, header=HEADER, rows=ROWS) -> Path:
    """As Excel saves "Text (Tab delimited)": CRLF, fields with quotes or breaks quoted."""
    path = raw_dir / "Meta-data" / "Data.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\r\n").writerows([header, *rows])
    return path


WRITERS = {"xlsx": write_xlsx, "tsv": write_tsv}


def documents(dataset) -> dict[str, list[dict]]:
    return {split: list(docs) for split, docs in dataset.splits.items()}


@pytest.mark.parametrize("form", sorted(WRITERS))
def test_builds_labels_merges_and_texts(tmp_path, form):
    WRITERS[form](tmp_path)
    dataset = wos.build(tmp_path, {})
    assert [label.name for label in dataset.hierarchy.labels] == LABELS
    assert [label.parent for label in dataset.hierarchy.labels] == PARENTS
    assert dataset.hierarchy.depth == 2
    splits = documents(dataset)
    assert {split: [int(doc["id"]) for doc in docs] for split, docs in splits.items()} \
        == SPLIT_OF_11_ROWS == wos.split_indices(len(ROWS))
    got = {doc["id"]: (doc["labels"], doc["text"]) for docs in splits.values() for doc in docs}
    assert got == EXPECTED
    assert not dataset.dropped


def test_xlsx_and_tsv_give_the_same_dataset(tmp_path):
    write_xlsx(tmp_path / "a")
    write_tsv(tmp_path / "b")
    from_xlsx, from_tsv = wos.build(tmp_path / "a", {}), wos.build(tmp_path / "b", {})
    assert from_xlsx.hierarchy.to_json() == from_tsv.hierarchy.to_json()
    assert documents(from_xlsx) == documents(from_tsv)


def test_xlsx_is_read_when_both_exist(tmp_path):
    write_xlsx(tmp_path)
    (tmp_path / "Meta-data" / "Data.txt").write_text("not a table\n", encoding="utf-8")
    assert len(wos.build(tmp_path, {}).hierarchy) == len(LABELS)


def test_written_contract(tmp_path):
    write_tsv(tmp_path / "raw")
    stats = write_dataset(wos.build(tmp_path / "raw", {}), tmp_path / "out")
    assert stats["num_labels"] == 9
    assert stats["labels_per_level"] == [3, 6]
    assert stats["splits"] == {"train": 6, "dev": 2, "test": 3}
    assert stats["dropped"] == {}
    assert [doc["id"] for doc in read_split(tmp_path / "out", "dev")] == ["8", "5"]


# ---------------------------------------------------------------- the published rules

@pytest.mark.parametrize("raw, clean", [
    ("Don't stop", "do n't stop"),
    ("can't", "ca n't"),
    ("DON'T", "don't"),                 # contractions are matched before lower-casing
    ("It's Bob's", "it 's bob 's"),
    ("we've they're I'd we'll", "we 've they 're i 'd we 'll"),
    ('  "Quoted  text"  ', "quoted text"),
    ("a\tb  \n c", "a\tb c"),           # only runs of two or more whitespace characters collapse
])
def test_clean_text(raw, clean):
    assert wos.clean_text(raw) == clean


def rows_of(*cells) -> list[wos.Row]:
    return [wos.Row(number=index + 2, code=code, domain=domain, area=area, text="t")
            for index, (code, domain, area) in enumerate(cells)]


def test_merge_takes_the_first_commoner_name_seen_so_far():
    # Satellite radio 3 rows, Electric motor 4, Single-phase electric power 1, one code.
    order = ["Satellite radio", "Electric motor", "Electric motor", "Satellite radio",
             "Single-phase electric power", "Electric motor", "Satellite radio", "Electric motor"]
    rows = rows_of(*[((3, 1), "ECE", name) for name in order])
    assert wos.merge_areas(rows) == [
        "Satellite radio",        # no commoner name seen yet with this code
        "Electric motor", "Electric motor",
        "Electric motor",         # Electric motor (4) now seen, more rows than Satellite radio (3)
        "Satellite radio",        # first name on the code's list with more rows than its 1
        "Electric motor", "Electric motor", "Electric motor"]


def test_merge_counts_names_within_their_domain_and_leaves_other_codes_alone():
    # Pooled over domains, Depression (4 rows) would outnumber Atrial Fibrillation (2).
    rows = rows_of(*[((5, 7), "Medical", "Atrial Fibrillation")] * 2,
                   ((5, 7), "Medical", "Depression"),
                   *[((2, 0), "Psychology", "Depression")] * 3,
                   ((5, 8), "Medical", "Asthma"), ((5, 9), "Medical", "Autism"))
    assert wos.merge_areas(rows) \
        == ["Atrial Fibrillation"] * 3 + ["Depression"] * 3 + ["Asthma", "Autism"]


def test_split_sizes_and_cover():
    splits = wos.split_indices(46_985)
    assert {split: len(indices) for split, indices in splits.items()} \
        == {"train": 30_070, "dev": 7_518, "test": 9_397}
    every = [index for indices in splits.values() for index in indices]
    assert sorted(every) == list(range(46_985))


def test_split_is_the_published_one():
    splits = wos.split_indices(46_985)
    assert splits["train"][:5] == [43817, 20131, 22368, 39288, 2020]
    assert splits["dev"][:5] == [14007, 3595, 10052, 36681, 27854]
    assert splits["test"][:5] == [539, 27780, 37168, 22575, 17027]
    where = {index: split for split, indices in splits.items() for index in indices}
    assert [where[i] for i in (0, 539, 12345, 46984)] == ["train", "test", "dev", "dev"]

    # data_wos.py step by step: global seed, shuffle of a Python list, fancy indexing.
    saved = np.random.get_state()
    try:
        np.random.seed(7)
        ids = list(range(46_985))
        data = np.array(ids)
        np.random.shuffle(ids)
        data = data[ids]
    finally:
        np.random.set_state(saved)
    train, test = train_test_split(data, test_size=0.2, random_state=0)
    train, dev = train_test_split(train, test_size=0.2, random_state=0)
    assert splits == {"train": train.tolist(), "dev": dev.tolist(), "test": test.tolist()}


# ---------------------------------------------------------------- bad input

def test_missing_files_name_both_paths_and_the_source(tmp_path):
    with pytest.raises(RawDataMissing) as caught:
        wos.build(tmp_path, {})
    message = str(caught.value)
    assert str(tmp_path / "Meta-data" / "Data.xlsx") in message
    assert str(tmp_path / "Meta-data" / "Data.txt") in message
    assert "10.17632/9rw3vkcfy4" in message


def test_parameters_are_refused(tmp_path):
    write_tsv(tmp_path)
    with pytest.raises(ParamError, match="prepare.wos"):
        wos.build(tmp_path, {"seed": 1})


@pytest.mark.parametrize("form", sorted(WRITERS))
def test_missing_column(tmp_path, form):
    header = [name if name != "area" else "Area name" for name in HEADER]
    path = WRITERS[form](tmp_path, header=header)
    with pytest.raises(MalformedInput, match=r"missing column\(s\) area") as caught:
        wos.build(tmp_path, {})
    assert str(caught.value).startswith(f"{path}:1: ")


def with_row(index: int, **changes) -> list[tuple]:
    rows = [list(row) for row in ROWS]
    for column, value in changes.items():
        rows[index][HEADER.index(column)] = value
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("form", sorted(WRITERS))
@pytest.mark.parametrize("index, changes, problem", [
    (2, {"Abstract": "   "}, "empty Abstract"),
    (2, {"Abstract": '""'}, "empty Abstract"),
    (3, {"Domain": " "}, "empty Domain"),
    (3, {"area": ""}, "empty area"),
    (4, {"Y1": "five"}, "Y1 must be a non-negative integer code, found 'five'"),
    (4, {"Y2": -1}, "Y2 must be a non-negative integer code, found '-1'"),
    (6, {"Domain": "Civil"}, "Y1=0 has Domain 'Civil' here but 'CS' at {name}:2"),
])
def test_malformed_row_names_file_and_row(tmp_path, form, index, changes, problem):
    path = WRITERS[form](tmp_path, rows=with_row(index, **changes))
    with pytest.raises(MalformedInput) as caught:
        wos.build(tmp_path, {})
    assert str(caught.value) == f"{path}:{index + 2}: {problem.format(name=path.name)}"


def test_tsv_with_a_short_line(tmp_path):
    write_tsv(tmp_path, rows=[*ROWS[:2], ROWS[2][:6], *ROWS[3:]])
    with pytest.raises(MalformedInput, match=r"Data\.txt:4: expected 7 fields as in the header, "
                                             r"found 6$"):
        wos.build(tmp_path, {})


def test_tsv_line_numbers_count_fields_that_span_lines(tmp_path):
    short = (0, 0, 0, "CS", "Machine learning")
    write_tsv(tmp_path, rows=[*ROWS[10:], short])  # ROWS[10] spans lines 2 to 4
    with pytest.raises(MalformedInput, match=r"Data\.txt:5: expected 7 fields"):
        wos.build(tmp_path, {})


def test_tsv_with_a_stray_quote(tmp_path):
    path = write_tsv(tmp_path)
    text = path.read_text(encoding="utf-8").replace("SQL tables.", '"SQL" tables.')
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(MalformedInput, match=r"Data\.txt:9: unreadable tab-separated record"):
        wos.build(tmp_path, {})


@pytest.mark.parametrize("rows", [ROWS[:10], ROWS], ids=["no later quote", "a later quote"])
def test_tsv_unclosed_quote_is_reported_where_it_opens(tmp_path, rows):
    path = write_tsv(tmp_path, rows=rows)
    text = path.read_text(encoding="utf-8").replace("SQL tables.", '"SQL tables.')
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(MalformedInput, match=r"Data\.txt:9: unreadable tab-separated record "
                                             r"\(.*; the reader stopped at line 1[12]\)"):
        wos.build(tmp_path, {})


def not_a_workbook(path: Path) -> None:
    path.write_bytes(b"Y1\tY2\tY\tDomain\tarea\tkeywords\tAbstract\n")


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def zip_without_the_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Data.txt", "not a sheet")


@pytest.mark.parametrize("damage", [not_a_workbook, truncated, zip_without_the_workbook])
def test_damaged_xlsx_names_the_file(tmp_path, damage):
    path = write_xlsx(tmp_path)
    damage(path)
    with pytest.raises(MalformedInput) as caught:
        wos.build(tmp_path, {})
    assert str(caught.value).startswith(f"{path}: cannot be read as an Excel workbook (")


def test_tsv_that_is_not_utf8(tmp_path):
    path = write_tsv(tmp_path)
    lines = path.read_bytes().split(b"\r\n")
    lines[2] = lines[2].replace(b"view", b"vi\xe9w")  # Latin-1, as an "ANSI" export writes it
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(MalformedInput, match=r"Data\.txt:3: not utf-8-sig text"):
        wos.build(tmp_path, {})


def test_tsv_in_utf16_as_excel_unicode_text(tmp_path):
    write_xlsx(tmp_path / "a")
    path = write_tsv(tmp_path / "b")
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    assert documents(wos.build(tmp_path / "b", {})) == documents(wos.build(tmp_path / "a", {}))


@pytest.mark.parametrize("form", sorted(WRITERS))
def test_too_few_rows(tmp_path, form):
    path = WRITERS[form](tmp_path, rows=ROWS[:2])
    with pytest.raises(MalformedInput, match="2 data rows"):
        wos.build(tmp_path, {})
    assert path.is_file()


def test_tsv_abstract_over_the_csv_field_size_limit(tmp_path):
    """The csv module refuses a field over csv.field_size_limit() (131,072 characters by default); a WOS
    abstract that long is read whole, and the process's limit is left as it was."""
    limit = csv.field_size_limit()
    long_abstract = "word " * (limit // 5 + 10)
    assert len(long_abstract) > limit
    write_tsv(tmp_path, rows=[*ROWS[:9], (*ROWS[9][:6], long_abstract), ROWS[10]])
    dataset = wos.build(tmp_path, {})
    texts = {doc["id"]: doc["text"] for docs in documents(dataset).values() for doc in docs}
    assert texts["9"] == long_abstract.strip()
    assert csv.field_size_limit() == limit
