"""The one training loop of all six variants, and the warm-up it can start from.

A variant is a family (`bert`: [CLS] head; `prompt`: hierarchical prompt) and a mixing (`none`,
`mixup`: lambda ~ Beta(a, a); `lhmix`: lambda from the local-hierarchy similarity), e.g.
`prompt_lhmix`; `bert` is short for `bert_none`.

One epoch: length-aware batches from (seed, epoch) (lhmix.data), Adam on the mean ZMLCE loss
(plus mlm_weight x the MLM loss), Mixup from epoch warmup_epochs + 1 on; then dev micro/macro-F1,
early stopping on dev macro-F1 with `patience`, and a checkpoint. After the last epoch the best
dev checkpoint scores the test set.

Reproducibility. Every random number comes from a stream that is saved in the checkpoints:
the global torch RNG (initialisation, dropout), a Mixup generator (permutations, Beta draws) and
an MLM-masking generator; batch order comes from (seed, epoch) alone. Mixup draws nothing before
it starts, so every variant of a family reaches the same state at the end of warm-up: `warmup()`
computes that state once and `train(..., warm_start=FILE)` continues from it with exactly the
result of a run from scratch. A killed run started again resumes from `last.pt` (when the run's
settings fingerprint matches) and ends with the metrics of an uninterrupted run.

Outputs of `train()` in `out_dir`: metrics.json, predictions.npz (test decisions, bit-packed rows
in test.jsonl order, with the document ids) and live/ (dvclive curves: train loss, dev F1 per
epoch). Checkpoints live in `checkpoint_dir` (outside the DVC outs, which DVC deletes before a
stage runs): best.pt (the model that scored test) stays, the resume state last.pt is removed once
the outputs are written, unless keep_checkpoints.

Devices: CUDA when present (bf16 autocast where supported, else fp16 with a GradScaler), else
CPU in fp32 with one thread per core. Launched under torchrun, each process takes a shard of
every batch (DistributedDataParallel; gloo on CPU, nccl on CUDA) and rank 0 evaluates and writes.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import shutil
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from lhmix import losses, mixup
from lhmix.contract import write_json
from lhmix.data import (Encoded, collate, length_batches, read_dataset, shard, sorted_batches,
                        train_subset)
from lhmix.encoders import load_tokenizer
from lhmix.errors import LhmixError, ParamError
from lhmix.files import replaced_on_success
from lhmix.metrics import F1Accumulator
from lhmix.models import HEADS, HTCModel, build_inputs

FAMILIES = ("bert", "prompt")
MIXINGS = ("none", "mixup", "lhmix")
VARIANTS = tuple(family if mixing == "none" else f"{family}_{mixing}"
                 for family in FAMILIES for mixing in MIXINGS)
DEVICES = ("auto", "cpu", "cuda")
WARMUP_KIND = "lhmix-warmup-state"
# Named random streams, so that no two of them share a seed.
MIX_STREAM, MLM_STREAM = 1, 2
# On a GPU, losses are copied to the host (a synchronisation) once per this many steps.
GPU_SYNC_EVERY = 50
# Ranks other than 0 wait while rank 0 evaluates; on CPU a big dev set takes long.
COLLECTIVE_TIMEOUT = timedelta(hours=6)


class NonFiniteLoss(LhmixError):
    def __init__(self, epoch: int, step: int, value: float):
        super().__init__(f"training loss is {value} at epoch {epoch}, step {step}: stopped "
                         "(lower train.lr, or check the data); no metrics written")


def parse_variant(name: str) -> tuple[str, str]:
    """'prompt_lhmix' -> ('prompt', 'lhmix'); 'bert' and 'bert_none' -> ('bert', 'none')."""
    family, _, mixing = str(name).partition("_")
    mixing = mixing or "none"
    if family not in FAMILIES or mixing not in MIXINGS:
        raise ParamError("variant", name, f"one of {', '.join(VARIANTS)} (or <family>_none)")
    return family, mixing


@dataclass(frozen=True)
class TrainConfig:
    variant: str
    seed: int
    classifier: str = "minilm"  # encoder name, see lhmix.encoders
    max_length: int = 64
    batch_size: int = 16
    eval_batch_size: int = 128
    lr: float = 3e-5
    warmup_epochs: int = 2
    max_epochs: int = 4
    patience: int = 5
    mixup_beta_a: float = 1.0
    mlm_weight: float = 0.0
    device: str = "auto"
    head: str = "mlm"  # prompt family: scores through the MLM transform (mlm) or not (linear)
    train_fraction: float = 1.0
    alpha: float | None = None  # LH-Mix only
    beta: float | None = None

    def __post_init__(self):
        family, mixing = parse_variant(self.variant)
        object.__setattr__(self, "variant", family if mixing == "none" else f"{family}_{mixing}")
        for name in ("batch_size", "eval_batch_size", "max_epochs", "patience"):
            if getattr(self, name) < 1:
                raise ParamError(f"train.{name}", getattr(self, name), "an integer >= 1")
        if not 0 <= self.warmup_epochs <= self.max_epochs:
            raise ParamError("train.warmup_epochs", self.warmup_epochs,
                             f"an integer in 0..train.max_epochs ({self.max_epochs})")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ParamError("train.lr", self.lr, "a number > 0")
        if not (math.isfinite(self.mlm_weight) and self.mlm_weight >= 0):
            raise ParamError("train.mlm_weight", self.mlm_weight, "a number >= 0")
        if self.head not in HEADS and not (family == "bert" and self.head == "cls"):
            raise ParamError("model.head", self.head, f"one of {', '.join(HEADS)}")
        if family == "bert":  # [CLS] classifier, no MLM loss (the papers' BERT rows): both mean nothing
            object.__setattr__(self, "head", "cls")
            object.__setattr__(self, "mlm_weight", 0.0)
        if self.device not in DEVICES:
            raise ParamError("train.device", self.device, f"one of {', '.join(DEVICES)}")
        if not 0 < self.train_fraction <= 1:
            raise ParamError("train_fraction", self.train_fraction, "a number in (0, 1]")
        if not (math.isfinite(self.mixup_beta_a) and self.mixup_beta_a > 0):
            raise ParamError("train.mixup_beta_a", self.mixup_beta_a, "a number > 0")
        if mixing == "lhmix":
            for name in ("alpha", "beta"):
                if getattr(self, name) is None:
                    raise ParamError(name, None, f"a number (required by {self.variant}: --{name})")
            alpha, beta = mixup.check_ratio_params(self.alpha, self.beta)
            object.__setattr__(self, "alpha", alpha)
            object.__setattr__(self, "beta", beta)
        else:  # the ratio parameters mean nothing here: keep them out of names and fingerprints
            object.__setattr__(self, "alpha", None)
            object.__setattr__(self, "beta", None)

    @property
    def family(self) -> str:
        return parse_variant(self.variant)[0]

    @property
    def mixing(self) -> str:
        return parse_variant(self.variant)[1]

    @classmethod
    def from_params(cls, params: dict, variant: str, seed, train_fraction=1.0,
                    alpha=None, beta=None) -> "TrainConfig":
        """From params.yaml (`train:` and `encoder.classifier`), casting what YAML and dvc wrote."""
        train = dict(params.get("train") or {})
        known = {f.name for f in fields(cls)} - {"variant", "seed", "classifier", "train_fraction",
                                                 "alpha", "beta", "head"}
        unknown = sorted(set(train) - known)
        if unknown:
            raise ParamError(f"train.{unknown[0]}", train[unknown[0]],
                             f"no such parameter; known: {', '.join(sorted(known))}")
        values = {}
        for f in fields(cls):
            if f.name in known and f.name in train:
                values[f.name] = _cast(f"train.{f.name}", train[f.name], type(f.default))
        classifier = (params.get("encoder") or {}).get("classifier", cls.classifier)
        head = (params.get("model") or {}).get("head", cls.head)
        return cls(variant=variant, seed=_cast("seed", seed, int), classifier=str(classifier), head=str(head),
                   train_fraction=_cast("train_fraction", train_fraction, float),
                   alpha=None if alpha is None else _cast("alpha", alpha, float),
                   beta=None if beta is None else _cast("beta", beta, float), **values)

    def run_name(self) -> str:
        """A readable folder name for this run's checkpoints."""
        name = f"{self.variant}-s{self.seed}"
        if self.train_fraction != 1:
            name += f"-f{self.train_fraction:g}"
        if self.mixing == "lhmix":
            name += f"-a{self.alpha:g}-b{self.beta:g}"
        return name

    def warmup_name(self) -> str:
        name = f"warmup-{self.family}-s{self.seed}"
        return name + (f"-f{self.train_fraction:g}" if self.train_fraction != 1 else "")


def _cast(name: str, value, kind: type):
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ParamError(name, value, f"a{'n integer' if kind is int else ' number'}") from None


# --------------------------------------------------------------------------- processes and devices

@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


@contextlib.contextmanager
def processes(device: torch.device) -> Iterator[Processes]:
    """The torchrun process group, if launched under torchrun with more than one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        yield Processes()
        return
    started = not dist.is_initialized()
    if started:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT)
    try:
        yield Processes(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                        int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size))))
    finally:
        if started:
            dist.destroy_process_group()


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamError("train.device", name, "'auto' or 'cpu': no CUDA device is available")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return device


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- run state

@dataclass
class Progress:
    """Everything about a run's course that is not a tensor; saved in every checkpoint."""
    epoch: int = 0  # last finished epoch
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_dev_macro_f1: float = -1.0
    best_dev_micro_f1: float = -1.0
    stopped_early: bool = False
    train_seconds: float = 0.0
    train_examples: int = 0
    # What the mixing used, over every mixed sample of the run: {"lambda" | "s": {"counts", "sum"}}
    mixing: dict = field(default_factory=dict)

    def record(self, epoch: int, train_loss: float, dev: dict, seconds: float, examples: int,
               patience: int) -> bool:
        """Add a finished epoch; True when dev macro-F1 improved (a new best checkpoint)."""
        self.epoch = epoch
        self.history.append({"epoch": epoch, "train_loss": train_loss,
                             "dev_micro_f1": dev["micro_f1"], "dev_macro_f1": dev["macro_f1"]})
        self.train_seconds += seconds
        self.train_examples += examples
        improved = dev["macro_f1"] > self.best_dev_macro_f1
        if improved:
            self.best_epoch = epoch
            self.best_dev_macro_f1, self.best_dev_micro_f1 = dev["macro_f1"], dev["micro_f1"]
        self.stopped_early = epoch - self.best_epoch >= patience
        return improved

    def add_mixing(self, observed: dict[str, tuple[list[float], float]]) -> None:
        for name, (counts, total) in observed.items():
            kept = self.mixing.setdefault(name, {"counts": [0.0] * len(counts), "sum": 0.0})
            kept["counts"] = [a + b for a, b in zip(kept["counts"], counts)]
            kept["sum"] += total

    @property
    def stop_reason(self) -> str:
        return "early_stopping" if self.stopped_early else "epoch_cap"


class Objective(nn.Module):
    """The training loss of one batch, as one module so that DDP sees every parameter use:
    the mean (Mixup-mixed) ZMLCE, plus mlm_weight x HPT's MLM loss from the same forward pass."""

    def __init__(self, model: HTCModel, mlm_weight: float, mlm_generator: torch.Generator):
        super().__init__()
        self.model = model
        self.mlm_weight = mlm_weight
        self.mlm_generator = mlm_generator

    def forward(self, input_ids, attention_mask, targets, perm=None, lam=None):
        model = self.model
        chosen = None
        if self.mlm_weight > 0:
            corrupted, chosen = model.corrupt_text(input_ids, attention_mask, self.mlm_generator)
            hidden = model.encode(corrupted, attention_mask)
        else:
            hidden = model.encode(input_ids, attention_mask)
        states = model.states(hidden)
        if perm is not None:
            states = mixup.mix(states, perm, lam)
        logits = model.scores(states).float()
        loss_fn = functools.partial(losses.zmlce, depth_slices=model.depth_slices)
        if perm is None:
            per_sample = loss_fn(logits, targets)
        else:
            per_sample = mixup.mixed_loss(loss_fn, logits, targets, perm, lam)
        loss = per_sample.mean()
        if chosen is not None:
            loss = loss + self.mlm_weight * model.mlm_loss(hidden, chosen, input_ids)
        return loss


def _check_finite(losses: list[tuple[int, torch.Tensor]], epoch: int) -> float:
    """Raise NonFiniteLoss naming the first step whose loss is NaN or inf; else the last loss."""
    values = torch.stack([loss for _, loss in losses]).float().cpu().tolist()
    for (step, _), value in zip(losses, values):
        if not math.isfinite(value):
            raise NonFiniteLoss(epoch, step, value)
    return values[-1]


def _stream_seed(seed: int, stream: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, stream, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


def file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _save(obj, path: Path) -> None:
    """torch.save via a temporary file: a kill mid-write never leaves a broken checkpoint."""
    with replaced_on_success(path) as temporary:
        torch.save(obj, temporary)


def _load(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- the session

class Session:
    """One process's share of a run: data, model, optimizer, random streams, checkpoints."""

    def __init__(self, config: TrainConfig, data_dir: Path, checkpoint_dir: Path, procs: Processes,
                 device: torch.device, similarity_path: Path | None = None, live_dir: Path | None = None):
        self.config, self.procs, self.device = config, procs, device
        self.checkpoint_dir, self.live_dir = Path(checkpoint_dir), live_dir
        self.data_dir = Path(data_dir)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // procs.local_world_size))
        self.amp_dtype = None
        if device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

        self.hierarchy, splits = read_dataset(self.data_dir)
        self.tokenizer = load_tokenizer(config.classifier)
        self.train_split = self.encode(train_subset(splits["train"], config.train_fraction))
        self.dev_split = self.encode(splits["dev"])
        self.test_docs = splits["test"]
        if len(self.train_split) == 0 or len(self.dev_split) == 0:
            raise LhmixError(f"{self.data_dir}: train and dev must not be empty")
        self.num_labels = len(self.hierarchy)
        self.train_label_counts = np.bincount(self.train_split.labels.values, minlength=self.num_labels)

        torch.manual_seed(config.seed)
        self.model = HTCModel.create(config.family, config.classifier, self.hierarchy, self.tokenizer,
                                     head=config.head if config.family == "prompt" else "mlm",
                                     mlm_loss=config.mlm_weight > 0).to(device)
        self.mix_generator = torch.Generator().manual_seed(_stream_seed(config.seed, MIX_STREAM, procs.rank))
        self.mlm_generator = torch.Generator().manual_seed(_stream_seed(config.seed, MLM_STREAM, procs.rank))
        objective = Objective(self.model, config.mlm_weight, self.mlm_generator)
        if procs.world_size > 1:
            objective = nn.parallel.DistributedDataParallel(
                objective, device_ids=[device.index] if device.type == "cuda" else None)
        self.objective = objective
        # Adam's update in one fused kernel: on 2 CPU cores 15 ms instead of 76 ms per MiniLM step.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, fused=True)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

        self.similarity_rows = self.similarity_table = None
        similarity_digest = None
        if config.mixing == "lhmix":
            from lhmix.similarity import SimilarityTable

            if similarity_path is None:
                raise LhmixError(f"{config.variant} needs a similarity table (stages/similarity.py)")
            self.similarity_table = SimilarityTable.load(similarity_path)
            self.similarity_table.vectors = self.similarity_table.vectors.to(device)
            self.similarity_rows = self.similarity_table.rows(self.train_split.label_lists).to(device)
            similarity_digest = file_digest(Path(similarity_path))

        self.warmup_settings = {
            "family": config.family, "seed": config.seed, "classifier": config.classifier,
            "max_length": config.max_length, "batch_size": config.batch_size,
            "eval_batch_size": config.eval_batch_size, "lr": config.lr,
            "warmup_epochs": config.warmup_epochs, "patience": config.patience,
            "mlm_weight": config.mlm_weight, "head": config.head, "train_fraction": config.train_fraction,
            "world_size": procs.world_size,
            "data": file_digest(*(self.data_dir / name for name in ("labels.json", "train.jsonl", "dev.jsonl"))),
        }
        self.settings = {**self.warmup_settings, "variant": config.variant, "max_epochs": config.max_epochs,
                         "mixup_beta_a": config.mixup_beta_a, "alpha": config.alpha, "beta": config.beta,
                         "similarity": similarity_digest}

    def encode(self, docs) -> Encoded:
        return Encoded.build(docs, build_inputs(self.tokenizer, docs.texts, self.config.family,
                                                self.hierarchy.depth, self.config.max_length))

    @property
    def last_path(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.checkpoint_dir / "best.pt"

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ----------------------------------------------------------------------- training

    def fit(self, progress: Progress, last_epoch: int,
            on_epoch_end: Callable[[int], None] | None = None) -> Progress:
        """Train epochs progress.epoch + 1 .. last_epoch, unless early stopping says stop."""
        while progress.epoch < last_epoch and not progress.stopped_early:
            epoch = progress.epoch + 1
            train_loss, seconds, mixing = self.train_epoch(epoch)
            rng_states = self.gather_rng_states()
            if self.procs.main:
                progress.add_mixing(mixing)
                dev = self.evaluate(self.dev_split)[0]
                if progress.record(epoch, train_loss, dev, seconds, len(self.train_split), self.config.patience):
                    _save(self.model.state_dict(), self.best_path)
                _save(self.state(progress, rng_states), self.last_path)
                self.write_curves(progress)
                log(f"epoch {epoch}: train loss {train_loss:.4f}, dev micro-F1 {dev['micro_f1']:.4f} "
                    f"macro-F1 {dev['macro_f1']:.4f}, {len(self.train_split) / seconds:.1f} examples/s"
                    + (" (best)" if progress.best_epoch == epoch else "")
                    + (", early stop" if progress.stopped_early else ""))
            progress = self.broadcast(progress)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
        return progress

    def train_epoch(self, epoch: int) -> tuple[float, float, dict]:
        """One pass over the training set; returns (mean loss, seconds, what the mixing used:
        {name: (histogram counts, sum)} for lambda and, LH-Mix, s; empty without mixing)."""
        config, procs = self.config, self.procs
        mixing_on = config.mixing != "none" and epoch > config.warmup_epochs
        batches = length_batches(self.train_split.lengths, config.batch_size, config.seed, epoch,
                                 min_size=procs.world_size)
        self.model.train()
        loss_sum = torch.zeros(2, dtype=torch.float64, device=self.device)  # sum of losses, examples
        # Losses reach the host (a sync on a GPU) only every `check_every` steps; on the CPU, every step.
        check_every = 1 if self.device.type == "cpu" else GPU_SYNC_EVERY
        unchecked: list[tuple[int, torch.Tensor]] = []
        bar = tqdm(total=len(self.train_split), desc=f"epoch {epoch}", unit="ex", leave=False,
                   disable=None if procs.main else True, mininterval=1.0, dynamic_ncols=True)
        self.observed = {}
        start = time.perf_counter()
        for step, batch_indices in enumerate(batches, start=1):
            loss, size = self.train_step(batch_indices, mixing_on)
            loss_sum[0] += loss.double() * size
            loss_sum[1] += size
            unchecked.append((step, loss))
            bar.update(len(batch_indices))
            if len(unchecked) >= check_every or step == len(batches):
                last = _check_finite(unchecked, epoch)
                unchecked = []
                bar.set_postfix(loss=f"{last:.4f}", refresh=False)
        seconds = time.perf_counter() - start
        bar.close()
        if procs.world_size > 1:
            dist.all_reduce(loss_sum)
            for name in sorted(self.observed):
                dist.all_reduce(self.observed[name])
        mixing = {name: (values[:-1].tolist(), float(values[-1])) for name, values in self.observed.items()}
        return float(loss_sum[0] / loss_sum[1]), seconds, mixing

    def train_step(self, batch_indices: list[int], mixing_on: bool) -> tuple[torch.Tensor, int]:
        """One optimizer step on this rank's share of a batch; returns (the loss, on the device, and
        the number of documents). No host synchronisation: the caller checks losses in windows."""
        procs = self.procs
        batch = collate(self.train_split, shard(batch_indices, procs.rank, procs.world_size),
                        self.tokenizer.pad_token_id, self.num_labels).to(self.device)
        perm, lam = self.mixing_inputs(batch.indices) if mixing_on else (None, None)
        with self.autocast():
            loss = self.objective(batch.input_ids, batch.attention_mask, batch.targets, perm, lam)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return loss.detach(), len(batch)

    def mixing_inputs(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The partner of each sample and its ratio lambda, from the Mixup generator only."""
        n = len(indices)
        perm = mixup.permutation(n, self.mix_generator).to(self.device)
        if self.config.mixing == "mixup":
            lam = mixup.beta_ratio(n, self.config.mixup_beta_a, self.mix_generator).to(self.device)
        else:
            similarity = self.similarity_table.pair_similarity(self.similarity_rows[indices], perm)
            lam = mixup.lhmix_ratio(similarity, self.config.alpha, self.config.beta)
            self.observe("s", similarity)
        self.observe("lambda", lam)
        return perm, lam

    def observe(self, name: str, values: torch.Tensor) -> None:
        """Add values to this epoch's histogram of `name` (on the device: no host sync)."""
        if name not in self.observed:
            self.observed[name] = torch.zeros(mixup.HISTOGRAM_BINS + 1, dtype=torch.float64, device=self.device)
        self.observed[name][:-1] += mixup.histogram(values)
        self.observed[name][-1] += values.detach().double().sum()

    @torch.inference_mode()
    def evaluate(self, split: Encoded, keep_predictions: bool = False) -> tuple[dict, np.ndarray | None]:
        """F1 on a split, batches sorted by length; optionally the bit-packed decisions in split order."""
        self.model.eval()
        accumulator = F1Accumulator(self.num_labels)
        packed = np.zeros((len(split), (self.num_labels + 7) // 8), dtype=np.uint8) if keep_predictions else None
        for indices in sorted_batches(split.lengths, self.config.eval_batch_size):
            batch = collate(split, indices, self.tokenizer.pad_token_id, self.num_labels).to(self.device)
            with self.autocast():
                predicted = (self.model(batch.input_ids, batch.attention_mask) > 0).cpu().numpy()
            accumulator.update(predicted, batch.targets.bool().cpu().numpy())
            if packed is not None:
                packed[indices] = np.packbits(predicted, axis=1)
        self.model.train()
        return accumulator.result(self.hierarchy, self.train_label_counts), packed

    # ----------------------------------------------------------------------- state

    def rng_state(self) -> dict:
        return {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "mix": self.mix_generator.get_state(), "mlm": self.mlm_generator.get_state()}

    def gather_rng_states(self) -> list[dict]:
        """Every rank's random streams (a collective under DDP)."""
        if self.procs.world_size == 1:
            return [self.rng_state()]
        states = [None] * self.procs.world_size
        dist.all_gather_object(states, self.rng_state())
        return states

    def broadcast(self, progress: Progress) -> Progress:
        if self.procs.world_size == 1:
            return progress
        box = [progress]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def state(self, progress: Progress, rng_states: list[dict]) -> dict:
        return {"settings": self.settings, "warmup_settings": self.warmup_settings,
                "progress": asdict(progress), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": None if self.scaler is None else self.scaler.state_dict(), "rng": rng_states}

    def restore(self, state: dict) -> Progress:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        rng = state["rng"][self.procs.rank]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        self.mix_generator.set_state(rng["mix"])
        self.mlm_generator.set_state(rng["mlm"])
        return Progress(**state["progress"])

    def resume(self) -> Progress | None:
        """The progress of last.pt when it belongs to this very run, else None (start afresh)."""
        if not self.last_path.is_file():
            return None
        state = _load(self.last_path)
        if state.get("settings") != self.settings:
            if self.procs.main:
                log(f"{self.last_path}: made with other settings; starting afresh")
            return None
        progress = self.restore(state)
        if self.procs.main:
            log(f"resuming from {self.last_path} after epoch {progress.epoch}")
        return progress

    def start_from_warmup(self, path: Path) -> Progress:
        """Continue from a warm-up state file; its settings must be this run's warm-up settings."""
        path = Path(path)
        if not path.is_file():
            raise LhmixError(f"warm-up state {path} not found: run stages/warmup.py first")
        state = _load(path)
        if state.get("kind") != WARMUP_KIND:
            raise LhmixError(f"{path}: not a warm-up state written by stages/warmup.py")
        theirs = state["warmup_settings"]
        differing = sorted(key for key in set(theirs) | set(self.warmup_settings)
                           if theirs.get(key) != self.warmup_settings.get(key))
        if differing:
            listed = ", ".join(f"{key}: {theirs.get(key)!r} there, {self.warmup_settings.get(key)!r} here"
                               for key in differing)
            raise LhmixError(f"warm-up state {path} does not match this run ({listed}); re-run the warm-up")
        progress = self.restore(state)
        if self.procs.main and progress.best_epoch > 0:
            best = state["best_model"] if state["best_model"] is not None else state["model"]
            _save(best, self.best_path)
        return progress

    def warmup_state(self, progress: Progress, rng_states: list[dict]) -> dict:
        state = self.state(progress, rng_states)
        state["kind"] = WARMUP_KIND
        # The best model is stored only when it is not the last one (saves a model's size).
        keep_best = 0 < progress.best_epoch < progress.epoch
        state["best_model"] = _load(self.best_path) if keep_best else None
        return state

    # ----------------------------------------------------------------------- outputs

    def write_curves(self, progress: Progress) -> None:
        """dvclive curves of the whole history (the warm-up's epochs included), rewritten each epoch."""
        if self.live_dir is None:
            return
        from dvclive import Live

        with Live(str(self.live_dir), report=None, save_dvc_exp=False, dvcyaml=False) as live:
            for entry in progress.history:
                live.step = entry["epoch"]
                for name in ("train_loss", "dev_micro_f1", "dev_macro_f1"):
                    split, metric = name.split("_", 1)
                    live.log_metric(f"{split}/{metric}", entry[name])

    def score_test(self, progress: Progress) -> tuple[dict, Encoded, np.ndarray]:
        self.model.load_state_dict(torch.load(self.best_path, map_location=self.device, weights_only=True))
        test_split = self.encode(self.test_docs)
        result, packed = self.evaluate(test_split, keep_predictions=True)
        config = self.config
        metrics = {
            **result,
            "dataset": self.data_dir.name, "variant": config.variant, "seed": config.seed,
            "alpha": config.alpha, "beta": config.beta, "train_fraction": config.train_fraction,
            "encoder": config.classifier, "train_docs": len(self.train_split),
            "best_epoch": progress.best_epoch, "epochs_run": progress.epoch,
            "stopped_early": progress.stopped_early, "stop_reason": progress.stop_reason,
            **{name: mixup.histogram_summary(kept["counts"], kept["sum"]) for name, kept in progress.mixing.items()},
            "dev_micro_f1": progress.best_dev_micro_f1, "dev_macro_f1": progress.best_dev_macro_f1,
            "train_seconds": round(progress.train_seconds, 3),
            "examples_per_second": round(progress.train_examples / max(progress.train_seconds, 1e-9), 3),
            "world_size": self.procs.world_size,
            "history": progress.history,
        }
        return metrics, test_split, packed


def write_predictions(path: Path, ids: list[str], packed: np.ndarray, num_labels: int) -> None:
    """predictions.npz: `packed` (uint8 [N, ceil(V/8)], np.packbits of the bool decisions per row;
    unpack with np.unpackbits(packed, axis=1, count=num_labels)), `ids`, `num_labels`.
    Written with fixed zip timestamps so that equal predictions give equal bytes."""
    arrays = {"packed": packed, "ids": np.array(ids, dtype=str), "num_labels": np.array(num_labels)}
    with replaced_on_success(path) as temporary, \
            zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as handle:
                np.lib.format.write_array(handle, np.asarray(array, order="C"), allow_pickle=False)


# --------------------------------------------------------------------------- entry points

def train(config: TrainConfig, data_dir: str | Path, out_dir: str | Path, checkpoint_dir: str | Path,
          similarity_path: str | Path | None = None, warm_start: str | Path | None = None,
          on_epoch_end: Callable[[int], None] | None = None, keep_checkpoints: bool = False) -> dict | None:
    """Train one run and score test with its best dev checkpoint; returns the metrics (rank 0).

    Resumes from checkpoint_dir/last.pt when it belongs to this run; else starts from the
    warm-up state `warm_start` if given; else from scratch. All three end with the same metrics.
    """
    out_dir, checkpoint_dir = Path(out_dir), Path(checkpoint_dir)
    device = resolve_device(config.device)
    with processes(device) as procs:
        session = Session(config, Path(data_dir), checkpoint_dir, procs, device,
                          similarity_path=None if similarity_path is None else Path(similarity_path),
                          live_dir=out_dir / "live")
        progress = session.resume()
        if progress is None:
            progress = session.start_from_warmup(Path(warm_start)) if warm_start else Progress()
        progress = session.fit(progress, config.max_epochs, on_epoch_end)
        if not procs.main:
            return None
        session.write_curves(progress)
        metrics, test_split, packed = session.score_test(progress)
        write_predictions(out_dir / "predictions.npz", test_split.ids, packed, session.num_labels)
        write_json(metrics, out_dir / "metrics.json")
        log(f"{config.variant} seed {config.seed}: test micro-F1 {metrics['micro_f1']:.4f} "
            f"macro-F1 {metrics['macro_f1']:.4f} (best epoch {progress.best_epoch}); wrote {out_dir}")
        if not keep_checkpoints:  # best.pt stays: the run's model, outside git and DVC
            session.last_path.unlink(missing_ok=True)
        return metrics


def warmup(config: TrainConfig, data_dir: str | Path, out_file: str | Path, checkpoint_dir: str | Path,
           on_epoch_end: Callable[[int], None] | None = None, keep_checkpoints: bool = False) -> None:
    """Train the first warmup_epochs epochs (no Mixup) of a family and save the full state to out_file."""
    if config.mixing != "none":
        raise ParamError("family", config.variant, f"one of {', '.join(FAMILIES)} (the warm-up has no Mixup)")
    out_file, checkpoint_dir = Path(out_file), Path(checkpoint_dir)
    device = resolve_device(config.device)
    with processes(device) as procs:
        session = Session(config, Path(data_dir), checkpoint_dir, procs, device)
        progress = session.resume() or Progress()
        progress = session.fit(progress, config.warmup_epochs, on_epoch_end)
        rng_states = session.gather_rng_states()
        if procs.main:
            _save(session.warmup_state(progress, rng_states), out_file)
            log(f"warm-up {config.family} seed {config.seed}: {progress.epoch} epochs; wrote {out_file}")
            if not keep_checkpoints:
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
