"""The one training loop of every variant (lhmix.core.vocabulary names them), top to bottom: `fit` over
epochs, `Session.train_epoch` over one epoch's steps, `Session.train_step` for one step (its loss:
`Objective`), `Session.evaluate` on dev, then the stopping rule (lhmix.training.progress.Progress.record).

An epoch: length-aware batches from (seed, epoch) (lhmix.training.batches); per batch the mean
ZMLCE loss (per depth or per document, train.loss), Mixup-mixed from epoch warmup_epochs + 1 on, plus
mlm_weight x HPT's MLM loss from the same forward pass; one Adam step. Then dev micro/macro-F1 and early
stopping (train.early_stopping). What the loop trains with is set up in lhmix.training.session; the
files each epoch leaves are written by lhmix.training.run.

Every random number comes from a stream whose state is checkpointed: the global torch RNG
(initialisation, dropout), a Mixup generator (partners, Beta draws), a shuffle generator (the
shuffled-similarity control's reassignment of s) and an MLM-masking generator; batch order comes from
(seed, epoch) alone. Mixup draws nothing before it starts, so every variant of a family has the same
state at the end of warm-up (lhmix.training.run shares it); the partners come from the Mixup generator
alone, so prompt_lhmix and its two controls of one seed mix the same pairs at every step.
"""
from __future__ import annotations

import functools
import math
import time
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from lhmix.core.errors import LhmixError
from lhmix.core.logs import logger
from lhmix.core.progress_log import ProgressLog
from lhmix.model import losses, mixup, published_similarity
from lhmix.model.classifier import HTCModel, mlm_budget
from lhmix.model.similarity_table import SimilarityTable
from lhmix.training.batches import Encoded, collate, length_batches, shard, sorted_batches
from lhmix.training.config import TrainConfig
from lhmix.training.devices import Processes, autocast
from lhmix.training.metrics import F1Accumulator, average_precision, multi_hot
from lhmix.training.progress import Progress
from lhmix.training.session import SessionSetup

# On a GPU, losses are copied to the host (a synchronisation) once per this many steps.
GPU_SYNC_EVERY = 50
# What the run keeps of a finished epoch (rank 0): (progress, dev improved, seconds, every rank's random streams).
KeepEpoch = Callable[[Progress, bool, float, list[dict]], None]


def fit(session: Session, progress: Progress, last_epoch: int, keep_epoch: KeepEpoch,
        on_epoch_end: Callable[[int], None] | None = None) -> Progress:
    """Train epochs progress.epoch + 1 .. last_epoch, unless the stopping rule says stop. After each epoch,
    rank 0 scores dev, records the epoch (Progress.record: the stopping rule) and hands it to `keep_epoch`
    (lhmix.training.run.Run.keep_epoch: timing, best.pt, last.pt, curves); every rank gets its progress."""
    config, procs = session.config, session.procs
    while progress.epoch < last_epoch and not progress.stopped_early:
        epoch = progress.epoch + 1
        # where early stopping may end the run before last_epoch, last_epoch is a cap, not a count
        can_stop = last_epoch > config.warmup_epochs or config.early_stopping == "published"
        label = f"{config.run_name()} epoch {epoch}/{last_epoch}" + (" (cap)" if can_stop else "")
        train_loss, seconds, mixing = session.train_epoch(epoch, label)
        rng_states = session.gather_rng_states()
        if procs.main:
            progress.add_mixing(mixing)
            dev = session.evaluate(session.dev_split)[0]
            improved = progress.record(epoch, train_loss, dev, config.patience, config.warmup_epochs,
                                       config.early_stopping)
            progress.history[-1].update(mixup.epoch_summary(mixing))
            keep_epoch(progress, improved, seconds, rng_states)
            logger.info(f"{label}: {seconds:.1f} s, train loss {train_loss:.4f}, dev micro-F1 "
                f"{dev['micro_f1']:.4f} macro-F1 {dev['macro_f1']:.4f} (P {dev['precision']:.3f} "
                f"R {dev['recall']:.3f}), {len(session.train_split) / seconds:.1f} examples/s"
                + (" (best)" if progress.best_epoch == epoch else "")
                + (", early stop" if progress.stopped_early else ""))
        progress = session.broadcast(progress)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    return progress


class Session(SessionSetup):
    """One process's share of a run (lhmix.training.session) and the loop's steps over it."""

    def __init__(self, config: TrainConfig, data_dir, procs: Processes, device: torch.device,
                 similarity: SimilarityTable | None = None):
        super().__init__(config, data_dir, procs, device, similarity)
        objective = Objective(self.model, config.mlm_weight, self.mlm_generator, config.loss,
                              self.published_ratio if config.uses_published_similarity else None)
        if procs.world_size > 1:
            objective = nn.parallel.DistributedDataParallel(
                objective, device_ids=[device.index] if device.type == "cuda" else None)
        self.objective, self.plain_objective = objective, objective.module if procs.world_size > 1 else objective
        self.observed: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------------- training

    def train_epoch(self, epoch: int, label: str | None = None) -> tuple[float, float, dict]:
        """One pass over the training set: (mean loss, seconds, what the mixing used as
        {name: (histogram counts, sum)} for lambda and, LH-Mix, s; empty without mixing). Its progress
        is logged under `label` (default "epoch <epoch>")."""
        config, procs = self.config, self.procs
        mixing_on = config.mixing != "none" and epoch > config.warmup_epochs
        batches = length_batches(self.train_split.lengths, config.batch_size, config.seed, epoch,
                                 min_size=procs.world_size)
        self.model.train()
        loss_sum = torch.zeros(2, dtype=torch.float64, device=self.device)  # sum of losses, examples
        # Losses reach the host (a sync on a GPU) only every `check_every` steps; on the CPU, every step.
        check_every = 1 if self.device.type == "cpu" else GPU_SYNC_EVERY
        unchecked: list[tuple[int, torch.Tensor]] = []
        steps = ProgressLog(label or f"epoch {epoch}", len(batches), "step", enabled=procs.main)
        self.observed = {}
        start = time.perf_counter()
        for step, batch_indices in enumerate(batches, start=1):
            loss, size = self.train_step(batch_indices, mixing_on)
            loss_sum[0] += loss.double() * size
            loss_sum[1] += size
            unchecked.append((step, loss))
            if len(unchecked) >= check_every or step == len(batches):
                last = _check_finite(unchecked, epoch)
                _check_mlm_budget(self.plain_objective, epoch, step)
                unchecked = []
                steps.note = f"loss {last:.4f}"
            steps.advance()
        seconds = time.perf_counter() - start
        steps.finish()
        if procs.world_size > 1:
            dist.all_reduce(loss_sum)
            for name in sorted(self.observed):
                dist.all_reduce(self.observed[name])
        mixing = {name: (values[:-1].tolist(), float(values[-1])) for name, values in self.observed.items()}
        return float(loss_sum[0] / loss_sum[1]), seconds, mixing

    def train_step(self, batch_indices: list[int], mixing_on: bool) -> tuple[torch.Tensor, int]:
        """One optimizer step on this rank's share of a batch: (the loss, on the device, and the
        number of documents). No host synchronisation: the caller checks losses in windows."""
        procs = self.procs
        batch = collate(self.train_split, shard(batch_indices, procs.rank, procs.world_size),
                        self.tokenizer.pad_token_id, self.num_labels).to(self.device)
        perm, lam = self.mixing_inputs(batch.indices) if mixing_on else (None, None)
        # the published similarity: lambda comes from the label sequences inside the objective
        sequences = self.label_sequences.of(batch.indices) if perm is not None and lam is None else None
        with autocast(self.device, self.amp_dtype):
            loss = self.objective(batch.input_ids, batch.attention_mask, batch.targets, perm, lam, sequences)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return loss.detach(), len(batch)

    def mixing_inputs(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The partner of each sample (Mixup generator) and its ratio lambda; lambda None with the published
        similarity, which the objective computes in its forward pass (published_ratio)."""
        config, n = self.config, len(indices)
        # drawn on the host; non_blocking: a GPU step does not wait for the copies
        perm = mixup.permutation(n, self.mix_generator).to(self.device, non_blocking=True)
        if config.mixing == "mixup":
            lam = mixup.beta_ratio(n, config.mixup_beta_a, self.mix_generator).to(self.device, non_blocking=True)
        elif config.mixing == "fixed_lambda":
            lam = mixup.fixed_ratio(n, config.fixed_lambda, self.device)
        elif config.uses_published_similarity:
            return perm, None
        else:
            return perm, self.similarity_ratio(self.similarity.pair_similarity(self.similarity_rows[indices], perm))
        self.observe("lambda", lam)
        return perm, lam

    def similarity_ratio(self, similarity: torch.Tensor) -> torch.Tensor:
        """LH-Mix's lambda of each pair's s (the shuffled control: of another pair's s); both observed."""
        # clamped: rounding puts the s of a sample paired with itself a hair above 1
        similarity = similarity.clamp(0.0, 1.0)
        if self.config.mixing == "lhmix_shuffled":
            similarity = mixup.shuffled(similarity, self.shuffle_generator)
        lam = mixup.lhmix_ratio(similarity, self.config.alpha, self.config.beta)
        self.observe("s", similarity)
        self.observe("lambda", lam)
        return lam

    def published_ratio(self, sequences: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
        """lambda from the published similarity of the batch's label sequences (in the objective's forward)."""
        pad = self.label_sequences.pad_token_id if self.config.label_mask else None
        return self.similarity_ratio(published_similarity.pair_similarity(self.model, sequences, perm, pad))

    def observe(self, name: str, values: torch.Tensor) -> None:
        """Add values to this epoch's histogram of `name` (on the device: no host sync)."""
        if name not in self.observed:
            self.observed[name] = torch.zeros(mixup.HISTOGRAM_BINS + 1, dtype=torch.float64, device=self.device)
        self.observed[name][:-1] += mixup.histogram(values)
        self.observed[name][-1] += values.detach().double().sum()

    # ----------------------------------------------------------------------- evaluation

    @torch.inference_mode()
    def evaluate(self, split: Encoded, keep_predictions: bool = False, desc: str = "dev"
                 ) -> tuple[dict, np.ndarray | None]:
        """F1 on a split, batches sorted by length. With keep_predictions (the best checkpoint): also the
        threshold-free average precision of the scores, and the scores [N, V] in split order (decisions:
        scores > 0)."""
        self.model.eval()
        accumulator = F1Accumulator(self.num_labels)
        scores = np.zeros((len(split), self.num_labels), dtype=np.float32) if keep_predictions else None
        batches = sorted_batches(split.lengths, self.config.eval_batch_size)
        scoring = ProgressLog(f"{self.config.run_name()} {desc} scoring ({len(split):,} documents)",
                              len(batches), "batch")
        for indices in batches:
            batch = collate(split, indices, self.tokenizer.pad_token_id, self.num_labels).to(self.device)
            with autocast(self.device, self.amp_dtype):
                logits = self.model(batch.input_ids, batch.attention_mask).float().cpu().numpy()
            predicted = logits > 0
            accumulator.update(predicted, batch.targets.bool().cpu().numpy())
            if scores is not None:
                scores[indices] = logits
            scoring.advance()
        scoring.finish()
        self.model.train()
        result = accumulator.result(self.hierarchy, self.train_label_counts)
        if scores is not None:
            result.update(average_precision(scores, multi_hot(split.label_lists, self.num_labels), self.hierarchy))
        return result, scores


class Objective(nn.Module):
    """The training loss of one batch, as one module so that DDP sees every parameter use:
    the mean (Mixup-mixed) ZMLCE, plus mlm_weight x HPT's MLM loss from the same forward pass."""

    def __init__(self, model: HTCModel, mlm_weight: float, mlm_generator: torch.Generator, loss_form: str,
                 published_ratio: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
        super().__init__()
        self.model, self.mlm_weight, self.mlm_generator = model, mlm_weight, mlm_generator
        self.published_ratio = published_ratio  # lambda of (label sequences, perm): Session.published_ratio
        self.loss_slices = losses.loss_slices(model.depth_slices, loss_form)
        # Batches (on a GPU) whose MLM positions overflowed their budget; read in the loss checks.
        self.mlm_overflows: torch.Tensor | None = None

    def forward(self, input_ids, attention_mask, targets, perm=None, lam=None, label_sequences=None):
        model, chosen, decoder = self.model, None, None
        if label_sequences is not None:  # before the text's forward pass, as the released code
            lam = self.published_ratio(label_sequences, perm)
        if self.mlm_weight > 0:
            corrupted, chosen = model.corrupt_text(input_ids, attention_mask, self.mlm_generator)
            hidden, decoder = model.encode_tied(corrupted, attention_mask)
        else:
            hidden = model.encode(input_ids, attention_mask)
        states = model.states(hidden)
        if perm is not None:
            states = mixup.mix(states, perm, lam)
        logits = model.scores(states).float()
        loss_fn = functools.partial(losses.zmlce, depth_slices=self.loss_slices)
        per_sample = loss_fn(logits, targets) if perm is None else mixup.mixed_loss(loss_fn, logits, targets, perm, lam)
        loss = per_sample.mean()
        if chosen is not None:
            # On the CPU, boolean indexing costs no wait; on a GPU a fixed budget keeps the step sync-free.
            budget = None if hidden.device.type == "cpu" else mlm_budget(chosen.numel())
            loss = loss + self.mlm_weight * model.mlm_loss(hidden, chosen, input_ids, budget, decoder)
            if budget is not None:
                if self.mlm_overflows is None:
                    self.mlm_overflows = torch.zeros((), dtype=torch.long, device=hidden.device)
                self.mlm_overflows += chosen.sum() > budget
        return loss


class NonFiniteLoss(LhmixError):
    def __init__(self, epoch: int, step: int, value: float):
        super().__init__(f"training loss is {value} at epoch {epoch}, step {step}: stopped "
                         "(lower train.lr, or check the data); no metrics written")


class MlmBudgetExceeded(LhmixError):
    def __init__(self, epoch: int, step: int, batches: int):
        super().__init__(f"MLM loss: in {batches} batch(es) up to epoch {epoch}, step {step}, more positions were "
                         "chosen than the GPU budget (lhmix.model.classifier.mlm_budget) gathers, an event "
                         "of probability below 1e-15 per batch: stopped; no metrics written")


def _check_mlm_budget(objective: Objective, epoch: int, step: int) -> None:
    if objective.mlm_overflows is not None and (batches := int(objective.mlm_overflows)) > 0:
        raise MlmBudgetExceeded(epoch, step, batches)


def _check_finite(losses_: list[tuple[int, torch.Tensor]], epoch: int) -> float:
    """Raise NonFiniteLoss naming the first step whose loss is NaN or inf; else the last loss."""
    values = torch.stack([loss for _, loss in losses_]).float().cpu().tolist()
    for (step, _), value in zip(losses_, values):
        if not math.isfinite(value):
            raise NonFiniteLoss(epoch, step, value)
    return values[-1]
