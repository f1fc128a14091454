"""A run's best classifier as a folder: transformers and safetensors open it, and lhmix.model.saved rebuilds
the very model (every tensor, every score) from its files alone."""
import json

import pytest
import torch
import transformers
from safetensors.torch import load_file

from lhmix.core.errors import LhmixError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.classifier import HTCModel
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
