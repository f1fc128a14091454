"""A run's best classifier as a folder: transformers and safetensors open it, and lhmix.model.saved rebuilds
the very model (every tensor, every score) from its files alone."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from lhmix.core.errors import LhmixError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.classifier import HTCModel
from lhmix.model import saved as saved_module
from lhmix.model.encoders import load_tokenizer
from lhmix.model.saved import load_classifier, save_classifier
from lhmix.training.run import MODEL_FOLDER
from toy import project, run  # noqa: F401  (the toy project fixture and its runner)

HIERARCHY, _ = Hierarchy.from_paths([("computer science", "machine learning"),
                                     ("computer science", "databases"), ("biology", "genetics")])
KINDS = {"prompt, mlm head, MLM loss": dict(family="prompt", head="mlm", mlm_loss=True),
         "prompt, linear head, gat": dict(family="prompt", head="linear", graph="gat"),
         "bert": dict(family="bert")}


def trained_looking(kind: dict) -> HTCModel:
    """A model whose every tensor differs from its initialisation, as after training."""
    torch.manual_seed(0)
    model = HTCModel.create(kind["family"], "tiny-random", HIERARCHY, load_tokenizer("tiny-random"),
                            head=kind.get("head", "mlm"), mlm_loss=kind.get("mlm_loss", False),
                            graph=kind.get("graph", "none"))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    return model.eval()


def inputs(tokenizer, family: str):
    from lhmix.model.inputs import build_inputs
    ids = build_inputs(tokenizer, ["genes of a cell", "databases and learning"], family, HIERARCHY.depth, 24)
    width = max(map(len, ids))
    input_ids = torch.tensor([row + [0] * (width - len(row)) for row in ids])
    return input_ids, (input_ids != 0).long()


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())
def test_the_folder_rebuilds_every_tensor_and_score(tmp_path, kind):
    model = trained_looking(kind)
    tokenizer = load_tokenizer("tiny-random")
    save_classifier(model, tokenizer, HIERARCHY, {"variant": "x"}, tmp_path / "model")
    loaded, loaded_tokenizer, described = load_classifier(tmp_path / "model")
    saved_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert saved_state.keys() == loaded_state.keys()
    for name, tensor in saved_state.items():
        assert torch.equal(tensor, loaded_state[name]), name
    input_ids, mask = inputs(loaded_tokenizer, kind["family"])
    with torch.no_grad():
        expected = model.scores(model.states(model.encode(input_ids, mask)))
        actual = loaded.scores(loaded.states(loaded.encode(input_ids, mask)))
    assert torch.equal(expected, actual)
    assert described["settings"] == {"variant": "x"}
    assert described["family"] == kind["family"]


def test_transformers_opens_the_encoder_and_safetensors_the_label_words(tmp_path):
    model = trained_looking(KINDS["prompt, mlm head, MLM loss"])
    save_classifier(model, load_tokenizer("tiny-random"), HIERARCHY, {}, tmp_path / "model")
    encoder, info = transformers.AutoModel.from_pretrained(tmp_path / "model", add_pooling_layer=False,
                                                           output_loading_info=True)
    assert not info["missing_keys"]
    assert not info["unexpected_keys"]
    for name, tensor in model.encoder.state_dict().items():
        assert torch.equal(tensor, encoder.state_dict()[name]), name
    head = load_file(tmp_path / "model" / "head.safetensors")
    assert torch.equal(head["label_words"], model.label_words.detach())
    labels = json.loads((tmp_path / "model" / "labels.json").read_text())
    assert [row["name"] for row in labels] == [label.name for label in HIERARCHY.labels]
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "model").vocab_size == 30522


def test_a_folder_that_is_not_a_saved_classifier_is_named(tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(LhmixError, match="model: not a classifier folder .classifier.json missing"):
        load_classifier(tmp_path / "model")


def test_a_run_saves_its_best_checkpoint(project, tmp_path):  # noqa: F811
    out = run(project, tmp_path, "prompt_lhmix", max_epochs=3, keep_checkpoints=True)
    loaded, _, described = load_classifier(out / MODEL_FOLDER)
    best = torch.load(tmp_path / "run-checkpoints" / "best.pt", weights_only=True)["model"]
    for name, tensor in best.items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    assert described["settings"]["mixing"] == "lhmix"


def test_a_finished_run_leaves_no_checkpoint_behind(project, tmp_path):  # noqa: F811
    out = run(project, tmp_path, "bert", max_epochs=2)
    assert (out / MODEL_FOLDER / "model.safetensors").is_file()
    assert not list((tmp_path / "run-checkpoints").glob("*.pt"))


def test_the_folder_does_not_depend_on_what_the_tokenizer_encoded_before(tmp_path):
    """A run whose tokenisation came from the token cache must write the same tokenizer.json as one that
    tokenised: a fast tokenizer keeps the truncation and padding of its last call."""
    model = trained_looking(KINDS["bert"])
    tokenizer = load_tokenizer("tiny-random")
    save_classifier(model, tokenizer, HIERARCHY, {}, tmp_path / "before")
    tokenizer(["some text to encode"], truncation=True, max_length=8, padding="max_length")
    save_classifier(model, tokenizer, HIERARCHY, {}, tmp_path / "after")
    for path in sorted((tmp_path / "before").iterdir()):
        assert path.read_bytes() == (tmp_path / "after" / path.name).read_bytes(), path.name


# ---------------------------------------------------------------- a damaged or edited folder

def saved(tmp_path, kind="prompt, mlm head, MLM loss"):
    folder = tmp_path / "model"
    save_classifier(trained_looking(KINDS[kind]), load_tokenizer("tiny-random"), HIERARCHY, {"variant": "x"}, folder)
    return folder


def edit_json(path, change):
    path.write_text(json.dumps(change(json.loads(path.read_text())), indent=1) + "\n")


def swap_two_names(rows):
    rows[3]["name"], rows[4]["name"] = rows[4]["name"], rows[3]["name"]
    return rows


def drop_a_label_row(path):
    head = load_file(path)
    save_file({**head, "label_words": head["label_words"][:-1].contiguous()}, path)


def truncate(path):
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


# name: (the edit, the file the error names, what it says); each a one-line LhmixError
EDITS = {
    "head linear for an mlm run": (lambda f: edit_json(f / "classifier.json", lambda d: {**d, "head": "linear"}),
                                   "classifier.json", "changed since its run wrote it"),
    "family bert for a prompt run": (lambda f: edit_json(f / "classifier.json", lambda d: {**d, "family": "bert"}),
                                     "classifier.json", "changed since its run wrote it"),
    "two label names swapped": (lambda f: edit_json(f / "labels.json", swap_two_names), "labels.json",
                                "changed since its run wrote it"),
    "hidden_act relu": (lambda f: edit_json(f / "config.json", lambda d: {**d, "hidden_act": "relu"}), "config.json",
                        "changed since its run wrote it"),
    "a label dropped from the head": (lambda f: drop_a_label_row(f / "head.safetensors"), "head.safetensors",
                                      "changed since its run wrote it"),
    "truncated encoder weights": (lambda f: truncate(f / "model.safetensors"), "model.safetensors",
                                  "changed since its run wrote it"),
    "truncated head": (lambda f: truncate(f / "head.safetensors"), "head.safetensors", "changed since its run wrote it"),
    "a missing key": (lambda f: edit_json(f / "classifier.json", lambda d: {k: v for k, v in d.items() if k != "family"}),
                      "classifier.json", "no 'family'"),
    "bad JSON": (lambda f: (f / "classifier.json").write_text('{"format": "lhmix-classifier-2",\n  "family": }\n'),
                 "classifier.json:2", "not JSON"),
    "a list": (lambda f: (f / "classifier.json").write_text("[]\n"), "classifier.json",
               "expected a JSON object, not list"),
    "a file removed": (lambda f: (f / "labels.json").unlink(), "labels.json", "missing"),
    "a file added": (lambda f: (f / "added_tokens.json").write_text('{"[NEW]": 30522}'), "added_tokens.json",
                     "not a file of this classifier"),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edited_or_damaged_folder_is_refused_in_one_line_naming_the_file(tmp_path, edit):
    change, named, problem = edit
    folder = saved(tmp_path)
    change(folder)
    assert_refused(folder, named, problem)


def assert_refused(folder, named: str, problem: str) -> None:
    """load_classifier fails in one line that starts with the file `named` and says `problem`."""
    with pytest.raises(LhmixError) as caught:
        load_classifier(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / named}: "), message
    assert problem in message
    assert "\n" not in message


def restamped(folder):
    """classifier.json's digests written again for the folder as it is now: what a folder written by another
    version of the code, or forged, would hold; the tensors must still fit the model it describes."""
    edit_json(folder / "classifier.json", lambda described: saved_module.stamped(described, folder))


# name: (the edit, then digests recomputed; the file the error names, what it says[, the kind of model saved])
INCONSISTENT = {
    "a label dropped from the head": (lambda f: drop_a_label_row(f / "head.safetensors"), "head.safetensors",
                                      "label_words of shape [4, 32], expected [5, 32]"),
    "head mlm for a linear run": (lambda f: edit_json(f / "classifier.json", lambda d: {**d, "head": "mlm"}),
                                  "head.safetensors", "missing mlm_transform.LayerNorm.bias", "prompt, linear head, gat"),
    "no MLM loss for a run with one": (lambda f: edit_json(f / "classifier.json", lambda d: {**d, "mlm_loss": False}),
                                       "head.safetensors", "unexpected mlm_bias"),
    "truncated head": (lambda f: truncate(f / "head.safetensors"), "head.safetensors",
                       "not a readable safetensors file"),
    "a family that does not exist": (lambda f: edit_json(f / "classifier.json", lambda d: {**d, "family": "bart"}),
                                     "classifier.json", "'family' = 'bart': expected one of bert, prompt"),
    "family bert for a prompt run": (lambda f: edit_json(f / "classifier.json", lambda d: {**d, "family": "bert"}),
                                     "head.safetensors", "missing classifier.bias"),
    "a label dropped from labels.json": (lambda f: edit_json(f / "labels.json", lambda rows: rows[:-1]),
                                         "head.safetensors", "label_words of shape [5, 32], expected [4, 32]"),
}


@pytest.mark.parametrize("edit", INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_tensors_that_do_not_fit_the_described_model_are_refused_in_one_line(tmp_path, edit):
    change, named, problem, *kind = edit
    folder = saved(tmp_path, *kind)
    change(folder)
    restamped(folder)
    assert_refused(folder, named, problem)


def test_a_full_disk_while_writing_the_folder_is_one_line_and_leaves_the_previous_folder(tmp_path):
    """A file-size limit makes safetensors' write fail as a full disk does (SafetensorError): one line naming the
    file, the folder of an earlier save untouched, no temporary folder left."""
    folder = saved(tmp_path, "bert")
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from lhmix.core.errors import LhmixError
        from lhmix.model.encoders import load_tokenizer
        from lhmix.model.saved import save_classifier
        from test_saved_classifier import HIERARCHY, KINDS, trained_looking
        model, tokenizer = trained_looking(KINDS["prompt, linear head, gat"]), load_tokenizer("tiny-random")
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            save_classifier(model, tokenizer, HIERARCHY, {{}}, {str(folder)!r})
        except LhmixError as error:
            print(error)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout.startswith(f"{folder / 'model.safetensors'}: cannot write ("), done.stdout
    assert len(done.stdout.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_loading_reads_the_encoder_once_and_initialises_nothing_it_overwrites(tmp_path, monkeypatch):
    """The encoder's weights come from transformers' load of the folder alone (not again through safetensors),
    and the label words are not initialised from the tokenizer only to be overwritten by head.safetensors."""
    import safetensors.torch

    folder = saved(tmp_path)
    read = []
    real_load_file = safetensors.torch.load_file
    monkeypatch.setattr(safetensors.torch, "load_file", lambda path, *a, **k: read.append(Path(path).name)
                        or real_load_file(path, *a, **k))
    monkeypatch.setattr(HTCModel, "_initialise_new_parameters",
                        lambda *args: pytest.fail("label words initialised before being loaded"))
    load_classifier(folder)
    assert "model.safetensors" not in read
