"""The classifier: a pretrained encoder and one of two ways of scoring the labels.

`bert`    [CLS] text [SEP]; the [CLS] state goes through a linear head over all |V| labels.
`prompt`  [CLS] [D1] [MASK] [D2] [MASK] ... [DD] [MASK] [SEP] text [SEP]  (hierarchical prompt)
          The state h^d of the d-th [MASK] scores only the labels of depth d:  p_v = w_v . h^d + b_v,
          with w_v a trainable "label word" and b_v a bias. Only the D [MASK] positions are scored,
          only against the label words (never a vocabulary-wide projection).

The depth markers [Dd] are reserved `[unusedK]` slots of the BERT WordPiece vocabulary. The template
comes first, so the d-th [MASK] is always at position 2d: no search for it.

New parameters are initialised explicitly after the weights are loaded:
  label word w_v      mean input embedding of the WordPiece tokens of label v's name
  bias b_v            0
  marker [Dd]         mean of the initial label words of depth d (ties the marker to its level's
                      vocabulary; deterministic, no random draw)
  bert head           weight ~ N(0, 0.02) (BERT's initializer range, global torch RNG), bias 0
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from lhmix.encoders import load_encoder
from lhmix.errors import LhmixError, ParamError
from lhmix.hierarchy import Hierarchy
from lhmix.mixup import mix

KINDS = ("bert", "prompt")
MLM_PROBABILITY = 0.15


def marker_token(depth: int) -> str:
    """The vocabulary slot used as the marker of `depth` (1-based)."""
    return f"[unused{depth - 1}]"


def prompt_length(depth: int) -> int:
    """Tokens before the text in a prompt input: [CLS], D pairs [Dd] [MASK], [SEP]."""
    return 2 * depth + 2


def _prefix(tokenizer, kind: str, depth: int) -> list[int]:
    if kind == "bert":
        return [tokenizer.cls_token_id]
    if kind != "prompt":
        raise ParamError("kind", kind, f"one of {KINDS}")
    prefix = [tokenizer.cls_token_id]
    for d in range(1, depth + 1):
        prefix += [_marker_id(tokenizer, d), tokenizer.mask_token_id]
    return prefix + [tokenizer.sep_token_id]


def _marker_id(tokenizer, depth: int) -> int:
    token = marker_token(depth)
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise LhmixError(f"the tokenizer has no reserved slot {token} for the depth-{depth} marker: "
                         "the prompt needs a BERT WordPiece vocabulary with [unusedK] tokens")
    return token_id


def build_inputs(tokenizer, texts: list[str], kind: str, depth: int, max_length: int) -> list[list[int]]:
    """Token ids of each text: the prompt template (kind 'prompt') or [CLS] (kind 'bert'), then
    the text, then [SEP]. The text is truncated so that the whole fits in max_length."""
    prefix = _prefix(tokenizer, kind, depth)
    room = max_length - len(prefix) - 1
    if room < 1:
        raise ParamError("train.max_length", max_length,
                         f"at least {len(prefix) + 2} for a '{kind}' input of depth {depth}")
    text_ids = _truncated_ids(tokenizer, list(texts), room)
    return [prefix + ids + [tokenizer.sep_token_id] for ids in text_ids]


def _truncated_ids(tokenizer, texts: list[str], room: int) -> list[list[int]]:
    """The first `room` WordPiece ids of each text, without special tokens.

    Long texts (RCV1) are first cut to their first `room` words: WordPiece splits at whitespace and
    a word gives at least one token, so the cut keeps the same first `room` ids and saves most of
    the tokenising. The rare text whose words give no token (e.g. only control characters) and so
    comes out short is tokenised again in full: the result is exact either way.
    """
    parts = [text.split(None, room) for text in texts]
    cut = [len(words) > room for words in parts]
    short_texts = [" ".join(words[:room]) if was_cut else text
                   for text, words, was_cut in zip(texts, parts, cut)]
    ids = _tokenize(tokenizer, short_texts, room)
    redo = [index for index, row in enumerate(ids) if cut[index] and len(row) < room]
    for index, row in zip(redo, _tokenize(tokenizer, [texts[index] for index in redo], room)):
        ids[index] = row
    return ids


def _tokenize(tokenizer, texts: list[str], room: int) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer(texts, add_special_tokens=False, truncation=True, max_length=room)["input_ids"]


class HTCModel(nn.Module):
    def __init__(self, kind: str, encoder: nn.Module, hierarchy: Hierarchy,
                 mlm_head: nn.Module | None, mask_token_id: int, text_start: int):
        super().__init__()
        self.kind = kind
        self.encoder = encoder
        self.mlm_head = mlm_head
        self.depth = hierarchy.depth
        self.num_labels = len(hierarchy)
        self.depth_slices = _depth_slices(hierarchy)
        self.mask_token_id = mask_token_id
        self.text_start = text_start  # first position of the text in every input
        hidden = encoder.config.hidden_size
        if kind == "bert":
            self.head = nn.Linear(hidden, self.num_labels)
        else:
            self.label_words = nn.Parameter(torch.empty(self.num_labels, hidden))
            self.label_bias = nn.Parameter(torch.empty(self.num_labels))

    @classmethod
    def create(cls, kind: str, encoder_name: str, hierarchy: Hierarchy, tokenizer,
               mlm: bool = False) -> "HTCModel":
        if kind not in KINDS:
            raise ParamError("kind", kind, f"one of {KINDS}")
        encoder, mlm_head = load_encoder(encoder_name, with_mlm_head=mlm)
        if mlm and mlm_head is None:
            raise ParamError("train.mlm_weight", "> 0",
                             f"0: encoder '{encoder_name}' has no MLM head (choose one whose checkpoint "
                             "has it, e.g. tiny-random or bert-base-uncased)")
        text_start = 1 if kind == "bert" else prompt_length(hierarchy.depth)
        model = cls(kind, encoder, hierarchy, mlm_head, tokenizer.mask_token_id, text_start)
        model._initialise_new_parameters(hierarchy, tokenizer)
        return model

    @torch.no_grad()
    def _initialise_new_parameters(self, hierarchy: Hierarchy, tokenizer) -> None:
        if self.kind == "bert":
            nn.init.normal_(self.head.weight, mean=0.0, std=0.02)
            nn.init.zeros_(self.head.bias)
            return
        embeddings = self.encoder.get_input_embeddings().weight
        names = [label.name for label in hierarchy.labels]
        for label_id, ids in enumerate(tokenizer(names, add_special_tokens=False)["input_ids"]):
            if not ids:
                raise LhmixError(f"label {label_id} ('{names[label_id]}') has a name with no tokens")
            self.label_words[label_id] = embeddings[ids].mean(dim=0)
        nn.init.zeros_(self.label_bias)
        for d, depth_slice in enumerate(self.depth_slices, start=1):
            embeddings[_marker_id(tokenizer, d)] = self.label_words[depth_slice].mean(dim=0)

    def states(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """[B,S,H]: the D [MASK] states in depth order (prompt) or the [CLS] state (bert, S = 1)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.kind == "bert":
            return hidden[:, :1]
        return hidden[:, 2:2 * self.depth + 1:2]

    def scores(self, states: Tensor) -> Tensor:
        """[B,V] label scores; for the prompt, state d scores exactly the labels of depth d."""
        if self.kind == "bert":
            return self.head(states[:, 0])
        per_depth = [states[:, d] @ self.label_words[depth_slice].T
                     for d, depth_slice in enumerate(self.depth_slices)]
        return torch.cat(per_depth, dim=1) + self.label_bias

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                perm: Tensor | None = None, lam: Tensor | None = None) -> Tensor:
        """Label scores [B,V]; with perm and lam, of the Mixup-mixed states."""
        states = self.states(input_ids, attention_mask)
        if perm is not None:
            states = mix(states, perm, lam)
        return self.scores(states)

    def mlm_loss(self, input_ids: Tensor, attention_mask: Tensor, generator: torch.Generator) -> Tensor:
        """HPT's auxiliary loss: 15% of the text tokens replaced by [MASK] and predicted back;
        cross-entropy over the vocabulary at the masked positions only. 0 when none is drawn."""
        if self.mlm_head is None:
            raise LhmixError("mlm_loss needs a model created with mlm=True")
        draws = torch.rand(input_ids.shape, generator=generator, device=generator.device)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        text = attention_mask.bool() & (positions >= self.text_start)
        # Inputs are right-padded: the last attended position is the final [SEP], not text.
        text &= positions < attention_mask.sum(dim=1, keepdim=True) - 1
        chosen = text & (draws.to(input_ids.device) < MLM_PROBABILITY)
        if not chosen.any():
            return torch.zeros((), device=input_ids.device)
        masked = input_ids.masked_fill(chosen, self.mask_token_id)
        hidden = self.encoder(input_ids=masked, attention_mask=attention_mask).last_hidden_state
        logits = self.mlm_head(hidden[chosen])
        return nn.functional.cross_entropy(logits.float(), input_ids[chosen])


def _depth_slices(hierarchy: Hierarchy) -> list[slice]:
    slices = []
    for depth in range(1, hierarchy.depth + 1):
        ids = hierarchy.labels_at(depth)
        if not ids or ids != list(range(ids[0], ids[-1] + 1)):
            raise LhmixError(f"labels of depth {depth} must be a non-empty contiguous id range")
        slices.append(slice(ids[0], ids[-1] + 1))
    return slices
