"""Classifying new texts with a saved classifier folder (lhmix.model.saved): tools/predict.py's library.

Input, one document a line (UTF-8):
  text    each line is a text; its id is its line number ("1", "2", ...)
  jsonl   each line is a JSON object with a string "text" and an optional "id" (string or integer; default its
          line number); other keys are ignored, so a processed split (data/processed/<d>/test.jsonl) reads as it is
Every line is read and checked before anything is scored, so a bad line stops the command with one line naming
the file and line, before any output.

Output, one JSON object a line, in input order:
  {"id": ..., "labels": [...], "scores": {label: score}}
`labels` are the labels whose score is above the threshold (default 0, the decision of the run's own evaluation),
in label order (depth, then the tree): each label is decided on its own, so a child may come without its parent
exactly when the model decides so. `scores` holds the score of every decided label, and with top_k also those of
the top_k highest-scoring labels. A label is named by its name, or by its path from the root ("a / b") when the
tree has two labels of that name.

Texts are tokenised by the folder's tokenizer into the family's template (lhmix.model.inputs.build_inputs, at
the run's max_length) and scored in batches sorted by length, under torch.inference_mode, on the CPU or a GPU
(with the autocast dtype a run evaluates in).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

import numpy as np

from lhmix.core.errors import LhmixError, MalformedInput, ParamError
from lhmix.core.files import parse_json, utf8_text
from lhmix.data.hierarchy import Hierarchy

FORMATS = ("text", "jsonl")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Document:
    id: str | int
    text: str


def read_documents(raw: bytes, source: str, form: str = "text") -> list[Document]:
    """The documents of an input's bytes (`source` names it in errors: a path or '<stdin>')."""
    if form not in FORMATS:
        raise ParamError("--format", form, f"one of {', '.join(FORMATS)}")
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise MalformedInput(source, None, "no documents (expected one a line)")
    return [_document(line.removesuffix(b"\r"), source, number, form) for number, line in enumerate(lines, start=1)]


def _document(line: bytes, source: str, number: int, form: str) -> Document:
    if form == "text":
        text = utf8_text(line, source, number)
        if not text.strip():
            raise MalformedInput(source, number, "an empty line (expected one text a line)")
        return Document(str(number), text)
    row = parse_json(line, source, number)
    if not isinstance(row, dict):
        raise MalformedInput(source, number, f'expected a JSON object with a "text", not {type(row).__name__}')
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise MalformedInput(source, number, f'"text" = {text!r}: expected a non-empty string')
    identifier = row.get("id", str(number))
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int)):
        raise MalformedInput(source, number, f'"id" = {identifier!r}: expected a string or an integer')
    return Document(identifier, text)


def label_names(hierarchy: Hierarchy) -> list[str]:
    """Each label's name, or its path from the root where another label has the same name."""
    names = [label.name for label in hierarchy.labels]
    repeated = {name for name in names if names.count(name) > 1}

    def path(label_id: int) -> str:
        label = hierarchy.labels[label_id]
        return label.name if label.parent is None else f"{path(label.parent)} / {label.name}"
    return [path(index) if name in repeated else name for index, name in enumerate(names)]


def pick_device(name: str):
    import torch

    from lhmix.training.devices import resolve_device

    if name not in DEVICES:
        raise ParamError("--device", name, f"one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamError("--device", name, "'auto' or 'cpu': no CUDA device is available")
    return resolve_device(name)


class Predictor:
    """A loaded classifier folder that scores texts."""

    def __init__(self, folder: str | Path, device: str = "auto"):
        from lhmix.model.saved import LABELS_FILE, load_classifier
        from lhmix.training.devices import autocast_dtype

        self.folder = Path(folder)
        self.device = pick_device(device)
        model, self.tokenizer, self.described = load_classifier(self.folder)
        self.model = model.to(self.device)
        self.amp_dtype = autocast_dtype(self.device)
        self.names = label_names(Hierarchy.load(self.folder / LABELS_FILE))  # digest-checked by load_classifier
        settings = self.described["settings"]
        self.max_length = settings.get("max_length")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int):
            raise MalformedInput(self.folder / "classifier.json", None, f"settings.max_length = {self.max_length!r}: "
                                 "expected the run's input length (an integer)")

    def scores(self, texts: list[str], batch_size: int) -> np.ndarray:
        """float32 [N, V]: every label's score for each text, in the order of `texts`."""
        import torch

        from lhmix.model.inputs import build_inputs
        from lhmix.training.batches import Encoded, Ragged, collate, sorted_batches
        from lhmix.training.devices import autocast

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParamError("--batch-size", batch_size, "a positive integer")
        tokens = Ragged(build_inputs(self.tokenizer, texts, self.model.family, self.model.depth,
                                     self.max_length))
        unlabelled = [[] for _ in texts]
        split = Encoded(ids=[str(index) for index in range(len(texts))], tokens=tokens, labels=Ragged(unlabelled),
                        label_lists=unlabelled)
        scores = np.zeros((len(texts), len(self.names)), dtype=np.float32)
        with torch.inference_mode():
            for indices in sorted_batches(split.lengths, batch_size):
                batch = collate(split, indices, self.tokenizer.pad_token_id, len(self.names)).to(self.device)
                with autocast(self.device, self.amp_dtype):
                    scores[indices] = self.model(batch.input_ids, batch.attention_mask).float().cpu().numpy()
        return scores

    def predictions(self, documents: list[Document], batch_size: int = 32, threshold: float = 0.0,
                    top_k: int = 0) -> Iterable[dict]:
        """One output row per document, in order."""
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k:
            raise ParamError("--top-k", top_k, "an integer, 0 or more")
        scores = self.scores([document.text for document in documents], batch_size)
        for document, row in zip(documents, scores):
            decided = np.flatnonzero(row > threshold)
            shown = sorted(set(decided.tolist()) | set(np.argsort(-row, kind="stable")[:top_k].tolist()))
            yield {"id": document.id, "labels": [self.names[index] for index in decided],
                   "scores": {self.names[index]: _shown(row[index]) for index in shown}}


def _shown(score: np.float32) -> float:
    """A score to 6 significant digits: it keeps its sign, and the JSON stays readable."""
    return float(f"{float(score):.6g}")


def write_rows(rows: Iterable[dict], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def predict_file(folder: str | Path, raw: bytes, source: str, out: TextIO | Path, form: str = "text",
                 batch_size: int = 32, device: str = "auto", threshold: float = 0.0, top_k: int = 0) -> int:
    """Classify the documents of `raw` into `out` (a stream, or a file written whole or not at all); returns
    how many were written."""
    from lhmix.core.files import replaced_on_success

    documents = read_documents(raw, source, form)
    predictor = Predictor(folder, device)
    rows = predictor.predictions(documents, batch_size, threshold, top_k)
    if not isinstance(out, Path):
        return write_rows(rows, out)
    if out.is_dir():
        raise LhmixError(f"{out}: a folder, expected a file to write the predictions to")
    with replaced_on_success(out) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        return write_rows(rows, handle)
