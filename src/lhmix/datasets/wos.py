"""WOS-46985 (Kowsari et al., HDLTex): the Web of Science abstracts, Domain -> area, depth 2.

Reads the sheet users get in the Mendeley archive, `Meta-data/Data.xlsx` (or the same table saved
as tab-separated text, `Meta-data/Data.txt`), and reproduces the preprocessing that HiAGM, HPT,
HGCLR and LH-Mix share (HiAGM's `preprocess_wos.py`, copied into HPT and contrastive-htc, then
their `data_wos.py` for the split):

- labels: Domain and area with surrounding whitespace stripped. Some (Y1, Y2) codes carry several
  area names; they are merged by the published rule (see `merge_areas`), the one behind the label
  set the HTC papers report (7 domains + 134 areas).
- text: the abstract through the published `clean_str` (see `clean_text`); no stop-word removal
  (that was HiAGM's own, the BERT-based models dropped it).
- splits: one shuffle of the row indices with numpy seed 7, then scikit-learn's train_test_split
  (test_size=0.2, random_state=0) for test, and again on the rest for dev: 30,070 / 7,518 / 9,397.
  Documents keep the order those calls return, as in the published split files.

Document id = the 0-based data row (spreadsheet row - 2). Nothing is dropped: the published
procedure keeps every row, so a row it could not have used (empty Domain, area or abstract, a code
that is not an integer, a Y1 code under two domains) stops the stage with its file and row.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException
from sklearn.model_selection import train_test_split

from lhmix.datasets.contract import PreparedDataset
from lhmix.core.errors import MalformedInput, ParamError, RawDataMissing
from lhmix.data.hierarchy import Hierarchy

NAME = "wos"
XLSX = Path("Meta-data") / "Data.xlsx"
TSV = Path("Meta-data") / "Data.txt"
HOW_TO_GET = """\
Download the "Web of Science Dataset" (Kowsari et al., Mendeley Data, CC BY 4.0,
https://data.mendeley.com/datasets/9rw3vkcfy4/6, doi:10.17632/9rw3vkcfy4.6) and unzip
WebOfScience.zip into data/raw/wos/ so that Meta-data/Data.xlsx is there; or save that sheet as
tab-separated UTF-8 text at Meta-data/Data.txt. See docs/data/wos.md."""
COLUMNS = ("Y1", "Y2", "Domain", "area", "Abstract")  # the sheet also has Y and keywords: unused

SHUFFLE_SEED = 7       # np.random.seed(7) before the one np.random.shuffle
SPLIT_STATE = 0        # random_state of both train_test_split calls
HELD_OUT = 0.2         # test_size of both calls


@dataclass(frozen=True)
class Row:
    number: int              # spreadsheet row (header = 1); in Data.txt, the line it starts on
    code: tuple[int, int]    # (Y1, Y2)
    domain: str
    area: str
    text: str                # cleaned abstract


Records = Iterable[tuple[int, Sequence[str]]]  # (row or line number, cells) after the header


def build(raw_dir: Path, cfg: dict) -> PreparedDataset:
    """Read the sheet under `raw_dir` and return the three splits with the label tree."""
    if cfg:
        raise ParamError(f"prepare.{NAME}", cfg, "no parameters: cleaning, merging and splits "
                                                 "are fixed by the published setup")
    rows = read_rows(find_table(Path(raw_dir)))
    areas = merge_areas(rows)
    paths = sorted({(row.domain, area) for row, area in zip(rows, areas)})
    hierarchy, id_of = Hierarchy.from_paths(paths)
    docs = [{"id": str(index), "labels": sorted((id_of[(row.domain,)], id_of[(row.domain, area)])),
             "text": row.text}
            for index, (row, area) in enumerate(zip(rows, areas))]
    splits = {split: [docs[index] for index in indices]
              for split, indices in split_indices(len(docs)).items()}
    return PreparedDataset(name=NAME, hierarchy=hierarchy, splits=splits)


def find_table(raw_dir: Path) -> Path:
    """Data.xlsx as distributed; else Data.txt, the same sheet saved as tab-separated text."""
    candidates = [raw_dir / XLSX, raw_dir / TSV]
    for path in candidates:
        if path.is_file():
            return path
    raise RawDataMissing(NAME, candidates, HOW_TO_GET)


# ---------------------------------------------------------------- text and labels

_CONTRACTION = re.compile(r"('s|'ve|n't|'re|'d|'ll)")
_WHITESPACE_RUN = re.compile(r"\s{2,}")


def clean_text(abstract: str) -> str:
    """The published clean_str: outer quotes off, contractions split ("don't" -> "do n't",
    "it's" -> "it 's"), runs of two or more whitespace characters -> one space, lower case.
    Contractions are matched before lower-casing, so "DON'T" stays whole, as there."""
    text = abstract.strip().strip('"')
    text = _CONTRACTION.sub(r" \1", text)
    text = _WHITESPACE_RUN.sub(" ", text)
    return text.strip().lower()


def merge_areas(rows: Sequence[Row]) -> list[str]:
    """The area of each row after the published merge of names that share a (Y1, Y2) code.

    Walking the rows in file order, each code keeps the list of area names seen with it so far;
    a row takes the first name on that list that has more rows in its domain (over the whole
    file) than its own name, else keeps its own. The published script lists 9 such codes with
    12 extra names, e.g. "DNA/RNA sequencing" (14 rows) under the code of "Cell biology" (552).
    The rule depends on row order (a rare name met before any commoner one of its code stays);
    it is reproduced as is, since it is what made the published label set.
    """
    rows_per_name = Counter((row.domain, row.area) for row in rows)
    names_of_code: dict[tuple[int, int], list[str]] = {}
    merged = []
    for row in rows:
        names = names_of_code.setdefault(row.code, [])
        if row.area not in names:
            names.append(row.area)
        own = rows_per_name[row.domain, row.area]
        merged.append(next((name for name in names if rows_per_name[row.domain, name] > own),
                           row.area))
    return merged


def split_indices(count: int) -> dict[str, list[int]]:
    """Train/dev/test row indices as the published data_wos.py draws them, in its order."""
    order = np.arange(count)
    # np.random.seed(7); np.random.shuffle(list) draws the same permutation as this.
    np.random.RandomState(SHUFFLE_SEED).shuffle(order)
    rest, test = train_test_split(order, test_size=HELD_OUT, random_state=SPLIT_STATE)
    train, dev = train_test_split(rest, test_size=HELD_OUT, random_state=SPLIT_STATE)
    return {"train": train.tolist(), "dev": dev.tolist(), "test": test.tolist()}


# ---------------------------------------------------------------- reading the sheet

def read_rows(path: Path) -> list[Row]:
    header, records = read_xlsx(path) if path.suffix == ".xlsx" else read_tsv(path)
    position = column_positions(path, header)
    rows: list[Row] = []
    domain_of_y1: dict[int, tuple[str, int]] = {}
    for number, values in records:
        if len(values) != len(header):
            raise MalformedInput(path, number, f"expected {len(header)} fields as in the header, "
                                               f"found {len(values)}")
        row = parse_row(path, number, {column: values[position[column]] for column in COLUMNS})
        first_domain, first_row = domain_of_y1.setdefault(row.code[0], (row.domain, number))
        if row.domain != first_domain:
            raise MalformedInput(path, number, f"Y1={row.code[0]} has Domain {row.domain!r} here "
                                               f"but {first_domain!r} at {path.name}:{first_row}")
        rows.append(row)
    if len(rows) < 3:  # the two train_test_split calls need three rows
        raise MalformedInput(path, None, f"{len(rows)} data rows; expected the 46,985 of WOS-46985")
    return rows


def column_positions(path: Path, header: Sequence[str]) -> dict[str, int]:
    names = [str(name).strip() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise MalformedInput(path, 1, f"missing column(s) {', '.join(missing)}; the header needs "
                                      f"{', '.join(COLUMNS)}, "
                                      f"found {', '.join(names) or 'nothing'}")
    return {column: names.index(column) for column in COLUMNS}


def parse_row(path: Path, number: int, cell: dict[str, str]) -> Row:
    def malformed(problem: str) -> MalformedInput:
        return MalformedInput(path, number, problem)

    code = []
    for column in ("Y1", "Y2"):
        value = str(cell[column]).strip()
        if not re.fullmatch(r"\d+(\.0*)?", value):  # "5" from text, "5.0" from a float cell
            raise malformed(f"{column} must be a non-negative integer code, found {value!r}")
        code.append(int(float(value)))
    domain, area = str(cell["Domain"]).strip(), str(cell["area"]).strip()
    for column, value in (("Domain", domain), ("area", area)):
        if not value:
            raise malformed(f"empty {column}")
    text = clean_text(str(cell["Abstract"]))
    if not text:
        raise malformed("empty Abstract")
    return Row(number=number, code=(code[0], code[1]), domain=domain, area=area, text=text)


# What openpyxl lets through from its zip and XML layers for a file that is not a sound .xlsx
# (not a zip, truncated, a zip without the workbook parts, broken XML inside).
_DAMAGED_WORKBOOK = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError,
                     SyntaxError, InvalidFileException)


def read_xlsx(path: Path) -> tuple[list[str], Records]:
    try:
        # All cells as text, and no "NA"/"null" turned into missing values.
        frame = pd.read_excel(path, engine="openpyxl", dtype=str, keep_default_na=False)
    except _DAMAGED_WORKBOOK as error:
        raise MalformedInput(path, None, f"cannot be read as an Excel workbook ({error}); unzip "
                                         f"Data.xlsx again from WebOfScience.zip, or save the sheet as "
                                         f"tab-separated text at {TSV}") from None
    records = enumerate(frame.itertuples(index=False, name=None), start=2)
    return [str(name) for name in frame.columns], records


def read_tsv(path: Path) -> tuple[list[str], Records]:
    """Tab-separated, quoted as Excel and pandas quote (a field with a quote, tab or line break
    is wrapped in double quotes). UTF-8, or UTF-16 with its byte-order mark."""
    raw = path.read_bytes()
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise MalformedInput(path, line, f"not {encoding} text ({error.reason}); save the sheet as "
                                         f"UTF-8 tab-separated text, or use Data.xlsx") from None
    records = _tsv_records(path, csv.reader(io.StringIO(text, newline=""), delimiter="\t",
                                            strict=True), len(text))
    _, header = next(records, (1, None))
    if header is None:
        raise MalformedInput(path, 1, "empty file; expected a header line")
    return header, records


def _tsv_records(path: Path, reader, characters: int) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (its spreadsheet row unless a field above
    spans lines). The csv module refuses a field longer than its field-size limit (131,072
    characters by default), which an abstract may exceed; the limit guards memory against a
    runaway field, but the whole text (`characters` long) is in memory already, so it is raised
    to that length while this file is read, and restored after."""
    line = 1
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, characters))
    try:
        for record in reader:
            yield line, record
            line = reader.line_num + 1
    except csv.Error as error:
        # Reported where the record starts, which is where its unclosed quote opens unless an
        # earlier field of it spans lines: the reader itself runs on to a later quote or to the end
        # of the file before it fails.
        stopped = f"; the reader stopped at line {reader.line_num}" if reader.line_num != line else ""
        raise MalformedInput(path, line, f"unreadable tab-separated record ({error}{stopped}): a field "
                                         f"that starts with a double quote must end with one, and "
                                         f"quotes inside it must be doubled") from None
    finally:
        csv.field_size_limit(limit)
