"""The classifier: a pretrained encoder and one of two families of label scoring.

`bert`    [CLS] text [SEP]; the [CLS] state goes through a linear layer over all |V| labels.
`prompt`  [CLS] [D1] [MASK] [D2] [MASK] ... [DD] [MASK] [SEP] text [SEP]  (hierarchical prompt,
          HPT section 4, LH-Mix section 3). The state h^d of the d-th [MASK] scores only the labels
          of depth d, through one of two heads (`model.head`):
            mlm     p_v = w_v . T(h^d) + b_v, T = BERT's MLM prediction-head transform (dense ->
                    activation -> LayerNorm), as both published codes score labels: through the
                    MLM head, w_v being an extra row of its decoder (a "label word"). Mixup mixes
                    h^d before T (LH-Mix Eq. 5), so mixing states is not mixing scores.
            linear  p_v = w_v . h^d + b_v, no transform (an ablation: mixing states = mixing scores).
          T comes from the checkpoint's `cls.predictions.transform` when it has one
          (bert-base-uncased); otherwise (all-MiniLM-L6-v2 has no MLM head) it is initialised as BERT
          initialises it: dense ~ N(0, initializer_range), bias 0, LayerNorm 1 and 0.
          Only the D [MASK] positions are scored, only against the label words.

HPT's MLM loss (HPT section 4.3, L = L_MLM + sum_d L_ZMLCE): 15 % of the text tokens of the
classification input itself are chosen, BERT's 80/10/10 (80 % -> [MASK], 10 % -> a random word,
10 % kept), and the same forward pass gives both the [MASK]-prompt states and the vocabulary
cross-entropy at the chosen positions, scored by T and a decoder tied to the input embeddings with
the checkpoint's output bias (zeros when it has none). The prompt template is never corrupted.
The `bert` family is plain [CLS] fine-tuning (the papers' BERT rows) and has no MLM loss.

The decoder tied to the input embeddings gets a dense gradient over the whole vocabulary at every step; the
lookup's gradient touches only the batch's token rows. `TiedWords` hands both to autograd as one node whose
backward adds the lookup's rows into the decoder's gradient, instead of autograd's dense zeros for the lookup
and a second vocabulary-sized sum (the same floating-point additions, bit for bit: tests/test_classifier.py).

Inputs (the template, the [MASK] positions) come from lhmix.model.inputs.

New parameters are initialised explicitly after the weights are loaded:
  label word w_v      mean input embedding of the WordPiece tokens of label v's name
  bias b_v            0
  marker [Dd]         mean of the initial label words of depth d (ties the marker to its level's
                      vocabulary; deterministic, no random draw)
  bert head           weight ~ N(0, 0.02) (BERT's initializer range, global torch RNG), bias 0
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lhmix.core.errors import LhmixError, ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.encoders import load_encoder
from lhmix.model.graph import HierarchyInjection
from lhmix.model.inputs import check_family, marker_id, prompt_length
from lhmix.model.mixup import mix

MLM_PROBABILITY = 0.15
MLM_MASK_SHARE, MLM_RANDOM_SHARE = 0.8, 0.1  # of the chosen tokens; the rest stay as they are


def replacement_ids(tokenizer) -> Tensor:
    """Ids a corrupted token may become (BERT's 10 % random words): every vocabulary entry but the
    special tokens and the reserved [unusedK] slots (which hold the depth markers)."""
    special = set(tokenizer.all_special_ids)
    tokens = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    return torch.tensor([index for index, token in enumerate(tokens)
                         if index not in special and not token.startswith("[unused")], dtype=torch.long)


class TiedWords(torch.autograd.Function):
    """(the input embeddings of `ids`, the embedding table itself as the MLM decoder) from one autograd node.

    Backward: the decoder's dense gradient plus, row by row, the lookup's gradient. The lookup's rows are summed
    per distinct id by the kernel nn.Embedding's backward uses (positions in order, padding left out), and each
    sum is added to its decoder row once: the additions autograd makes when the two uses are separate, without
    a vocabulary-sized zero tensor for the lookup and a second vocabulary-sized sum (measured on SPLADE-tiny,
    2 CPU cores: a tenth of a prompt step's forward and backward)."""

    @staticmethod
    def forward(ctx, ids: Tensor, weight: Tensor, padding_idx: int | None):
        ctx.save_for_backward(ids)
        ctx.padding_idx, ctx.table_shape = padding_idx, weight.shape
        return nn.functional.embedding(ids, weight, padding_idx), weight.view_as(weight)

    @staticmethod
    def backward(ctx, embeds_grad: Tensor | None, decoder_grad: Tensor | None):
        (ids,) = ctx.saved_tensors
        if embeds_grad is None:
            return None, decoder_grad, None
        distinct, inverse = torch.unique(ids, return_inverse=True)
        rows = torch.ops.aten.embedding_dense_backward(embeds_grad, inverse, len(distinct), -1, False)
        if ctx.padding_idx is not None:
            kept = distinct != ctx.padding_idx
            distinct, rows = distinct[kept], rows[kept]
        if decoder_grad is None:
            return None, rows.new_zeros(ctx.table_shape).index_add_(0, distinct, rows), None
        # Added in place: the decoder feeds a matrix product (lhmix.model.classifier.HTCModel._mlm_logits), whose
        # gradient is a fresh tensor or its transpose; anything else (an expanded view) is copied first.
        if not (decoder_grad.is_contiguous() or decoder_grad.T.is_contiguous()):
            decoder_grad = decoder_grad.contiguous()
        return None, decoder_grad.index_add_(0, distinct, rows), None


class HTCModel(nn.Module):
    def __init__(self, family: str, head: str, encoder: nn.Module, hierarchy: Hierarchy,
                 mlm_transform: nn.Module | None, mlm_bias: Tensor | None, tokenizer,
                 injection: HierarchyInjection | None = None):
        super().__init__()
        self.family, self.head = family, head
        self.encoder = encoder
        self.depth = hierarchy.depth
        self.num_labels = len(hierarchy)
        self.depth_slices = _depth_slices(hierarchy)
        self.mask_token_id = tokenizer.mask_token_id
        self.text_start = 1 if family == "bert" else prompt_length(hierarchy.depth)
        hidden = encoder.config.hidden_size
        self.mlm_transform = mlm_transform
        self.mlm_bias = None if mlm_bias is None else nn.Parameter(mlm_bias.detach().clone())
        if self.mlm_bias is not None:
            self.register_buffer("replacement_ids", replacement_ids(tokenizer), persistent=False)
        if family == "bert":
            self.classifier = nn.Linear(hidden, self.num_labels)
        else:
            self.label_words = nn.Parameter(torch.empty(self.num_labels, hidden))
            self.label_bias = nn.Parameter(torch.empty(self.num_labels))
        self.injection = injection
        if injection is not None:
            self.register_buffer("marker_ids", torch.tensor([marker_id(tokenizer, d) for d in range(1, self.depth + 1)]),
                                 persistent=False)
            # the d-th marker sits at position 2d - 1 of the template
            self.register_buffer("marker_positions", torch.arange(1, 2 * self.depth, 2), persistent=False)

    @classmethod
    def create(cls, family: str, encoder_name: str, hierarchy: Hierarchy, tokenizer,
               head: str = "mlm", mlm_loss: bool = False, graph: str = "none") -> "HTCModel":
        """The model of `family`; for the prompt, scored through `head`, with the parts of HPT's MLM
        loss (the transform and the vocabulary output bias) when mlm_loss, and with HPT's hierarchy
        injection (lhmix.model.graph) when graph is gat or gcn."""
        check_family(family)
        if family == "bert" and (mlm_loss or graph != "none"):
            raise ParamError("model.bert", {"mlm_loss": mlm_loss, "graph": graph},
                             "neither: HPT's MLM loss and hierarchy injection belong to the prompt family")
        needs_transform = family == "prompt" and (head == "mlm" or mlm_loss)
        pretrained = load_encoder(encoder_name, with_mlm_head=needs_transform)
        config = pretrained.encoder.config
        transform, bias = None, None
        if needs_transform:
            transform = pretrained.mlm_transform or _bert_initialised_transform(config)
        if mlm_loss:
            bias = pretrained.mlm_bias if pretrained.mlm_bias is not None else torch.zeros(config.vocab_size)
        injection = None
        if graph != "none":
            injection = HierarchyInjection(graph, hierarchy, config.hidden_size, config.attention_probs_dropout_prob,
                                           config.initializer_range)
        model = cls(family, head, pretrained.encoder, hierarchy, transform, bias, tokenizer, injection)
        model._initialise_new_parameters(hierarchy, tokenizer)
        return model

    @property
    def has_mlm_loss(self) -> bool:
        return self.mlm_bias is not None

    @torch.no_grad()
    def _initialise_new_parameters(self, hierarchy: Hierarchy, tokenizer) -> None:
        if self.family == "bert":
            nn.init.normal_(self.classifier.weight, mean=0.0, std=0.02)
            nn.init.zeros_(self.classifier.bias)
            return
        embeddings = self.encoder.get_input_embeddings().weight
        names = [label.name for label in hierarchy.labels]
        for label_id, ids in enumerate(tokenizer(names, add_special_tokens=False)["input_ids"]):
            if not ids:
                raise LhmixError(f"label {label_id} ('{names[label_id]}') has a name with no tokens")
            self.label_words[label_id] = embeddings[ids].mean(dim=0)
        nn.init.zeros_(self.label_bias)
        for d, depth_slice in enumerate(self.depth_slices, start=1):
            embeddings[marker_id(tokenizer, d)] = self.label_words[depth_slice].mean(dim=0)

    def encode(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """[B,L,H]: the encoder's last hidden states; with hierarchy injection, the marker positions
        get the graph's depth-node outputs instead of the marker embeddings."""
        mask = self.encoder_mask(attention_mask)
        if self.injection is None:
            return self.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        words = self.encoder.get_input_embeddings()
        markers = self.injection(self.label_words, words.weight[self.marker_ids])
        embeds = words(input_ids).index_copy(1, self.marker_positions,
                                             markers.to(words.weight.dtype).expand(len(input_ids), -1, -1))
        return self.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state

    def encode_tied(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        """(encode's hidden states, the MLM decoder weight) for a training step with HPT's MLM loss: the input
        embeddings and the decoder come from one TiedWords node (same values and gradients as encode and the
        embedding weight, less work) on a CPU. With hierarchy injection, which reads the table a third time, and
        on a GPU, where TiedWords' torch.unique would make the host wait for the device: encode and the weight."""
        words = self.encoder.get_input_embeddings()
        if self.injection is not None or input_ids.device.type != "cpu":
            return self.encode(input_ids, attention_mask), words.weight
        embeds, decoder = TiedWords.apply(input_ids, words.weight, words.padding_idx)
        hidden = self.encoder(inputs_embeds=embeds, attention_mask=self.encoder_mask(attention_mask)).last_hidden_state
        return hidden, decoder

    def encoder_mask(self, attention_mask: Tensor) -> Tensor:
        """The attention mask as the encoder gets it. On a GPU with SDPA attention, the 4-D boolean mask
        (True: a key to attend to) that transformers would build from the 2-D one, built here: from a 2-D
        mask transformers first asks the device whether any token is padding (`padding_mask.all()`, to
        choose the flash kernel), a host synchronisation in every forward pass (seen on an H200 under
        torch.cuda.set_sync_debug_mode). A 4-D mask is passed through as it is. Elsewhere: unchanged."""
        if attention_mask.device.type == "cuda" and self.encoder.config._attn_implementation == "sdpa":
            return attention_mask.bool()[:, None, None, :]
        return attention_mask

    def states(self, hidden: Tensor) -> Tensor:
        """[B,S,H]: the D [MASK] states in depth order (prompt) or the [CLS] state (bert, S = 1)."""
        if self.family == "bert":
            return hidden[:, :1]
        return hidden[:, 2:2 * self.depth + 1:2]

    def scores(self, states: Tensor) -> Tensor:
        """[B,V] label scores; for the prompt, state d scores exactly the labels of depth d."""
        if self.family == "bert":
            return self.classifier(states[:, 0])
        if self.head == "mlm":
            states = self.mlm_transform(states)
        per_depth = [states[:, d] @ self.label_words[depth_slice].T
                     for d, depth_slice in enumerate(self.depth_slices)]
        return torch.cat(per_depth, dim=1) + self.label_bias

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                perm: Tensor | None = None, lam: Tensor | None = None) -> Tensor:
        """Label scores [B,V]; with perm and lam, of the Mixup-mixed states."""
        states = self.states(self.encode(input_ids, attention_mask))
        if perm is not None:
            states = mix(states, perm, lam)
        return self.scores(states)

    def corrupt_text(self, input_ids: Tensor, attention_mask: Tensor,
                     generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(corrupted ids, chosen [B,L] bool): 15 % of the text tokens chosen, BERT's 80/10/10.

        Inputs are right-padded and end with [SEP]: text is position text_start up to the last
        attended position, exclusive. Draws come from `generator` only (three per position)."""
        if not self.has_mlm_loss:
            raise LhmixError("corrupt_text needs a model created with mlm_loss=True")
        shape, device = input_ids.shape, input_ids.device
        # drawn on the generator's device; non_blocking: the host does not wait for the copy
        choose, how = (torch.rand(shape, generator=generator, device=generator.device).to(device, non_blocking=True)
                       for _ in range(2))
        pick = torch.randint(len(self.replacement_ids), shape, generator=generator,
                             device=generator.device).to(device, non_blocking=True)
        positions = torch.arange(shape[1], device=device)
        text = attention_mask.bool() & (positions >= self.text_start)
        text &= positions < attention_mask.sum(dim=1, keepdim=True) - 1
        chosen = text & (choose < MLM_PROBABILITY)
        corrupted = input_ids.masked_fill(chosen & (how < MLM_MASK_SHARE), self.mask_token_id)
        randomised = chosen & (how >= MLM_MASK_SHARE) & (how < MLM_MASK_SHARE + MLM_RANDOM_SHARE)
        corrupted = torch.where(randomised, self.replacement_ids[pick], corrupted)
        return corrupted, chosen

    def mlm_loss(self, hidden: Tensor, chosen: Tensor, original_ids: Tensor, budget: int | None = None,
                 decoder: Tensor | None = None) -> Tensor:
        """Vocabulary cross-entropy at the chosen positions (mean; 0 when none was chosen); `decoder`: the tied
        weight from encode_tied (default: the input embedding table).

        budget None: the chosen positions by boolean indexing, whose shape the host must read (on a GPU,
        a wait for the device). budget K: K positions gathered, the chosen ones first in the same order,
        the rest weighted 0: a shape known in advance, so a GPU step never waits. The result is the same
        unless more than K were chosen (mlm_budget makes that a 1e-15 event; the loop checks for it)."""
        if budget is None:
            if not chosen.any():
                return hidden.new_zeros(())
            return nn.functional.cross_entropy(self._mlm_logits(hidden[chosen], decoder).float(), original_ids[chosen])
        flat = chosen.flatten()
        positions = torch.argsort(flat.to(torch.int8), descending=True, stable=True)[:budget]
        taken = flat[positions].float()
        logits = self._mlm_logits(hidden.flatten(0, 1)[positions], decoder).float()
        losses = nn.functional.cross_entropy(logits, original_ids.flatten()[positions], reduction="none")
        return (losses * taken).sum() / taken.sum().clamp(min=1.0)

    def _mlm_logits(self, states: Tensor, decoder: Tensor | None = None) -> Tensor:
        if decoder is None:
            decoder = self.encoder.get_input_embeddings().weight
        return self.mlm_transform(states) @ decoder.T + self.mlm_bias


def mlm_budget(positions: int) -> int:
    """Positions the MLM loss gathers on a GPU for a batch of `positions` tokens: the expected number
    chosen plus 8 standard deviations of the binomial (more are chosen with probability below 1e-15)."""
    mean = MLM_PROBABILITY * positions
    spread = math.sqrt(positions * MLM_PROBABILITY * (1 - MLM_PROBABILITY))
    return min(positions, math.ceil(mean + 8 * spread) + 8)


def _bert_initialised_transform(config) -> nn.Module:
    """BERT's prediction-head transform with BERT's initialisation (global torch RNG)."""
    from transformers.models.bert.modeling_bert import BertPredictionHeadTransform

    transform = BertPredictionHeadTransform(config)
    with torch.no_grad():
        nn.init.normal_(transform.dense.weight, mean=0.0, std=config.initializer_range)
        nn.init.zeros_(transform.dense.bias)
        nn.init.ones_(transform.LayerNorm.weight)
        nn.init.zeros_(transform.LayerNorm.bias)
    return transform


def _depth_slices(hierarchy: Hierarchy) -> list[slice]:
    slices = []
    for depth in range(1, hierarchy.depth + 1):
        ids = hierarchy.labels_at(depth)
        if not ids or ids != list(range(ids[0], ids[-1] + 1)):
            raise LhmixError(f"labels of depth {depth} must be a non-empty contiguous id range")
        slices.append(slice(ids[0], ids[-1] + 1))
    return slices
