"""A trained classifier as a folder that Hugging Face and safetensors read, and back.

<folder>/config.json, model.safetensors   the fine-tuned encoder (save_pretrained of its base model; the
                                           prompt's [Dd] marker embeddings included): transformers'
                                           AutoModel.from_pretrained(folder, add_pooling_layer=False)
tokenizer files                            AutoTokenizer.from_pretrained(folder)
head.safetensors                           everything of the classifier that is not the encoder: the label
                                           words and biases (prompt) or the [CLS] layer (bert), the MLM
                                           transform and output bias, the graph of HPT's hierarchy injection
labels.json                                the label tree, in the processed data's format (id, name, parent):
                                           row i of label_words is label i
classifier.json                            the family, head, graph and MLM loss that rebuild the model, the
                                           run's settings, and the format's name

`load_classifier` rebuilds the model from these files alone and restores every tensor strictly, so a
loaded model scores exactly as the run's best checkpoint did.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from lhmix.core.errors import LhmixError
from lhmix.data.hierarchy import Hierarchy

FORMAT = "lhmix-classifier-1"
ENCODER = "encoder."
HEAD_FILE, CONFIG_FILE, LABELS_FILE, ENCODER_WEIGHTS = ("head.safetensors", "classifier.json", "labels.json",
                                                        "model.safetensors")


def save_classifier(model, tokenizer, hierarchy: Hierarchy, settings: dict, folder: str | Path) -> Path:
    """Write `model` (an HTCModel) into `folder`, replacing it whole only once every file is written."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        with _no_progress_bars():
            model.encoder.save_pretrained(scratch, safe_serialization=True)
            _as_loaded(tokenizer).save_pretrained(scratch)
        head = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
                if not name.startswith(ENCODER)}
        save_file(head, scratch / HEAD_FILE, metadata={"format": FORMAT})
        (scratch / LABELS_FILE).write_text(json.dumps(hierarchy.to_json(), indent=1) + "\n", encoding="utf-8")
        described = {"format": FORMAT, "family": model.family, "head": model.head,
                     "graph": "none" if model.injection is None else model.injection.kind,
                     "mlm_loss": model.has_mlm_loss, "settings": settings}
        (scratch / CONFIG_FILE).write_text(json.dumps(described, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        scratch.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def load_classifier(folder: str | Path):
    """(HTCModel in eval mode, its tokenizer, classifier.json) of a folder written by save_classifier."""
    import transformers
    from safetensors.torch import load_file

    from lhmix.model.classifier import HTCModel

    folder = Path(folder)
    described = _described(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    hierarchy = Hierarchy.load(folder / LABELS_FILE)
    model = HTCModel.create(described["family"], str(folder), hierarchy, tokenizer, head=described["head"],
                            mlm_loss=described["mlm_loss"], graph=described["graph"])
    state = {ENCODER + name: tensor for name, tensor in load_file(folder / ENCODER_WEIGHTS).items()}
    state.update(load_file(folder / HEAD_FILE))
    model.load_state_dict(state, strict=True)
    return model.eval(), tokenizer, described


def _as_loaded(tokenizer):
    """A copy without the truncation and padding the last encode call left in a fast tokenizer's backend:
    tokenizer.json would otherwise depend on whether this process tokenised (the token cache may spare it)."""
    tokenizer = copy.deepcopy(tokenizer)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.no_truncation()
        backend.no_padding()
    return tokenizer


@contextlib.contextmanager
def _no_progress_bars():
    """transformers draws a bar for every file it writes: one line per run in the stage's output."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _described(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise LhmixError(f"{folder}: not a classifier folder ({CONFIG_FILE} missing); "
                         "each run's best classifier is in runs/<dataset>/.../<run>/model/")
    described = json.loads(path.read_text(encoding="utf-8"))
    if described.get("format") != FORMAT:
        raise LhmixError(f"{path}: format {described.get('format')!r}, expected {FORMAT!r}")
    return described
