import pytest
import torch
import transformers
from torch import nn

from lhmix.model import classifier as models
from lhmix.model.encoders import load_encoder, load_tokenizer
from lhmix.core.errors import LhmixError, ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.mixup import mix
from lhmix.model.classifier import HTCModel
from lhmix.model.inputs import build_inputs, prompt_length
from lhmix.training.config import TrainConfig

# ids: biology=0, computer science=1, biology/genetics=2, cs/databases=3, cs/machine learning=4
HIERARCHY, _ = Hierarchy.from_paths([("computer science", "machine learning"),
                                     ("computer science", "databases"), ("biology", "genetics")])
TEXTS = ["neural networks learn representations from data", "genes"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-random")


@pytest.fixture(scope="module")
def prompt_model(tokenizer):
    return HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer, head="mlm", mlm_loss=True).eval()


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
    for family, prefix in (("prompt", prompt_length(2)), ("bert", 1)):
        room = 16 - prefix - 1
        expected = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=room)["input_ids"]
        got = build_inputs(tokenizer, texts, family, 2, max_length=16)
        assert [row[prefix:-1] for row in got] == expected


def test_bert_layout_and_length_errors(tokenizer):
    ids = build_inputs(tokenizer, TEXTS, "bert", 3, max_length=5)
    assert [tokenizer.convert_ids_to_tokens(row) for row in ids] == [
        ["[CLS]", "neural", "networks", "learn", "[SEP]"], ["[CLS]", "genes", "[SEP]"]]
    with pytest.raises(ParamError, match="max_length"):
        build_inputs(tokenizer, TEXTS, "prompt", 3, max_length=9)
    with pytest.raises(ParamError, match="family"):
        build_inputs(tokenizer, TEXTS, "gpt", 3, max_length=9)


def test_new_parameters_initialised_from_names(prompt_model, tokenizer):
    reference = load_encoder("tiny-random").encoder  # same seeded weights, untouched by the model
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


def _hidden_and_states(model, input_ids, mask):
    with torch.no_grad():
        hidden = model.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return hidden, model.states(model.encode(input_ids, mask))


def test_mlm_head_scores_the_transformed_mask_states_of_their_depth_only(prompt_model, tokenizer):
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=16))
    hidden, states = _hidden_and_states(prompt_model, input_ids, mask)
    assert states.shape == (2, 2, 32)
    assert torch.equal(states, hidden[:, [2, 4]])
    dense, norm = prompt_model.mlm_transform.dense, prompt_model.mlm_transform.LayerNorm
    with torch.no_grad():
        scores = prompt_model.scores(states)
        # T(h) = LayerNorm(gelu(W h + b)), by hand
        transformed = nn.functional.layer_norm(nn.functional.gelu(states @ dense.weight.T + dense.bias), (32,),
                                               norm.weight, norm.bias, norm.eps)
        words, bias = prompt_model.label_words, prompt_model.label_bias
        assert torch.allclose(scores[:, :2], transformed[:, 0] @ words[:2].T + bias[:2], atol=1e-5)
        assert torch.allclose(scores[:, 2:], transformed[:, 1] @ words[2:].T + bias[2:], atol=1e-5)
        changed = states.clone()
        changed[:, 0] += 1.0
        assert torch.equal(prompt_model.scores(changed)[:, 2:], scores[:, 2:])


def test_mlm_head_mixes_states_before_the_transform_linear_head_does_not_differ(prompt_model, tokenizer):
    """Mixing states then scoring is not mixing scores through the MLM head; with the linear head it is."""
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=16))
    perm, lam = torch.tensor([1, 0]), torch.tensor([0.7, 0.6])
    linear = HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer, head="linear").eval()
    assert linear.mlm_transform is None
    states = torch.randn(2, 2, 32, generator=torch.Generator().manual_seed(0))
    for model, same in ((prompt_model, False), (linear, True)):
        with torch.no_grad():
            _, encoded = _hidden_and_states(model, input_ids, mask)
            assert torch.allclose(model(input_ids, mask, perm, lam), model.scores(mix(encoded, perm, lam)))
            scores = model.scores(states)
            mixed_scores = lam[:, None] * scores + (1 - lam[:, None]) * scores[perm]
            assert torch.allclose(model.scores(mix(states, perm, lam)), mixed_scores, atol=1e-5) == same


def test_transform_is_the_checkpoints_or_bert_initialised(prompt_model):
    pretrained = load_encoder("tiny-random", with_mlm_head=True)
    for name, value in pretrained.mlm_transform.state_dict().items():
        assert torch.equal(prompt_model.mlm_transform.state_dict()[name], value), name
    assert torch.equal(prompt_model.mlm_bias, pretrained.mlm_bias)
    config = transformers.BertConfig(vocab_size=30522, hidden_size=64, initializer_range=0.02)
    torch.manual_seed(0)
    transform = models._bert_initialised_transform(config)
    assert 0.015 < transform.dense.weight.std().item() < 0.025
    assert torch.equal(transform.dense.bias, torch.zeros(64))
    assert torch.equal(transform.LayerNorm.weight, torch.ones(64))


def test_padding_does_not_change_scores(prompt_model, tokenizer):
    ids = build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=32)
    with torch.no_grad():
        together = prompt_model(*batch(ids))
        alone = prompt_model(*batch(ids[1:]))
    assert torch.allclose(together[1], alone[0], atol=1e-5)


def test_gradients_reach_new_parameters(tokenizer):
    model = HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer)
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "prompt", 2, max_length=16))
    model(input_ids, mask).sum().backward()
    assert model.label_words.grad.abs().sum() > 0
    assert model.label_bias.grad.abs().sum() > 0
    assert model.mlm_transform.dense.weight.grad.abs().sum() > 0
    marker = tokenizer.convert_tokens_to_ids("[unused0]")
    assert model.encoder.get_input_embeddings().weight.grad[marker].abs().sum() > 0


def test_bert_head(tokenizer):
    torch.manual_seed(0)
    model = HTCModel.create("bert", "tiny-random", HIERARCHY, tokenizer).eval()
    assert model.family == "bert"
    assert model.mlm_transform is None
    assert not model.has_mlm_loss
    assert torch.equal(model.classifier.bias, torch.zeros(5))
    assert 0.01 < model.classifier.weight.std().item() < 0.03
    input_ids, mask = batch(build_inputs(tokenizer, TEXTS, "bert", 2, max_length=16))
    hidden, states = _hidden_and_states(model, input_ids, mask)
    assert torch.equal(states, hidden[:, :1])
    assert model(input_ids, mask).shape == (2, 5)
    with pytest.raises(ParamError, match="model.bert"):
        HTCModel.create("bert", "tiny-random", HIERARCHY, tokenizer, mlm_loss=True)


def test_an_unknown_head_fails_at_configuration():
    with pytest.raises(ParamError, match="'model.prompt.head' = 'mlp': expected one of mlm, linear"):
        TrainConfig(family="prompt", mixing="none", seed=0, head="mlp")


def test_corruption_is_bert_80_10_10_on_text_tokens_only(prompt_model, tokenizer):
    text = " ".join(["word"] * 200)
    input_ids, mask = batch(build_inputs(tokenizer, [text] * 20 + ["genes"], "prompt", 2, max_length=256))
    corrupted, chosen = prompt_model.corrupt_text(input_ids, mask, torch.Generator().manual_seed(0))
    again, chosen_again = prompt_model.corrupt_text(input_ids, mask, torch.Generator().manual_seed(0))
    assert torch.equal(corrupted, again)
    assert torch.equal(chosen, chosen_again)
    start = prompt_length(2)
    assert not chosen[:, :start].any()  # the prompt is never chosen
    last = mask.sum(dim=1) - 1
    assert not chosen[torch.arange(len(last)), last].any()  # nor the final [SEP]
    assert not (chosen & (mask == 0)).any()
    assert torch.equal(corrupted[~chosen], input_ids[~chosen])
    text_tokens = int((mask[:, start:].sum(dim=1) - 1).sum())
    assert abs(chosen.sum().item() / text_tokens - 0.15) < 0.02
    at_chosen = corrupted[chosen]
    masked = (at_chosen == tokenizer.mask_token_id).float().mean().item()
    kept = (at_chosen == input_ids[chosen]).float().mean().item()
    assert abs(masked - 0.8) < 0.05
    assert abs(kept - 0.1) < 0.04
    replaced = at_chosen[(at_chosen != tokenizer.mask_token_id) & (at_chosen != input_ids[chosen])]
    assert len(replaced) > 0
    assert not set(replaced.tolist()) & set(tokenizer.all_special_ids)
    assert all(not token.startswith("[unused") for token in tokenizer.convert_ids_to_tokens(replaced.tolist()))


def test_mlm_loss_is_the_cross_entropy_of_the_tied_decoder_at_chosen_positions(prompt_model, tokenizer):
    input_ids, mask = batch(build_inputs(tokenizer, ["neural networks learn from data"], "prompt", 2, 16))
    chosen = torch.zeros_like(mask, dtype=torch.bool)
    chosen[0, prompt_length(2) + 1] = True
    with torch.no_grad():
        hidden = prompt_model.encode(input_ids, mask)
        loss = prompt_model.mlm_loss(hidden, chosen, input_ids)
        vector = prompt_model.mlm_transform(hidden[0, prompt_length(2) + 1])
        logits = prompt_model.encoder.get_input_embeddings().weight @ vector + prompt_model.mlm_bias
        expected = torch.logsumexp(logits, 0) - logits[input_ids[0, prompt_length(2) + 1]]
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
        assert prompt_model.mlm_loss(hidden, torch.zeros_like(chosen), input_ids).item() == 0.0


def test_corruption_needs_the_mlm_parts(tokenizer):
    model = HTCModel.create("prompt", "tiny-random", HIERARCHY, tokenizer)
    with pytest.raises(LhmixError, match="mlm_loss=True"):
        model.corrupt_text(*batch([[101, 102]]), torch.Generator())


def _tied_and_separate_gradients(model, input_ids, mask, chosen, loss_of):
    """Every parameter's gradient of loss_of(hidden, decoder or None) through encode (the table used twice)
    and through encode_tied (one TiedWords node)."""
    gradients = []
    for tied in (False, True):
        model.zero_grad(set_to_none=True)
        hidden, decoder = (model.encode_tied(input_ids, mask) if tied
                           else (model.encode(input_ids, mask), None))
        loss_of(hidden, decoder).backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
    return gradients


def test_tied_words_give_the_gradients_of_separate_uses_bit_for_bit(prompt_model, tokenizer):
    texts = ["the the the data data networks", "data"]  # repeated ids, and padding in the second row
    input_ids, mask = batch(build_inputs(tokenizer, texts, "prompt", 2, 24), tokenizer.pad_token_id)
    chosen = mask.bool() & (torch.arange(input_ids.shape[1]) >= prompt_length(2))
    separate, tied = _tied_and_separate_gradients(
        prompt_model, input_ids, mask, chosen,
        lambda hidden, decoder: prompt_model.scores(prompt_model.states(hidden)).sum()
        + prompt_model.mlm_loss(hidden, chosen, input_ids, decoder=decoder))
    assert set(tied) == set(separate)
    assert [name for name in separate if not torch.equal(tied[name], separate[name])] == []
    assert (input_ids == tokenizer.pad_token_id).any()
    assert len(input_ids[0].unique()) < mask[0].sum()  # ids repeated: their rows summed before the decoder's


def test_tied_words_without_the_decoder_give_the_lookups_gradient(prompt_model, tokenizer):
    input_ids, mask = batch(build_inputs(tokenizer, ["data data genes", "genes"], "prompt", 2, 16),
                            tokenizer.pad_token_id)
    separate, tied = _tied_and_separate_gradients(prompt_model, input_ids, mask, None,
                                                  lambda hidden, decoder: hidden.square().sum())
    name = "encoder.embeddings.word_embeddings.weight"
    assert torch.equal(tied[name], separate[name])
    assert separate[name][tokenizer.pad_token_id].abs().sum() == 0  # padding gets no gradient
