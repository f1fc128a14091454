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
README.md                                  the model card: data, variant, seed, test scores, settings, how to
                                           load it, the papers (written before the digests, so they cover it)
classifier.json                            the family, head, graph and MLM loss that rebuild the model, the
                                           run's settings, the format's name, the SHA-256 of every other
                                           file (`files`) and of its own content (`digest`)

`load_classifier` rebuilds the model from these files alone and restores every tensor strictly, so a
loaded model scores exactly as the run's best checkpoint did.

The folder is a run's output, never meant to be edited: another classifier is another run. So rather than
checking what can be checked against the tensors (label count, head kind), load_classifier holds every file
to the digest its run recorded, and refuses a file changed, missing or added; that also catches what no
tensor shows (config.json's hidden_act, two label names swapped, a tokenizer's vocabulary). It then checks
the head's tensors against the model classifier.json describes (names and shapes), which a folder of an
older code could break. The digests guard against damage and edits, not against someone who forges them.
Each problem is one line naming the file.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from lhmix.core.errors import LhmixError, MalformedInput
from lhmix.core.files import cannot_write, file_digest, give_usual_mode, read_json
from lhmix.core.vocabulary import FAMILIES, GRAPHS, HEADS
from lhmix.data.hierarchy import Hierarchy

FORMAT = "lhmix-classifier-2"
ENCODER = "encoder."
HEAD_FILE, CONFIG_FILE, LABELS_FILE, ENCODER_WEIGHTS, CARD_FILE = (
    "head.safetensors", "classifier.json", "labels.json", "model.safetensors", "README.md")
# classifier.json's keys and their JSON types
DESCRIPTION = {"format": str, "family": str, "head": str, "graph": str, "mlm_loss": bool, "settings": dict,
               "files": dict, "digest": str}
RECOVERY = "re-run the stage that trained it (dvc repro -f)"


def save_classifier(model, tokenizer, hierarchy: Hierarchy, settings: dict, folder: str | Path,
                    results: dict | None = None) -> Path:
    """Write `model` (an HTCModel) into `folder`, replacing it whole only once every file is written; a write
    that fails (a full disk) names its file and leaves `folder` as it was. `results` (the run's dataset, variant,
    seed, test micro_f1 and macro_f1 as fractions, best_epoch) go into the model card."""
    from safetensors.torch import save_file

    folder = Path(folder)
    with _writing(folder, folder.name):
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        with _writing(folder, ENCODER_WEIGHTS), _no_progress_bars():
            model.encoder.save_pretrained(scratch, safe_serialization=True)
        with _writing(folder, "tokenizer.json"), _no_progress_bars():
            _as_loaded(tokenizer).save_pretrained(scratch)
        head = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
                if not name.startswith(ENCODER)}
        with _writing(folder, HEAD_FILE):
            save_file(head, scratch / HEAD_FILE, metadata={"format": FORMAT})
        with _writing(folder, LABELS_FILE):
            (scratch / LABELS_FILE).write_text(json.dumps(hierarchy.to_json(), indent=1) + "\n", encoding="utf-8")
        described = {"format": FORMAT, "family": model.family, "head": model.head,
                     "graph": "none" if model.injection is None else model.injection.kind,
                     "mlm_loss": model.has_mlm_loss, "settings": settings}
        with _writing(folder, CARD_FILE):
            (scratch / CARD_FILE).write_text(model_card(described, len(hierarchy), results), encoding="utf-8")
        described = stamped(described, scratch)
        with _writing(folder, CONFIG_FILE):
            (scratch / CONFIG_FILE).write_text(json.dumps(described, indent=1, sort_keys=True) + "\n",
                                               encoding="utf-8")
        give_usual_mode(scratch)
        with _writing(folder, folder.name):
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def model_card(described: dict, num_labels: int, results: dict | None) -> str:
    """The folder's README.md: what it was trained on and how, how well it scored, how to use it."""
    settings, results = described["settings"], results or {}
    title = " ".join(str(results[key]) for key in ("variant", "dataset") if key in results) or "LH-Mix repro"
    seed = results.get("seed", settings.get("seed", "not recorded"))
    if "micro_f1" in results:
        scores = (f"| micro-F1 | macro-F1 |\n|---:|---:|\n| {100 * results['micro_f1']:.2f} % | "
                  f"{100 * results['macro_f1']:.2f} % |\n\nOn the test split, with the checkpoint of the best dev "
                  f"epoch ({results.get('best_epoch', '?')}); labels decided where their score is above 0.")
    else:
        scores = "Not recorded: this folder was saved outside a run's test scoring."
    rows = "\n".join(f"| {key} | {json.dumps(value)} |" for key, value in sorted(settings.items()))
    return f"""# {title} classifier (seed {seed})

A hierarchical text classifier trained by lhmix-repro, a reproduction of **LH-Mix** (Local Hierarchy Correlation
Guided Mixup over Hierarchical Prompt Tuning, Kong, Zhang and Wang, KDD 2025) and its base, **HPT**
(Hierarchy-aware Prompt Tuning, Wang et al., EMNLP 2022).

- Data: {results.get("dataset", "not recorded")}, {num_labels} labels (`{LABELS_FILE}`)
- Variant: {results.get("variant", settings.get("variant", "not recorded"))}, seed {seed}
- Model: family {described["family"]}, head {described["head"]}, graph {described["graph"]}, MLM loss \
{"yes" if described["mlm_loss"] else "no"}

## Test scores

{scores}

## How to use it

```python
from lhmix.model.saved import load_classifier
model, tokenizer, described = load_classifier("path/to/this/model")
```

```sh
echo "a text to classify" | python tools/predict.py path/to/this/model
```

`load_classifier` checks every file of this folder (this card included) against the SHA-256 digests in
`{CONFIG_FILE}`: the folder is a run's output, not meant to be edited.

## Training settings

| setting | value |
|---|---|
{rows}
"""


def stamped(described: dict, folder: Path) -> dict:
    """`described` with the digest of every file of `folder` but classifier.json, and of itself."""
    described = {key: value for key, value in described.items() if key not in ("files", "digest")}
    described["files"] = {path.name: file_digest(path) for path in sorted(Path(folder).iterdir())
                          if path.name != CONFIG_FILE}
    return {**described, "digest": _content_digest(described)}


def load_classifier(folder: str | Path):
    """(HTCModel in eval mode, its tokenizer, classifier.json) of a folder written by save_classifier."""
    import transformers

    from lhmix.model.encoders import load_encoder

    folder = Path(folder)
    described = _described(folder)
    head = _checked_files(folder, described["files"])
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    hierarchy = Hierarchy.load(folder / LABELS_FILE)
    encoder = load_encoder(str(folder.resolve())).encoder  # the encoder's weights, read once
    model = _without_weights(described, encoder, hierarchy, tokenizer)
    _load_head(model, head, folder / HEAD_FILE, described)
    return model.eval(), tokenizer, described


def _described(folder: Path) -> dict:
    """classifier.json, checked: its format, its keys and their types, and its own digest."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise LhmixError(f"{folder}: not a classifier folder ({CONFIG_FILE} missing); "
                         "each run's best classifier is in runs/<dataset>/.../<run>/model/")
    described = read_json(path)
    if not isinstance(described, dict):
        raise MalformedInput(path, None, f"expected a JSON object, not {type(described).__name__}; {RECOVERY}")
    if described.get("format") != FORMAT:
        raise MalformedInput(path, None, f"format {described.get('format')!r}, expected {FORMAT!r} (written by "
                                         f"another version of the code); {RECOVERY}")
    for key, kind in DESCRIPTION.items():
        if key not in described:
            raise MalformedInput(path, None, f"no '{key}' (a classifier.json holds {', '.join(DESCRIPTION)}); "
                                             f"{RECOVERY}")
        if not isinstance(described[key], kind):
            raise MalformedInput(path, None, f"'{key}' = {described[key]!r}: expected a JSON {_json_type(kind)}; "
                                             f"{RECOVERY}")
    for key, choices in (("family", FAMILIES), ("head", HEADS), ("graph", GRAPHS)):
        if described[key] not in choices:
            raise MalformedInput(path, None, f"'{key}' = {described[key]!r}: expected one of {', '.join(choices)}; "
                                             f"{RECOVERY}")
    if _content_digest(described) != described["digest"]:
        raise MalformedInput(path, None, f"changed since its run wrote it (its content does not match its digest; "
                                         f"the folder is a run's output, not meant to be edited); {RECOVERY}")
    return described


def _checked_files(folder: Path, files: dict) -> dict:
    """Every file of `folder` held to its digest in classifier.json (none missing, none added); the head's
    tensors, from the very bytes digested."""
    from safetensors.torch import load as load_safetensors

    present = {path.name for path in folder.iterdir()} - {CONFIG_FILE}
    for name in sorted(present - set(files)):
        raise LhmixError(f"{folder / name}: not a file of this classifier ({CONFIG_FILE} lists "
                         f"{', '.join(sorted(files))}); remove it, or {RECOVERY}")
    head = None
    for name, expected in sorted(files.items()):
        path = folder / name
        if name not in present or not path.is_file():
            raise LhmixError(f"{path}: missing ({CONFIG_FILE} lists it); {RECOVERY}")
        if name == HEAD_FILE:
            raw = path.read_bytes()
            found = hashlib.sha256(raw).hexdigest()
        else:
            found = file_digest(path)
        if found != expected:
            raise LhmixError(f"{path}: changed since its run wrote it (its SHA-256 is not the one {CONFIG_FILE} "
                             f"records; the folder is a run's output, not meant to be edited); {RECOVERY}")
        if name == HEAD_FILE:
            try:
                head = load_safetensors(raw)
            except Exception as error:  # safetensors reports a damaged file as SafetensorError or others
                raise MalformedInput(path, None, f"not a readable safetensors file ({' '.join(str(error).split())})"
                                                 f"; {RECOVERY}") from None
    if head is None:
        raise LhmixError(f"{folder / CONFIG_FILE}: lists no {HEAD_FILE}; {RECOVERY}")
    return head


def _without_weights(described: dict, encoder, hierarchy: Hierarchy, tokenizer):
    """The HTCModel classifier.json describes around `encoder`, its own tensors left for head.safetensors:
    HTCModel.create's parts without loading an encoder again or initialising what the head overwrites."""
    import torch
    from transformers.models.bert.modeling_bert import BertPredictionHeadTransform

    from lhmix.model.classifier import HTCModel
    from lhmix.model.graph import HierarchyInjection

    family, head, graph, mlm_loss = (described[key] for key in ("family", "head", "graph", "mlm_loss"))
    config = encoder.config
    needs_transform = family == "prompt" and (head == "mlm" or mlm_loss)
    transform = BertPredictionHeadTransform(config) if needs_transform else None
    bias = torch.zeros(config.vocab_size) if mlm_loss else None
    injection = None if graph == "none" else HierarchyInjection(
        graph, hierarchy, config.hidden_size, config.attention_probs_dropout_prob, config.initializer_range)
    return HTCModel(family, head, encoder, hierarchy, transform, bias, tokenizer, injection)


def _load_head(model, head: dict, path: Path, described: dict) -> None:
    """head.safetensors into `model`: exactly its non-encoder tensors, each of its shape, else one line."""
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()
                if not name.startswith(ENCODER)}
    problems = [f"missing {name}" for name in sorted(expected.keys() - head.keys())]
    problems += [f"unexpected {name}" for name in sorted(head.keys() - expected.keys())]
    problems += [f"{name} of shape {list(head[name].shape)}, expected {list(shape)}"
                 for name, shape in sorted(expected.items()) if name in head and tuple(head[name].shape) != shape]
    if problems:
        raise MalformedInput(path, None, f"does not fit the model {CONFIG_FILE} describes (family "
                                         f"{described['family']}, head {described['head']}, graph "
                                         f"{described['graph']}, mlm_loss {described['mlm_loss']}, "
                                         f"{model.num_labels} labels): {'; '.join(problems[:4])}"
                                         f"{'; ...' if len(problems) > 4 else ''}; {RECOVERY}")
    model.load_state_dict(head, strict=False)


def _content_digest(described: dict) -> str:
    return hashlib.sha256(json.dumps({key: value for key, value in described.items() if key != "digest"},
                                     sort_keys=True).encode("utf-8")).hexdigest()


def _json_type(kind: type) -> str:
    return {str: "string", bool: "true or false", dict: "object"}[kind]


@contextlib.contextmanager
def _writing(folder: Path, name: str):
    """A write in the block that fails (a full disk) as one line naming the file of `folder` it was writing:
    the OSError's own file when it names one, else `name` (safetensors' errors name none)."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, SafetensorError) as error:
        filename = getattr(error, "filename", None)
        reason = getattr(error, "strerror", None) or " ".join(str(error).split())
        raise cannot_write(folder / (Path(filename).name if filename else name), reason) from None


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
