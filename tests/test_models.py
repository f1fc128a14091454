import pytest
import torch

from lhmix.encoders import load_encoder, load_tokenizer
from lhmix.errors import LhmixError, ParamError
from lhmix.hierarchy import Hierarchy
from lhmix.mixup import mix
from lhmix.models import HTCModel, build_inputs, prompt_length

# ids: biology=0, computer science=1, biology/genetics=2, cs/databases=3, cs/machine learning=4
HIERARCHY, _ = Hierarchy.from_paths([("computer science", "machine learning"),
                                     ("computer science", "databases"), ("biology", "genetics")])
TEXTS = ["neural networks learn representations from data", "genes"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-random")


@pytest.fixture(scope="module")
def prompt_model(tokenizer):
    return HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer, mlm=True).eval()


def batch(ids_lists, pad_id=0):
    width = max(len(ids) for ids in ids_lists)
    input_ids = torch.tensor([ids + [pad_id] * (width - len(ids)) for ids in ids_lists])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in ids_lists])
    return input_ids, mask


def test_prompt_template_layout(tokenizer):
    ids = build_inputs(tokenizer, TEXTS, "prompt", 3, max_length=12)
    tokens = [tokenizer.convert_ids_to_tokens(row) for row in ids]
    prefix = ["[CLS]", "[unused0]", "[MASK]", "[unused1]", "[MASK]", "[unused2]", "[MASK]", "[SEP]"]
    assert prompt_length(3) == len(prefix)
    assert tokens[0] == prefix + ["neural", "networks", "learn", "[SEP]"]  # text truncated, prompt kept
    assert tokens[1] == prefix + ["genes", "[SEP]"]
    for row in ids:  # the d-th [MASK] sits at position 2d
        assert [row[2 * d] for d in (1, 2, 3)] == [tokenizer.mask_token_id] * 3


def test_word_cut_truncation_is_exact(tokenizer):
    texts = ["short text", "a " * 50 + "end", "x,y;z! " * 30, "\x00 " * 40 + "late words come here",
             "\u3000".join(["wide"] * 40), "深度学习 " * 30, "", "don't stop-believing " * 20]
    for kind, prefix in (("prompt", prompt_length(2)), ("bert", 1)):
        room = 16 - prefix - 1
        expected = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=room)["input_ids"]
        got = build_inputs(tokenizer, texts, kind, 2, max_length=16)
        assert [row[prefix:-1] for row in got] == expected


def test_bert_layout_and_length_errors(tokenizer):
    ids = build_inputs(tokenizer, TEXTS, "bert", 3, max_length=5)
    assert [tokenizer.convert_ids_to_tokens(row) for row in ids] == [
        ["[CLS]", "neural", "networks", "learn", "[SEP]"], ["[CLS]", "genes", "[SEP]"]]
    with pytest.raises(ParamError, match="max_length"):
        build_inputs(tokenizer, TEXTS, "prompt", 3, max_length=9)
    with pytest.raises(ParamError, match="kind"):
        build_inputs(tokenizer, TEXTS, "gpt", 3, max_length=9)


def test_new_parameters_initialised_from_names(prompt_model, tokenizer):
    reference, _ = load_encoder("tiny-random")  # same seeded weights, untouched by the model
    embeddings = reference.get_input_embeddings().weight
    for label in HIERARCHY.labels:
        name_ids = tokenizer(label.name, add_special_tokens=False)["input_ids"]
        expected = embeddings[name_ids].mean(dim=0)
        assert torch.allclose(prompt_model.label_words[label.id], expected, atol=1e-7)
    ml = tokenizer.convert_tokens_to_ids(["machine", "learning"])
    assert torch.allclose(prompt_model.label_words[4], (embeddings[ml[0]] + embeddings[ml[1]]) / 2)
    assert torch.equal(prompt_model.label_bias, torch.zeros(5))
    model_embeddings = prompt_model.encoder.get_input_embeddings().weight
    for depth, labels in ((1, [0, 1]), (2, [2, 3, 4])):
        marker = tokenizer.convert_tokens_to_ids(f"[unused{depth - 1}]")
        assert torch.allclose(model_embeddings[marker], prompt_model.label_words[labels].mean(dim=0))
    assert prompt_model.depth_slices == [slice(0, 2), slice(2, 5)]


def test_prompt_states_are_the_mask_states_and_score_their_depth_only(prompt_model, tokenizer):
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=16))
    with torch.no_grad():
        hidden = prompt_model.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        states = prompt_model.states(input_ids, mask)
        assert states.shape == (2, 2, 32)
        assert torch.equal(states, hidden[:, [2, 4]])
        scores = prompt_model.scores(states)
        words, bias = prompt_model.label_words, prompt_model.label_bias
        assert torch.allclose(scores[:, :2], states[:, 0] @ words[:2].T + bias[:2])
        assert torch.allclose(scores[:, 2:], states[:, 1] @ words[2:].T + bias[2:])
        changed = states.clone()
        changed[:, 0] += 1.0
        assert torch.equal(prompt_model.scores(changed)[:, 2:], scores[:, 2:])


def test_padding_does_not_change_scores(prompt_model, tokenizer):
    ids = build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=32)
    with torch.no_grad():
        together = prompt_model(*batch(ids))
        alone = prompt_model(*batch(ids[1:]))
    assert torch.allclose(together[1], alone[0], atol=1e-5)


def test_forward_with_mixup_mixes_the_states(prompt_model, tokenizer):
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=16))
    perm, lam = torch.tensor([1, 0]), torch.tensor([0.7, 0.6])
    with torch.no_grad():
        expected = prompt_model.scores(mix(prompt_model.states(input_ids, mask), perm, lam))
        assert torch.allclose(prompt_model(input_ids, mask, perm, lam), expected)


def test_gradients_reach_new_parameters(tokenizer):
    model = HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer)
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=16))
    model(input_ids, mask).sum().backward()
    assert model.label_words.grad.abs().sum() > 0 and model.label_bias.grad.abs().sum() > 0
    marker = tokenizer.convert_tokens_to_ids("[unused0]")
    assert model.encoder.get_input_embeddings().weight.grad[marker].abs().sum() > 0


def test_bert_head(tokenizer):
    torch.manual_seed(0)
    model = HTCModel.create("bert", "tiny-random", HIERARCHY, tokenizer).eval()
    assert model.kind == "bert" and model.mlm_head is None
    assert torch.equal(model.head.bias, torch.zeros(5))
    assert 0.01 < model.head.weight.std().item() < 0.03
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "bert", 2, max_length=16))
    with torch.no_grad():
        states = model.states(input_ids, mask)
        hidden = model.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
    assert torch.equal(states, hidden[:, :1])
    assert model(input_ids, mask).shape == (2, 5)


def test_mlm_loss_masks_text_only_and_is_reproducible(prompt_model, tokenizer):
    text = " ".join(["word"] * 40)
    input_ids, mask = batch(build_inputs(tokenizer, [text, "genes"], "prompt", 2, max_length=64))
    seen = {}  # the ids the encoder actually receives
    handle = prompt_model.encoder.embeddings.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True)
    try:
        loss = prompt_model.mlm_loss(input_ids, mask, torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    again = prompt_model.mlm_loss(input_ids, mask, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss.item() > 0 and loss.item() == again.item()
    changed = seen["input_ids"] != input_ids
    assert changed.any()
    assert (seen["input_ids"][changed] == tokenizer.mask_token_id).all()
    start = prompt_length(2)
    assert not changed[:, :start].any()  # the prompt is never masked
    assert not changed[0, -1] and not (changed & (mask == 0)).any()  # nor [SEP] nor padding


def test_mlm_needs_an_mlm_head(tokenizer):
    model = HTCModel.create("bert", "tiny-random", HIERARCHY, tokenizer)
    with pytest.raises(LhmixError, match="mlm=True"):
        model.mlm_loss(*batch([[101, 102]]), torch.Generator())
