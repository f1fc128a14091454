"""What one process trains with, set up before the loop (lhmix.training.loop) runs: the tokenised
splits, the model, the optimizer, the random streams (seeded here; why each exists: the loop's
docstring), and their state, saved to and restored from a checkpoint.
"""
from __future__ import annotations

import ctypes
import os
import platform

import numpy as np
import torch
import torch.distributed as dist

from lhmix.core.errors import LhmixError
from lhmix.data.documents import Documents, read_dataset
from lhmix.model.classifier import HTCModel
from lhmix.model.encoders import load_tokenizer
from lhmix.model.published_similarity import LabelSequences
from lhmix.model.similarity_table import SimilarityTable
from lhmix.training.batches import Encoded, train_subset
from lhmix.training.config import TrainConfig
from lhmix.training.devices import Processes, autocast_dtype
from lhmix.training.progress import Progress
from lhmix.training.token_cache import tokenised

# Named random streams, so that no two of them share a seed.
MIX_STREAM, MLM_STREAM, SHUFFLE_STREAM = 1, 2, 3


def cpu_threads(procs: Processes) -> int:
    """torch's CPU threads: OMP_NUM_THREADS where set (the parallel runner gives each worker its share of
    the cores), else the cores divided among this node's torchrun processes."""
    threads = os.environ.get("OMP_NUM_THREADS", "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise LhmixError(f"OMP_NUM_THREADS is {threads!r}: expected a whole number >= 1, or unset")
        return int(threads)
    return max(1, (os.cpu_count() or 1) // procs.local_world_size)


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BLOCKS_BELOW = 32 << 20  # glibc's largest mmap threshold on 64-bit
KEEP_FREE_TOP = 256 << 20


def keep_freed_memory() -> bool:
    """Keep freed blocks below 32 MiB in the process's heap for reuse (glibc only; False elsewhere).

    By default glibc hands large freed blocks back to the operating system (mmap, heap trimming), so a CPU step
    page-faults every vocabulary-sized tensor afresh: measured on the SPLADE-tiny prompt step, ~7,900 page
    faults and 12 ms of system time per step, ~2,900 and 4 ms with this (reports/bench.md). Only where memory
    lives changes, not what is computed."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_BELOW)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                         KEEP_FREE_TOP))


def stream_seed(seed: int, stream: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, stream, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


class SessionSetup:
    """One process's share of a run: data, model, optimizer and random streams, and their state
    (lhmix.training.loop.Session adds the loop)."""

    def __init__(self, config: TrainConfig, data_dir, procs: Processes, device: torch.device,
                 similarity: SimilarityTable | None = None):
        self.config, self.procs, self.device = config, procs, device
        torch.set_num_threads(cpu_threads(procs))
        if device.type == "cpu":
            keep_freed_memory()
        self.amp_dtype = autocast_dtype(device)
        self.hierarchy, splits = read_dataset(data_dir)
        self.tokenizer = load_tokenizer(config.classifier)
        self.train_split = self.encode(train_subset(splits["train"], config.train_fraction))
        if len(self.train_split) < config.batch_size:
            raise LhmixError(f"{data_dir}/train.jsonl: {len(self.train_split)} training documents"
                             + (f" (train_fraction {config.train_fraction:g})" if config.train_fraction != 1 else "")
                             + f", fewer than one batch (train.batch_size = {config.batch_size})")
        self.dev_split = self.encode(splits["dev"])
        self.test_docs: Documents = splits["test"]
        self.num_labels = len(self.hierarchy)
        self.train_label_counts = np.bincount(self.train_split.labels.values, minlength=self.num_labels)

        torch.manual_seed(config.seed)
        self.model = HTCModel.create(config.family, config.classifier, self.hierarchy, self.tokenizer,
                                     head=config.head or "mlm", mlm_loss=config.mlm_weight > 0,
                                     graph=config.graph or "none").to(device)
        # Figure 6 compares the label words before and after training (prompt family).
        self.initial_label_words = (self.model.label_words.detach().cpu().clone()
                                    if config.family == "prompt" else None)
        self.mix_generator = torch.Generator().manual_seed(stream_seed(config.seed, MIX_STREAM, procs.rank))
        self.mlm_generator = torch.Generator().manual_seed(stream_seed(config.seed, MLM_STREAM, procs.rank))
        self.shuffle_generator = torch.Generator().manual_seed(stream_seed(config.seed, SHUFFLE_STREAM, procs.rank))
        # Adam's update in one fused kernel: on 2 CPU cores 15 ms instead of 76 ms per MiniLM step.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, fused=True)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

        self.similarity, self.similarity_rows, self.label_sequences = similarity, None, None
        if config.uses_published_similarity:  # s from the classifier's own encoder (lhmix.model.published_similarity)
            self.label_sequences = LabelSequences.build(
                self.tokenizer, self.hierarchy, self.train_split.label_lists, config.label_length,
                self.model.encoder.config.max_position_embeddings).to(device)
        elif config.uses_similarity:
            if similarity is None:
                raise LhmixError(f"{config.variant} needs a similarity table (stages/similarity.py)")
            similarity.vectors = similarity.vectors.to(device)
            self.similarity_rows = similarity.rows(self.train_split.label_lists).to(device)

    def encode(self, docs: Documents) -> Encoded:
        return Encoded.build(docs, tokenised(self.tokenizer, docs.texts, self.config.family,
                                             self.hierarchy.depth, self.config.max_length))

    def rng_state(self) -> dict:
        return {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "mix": self.mix_generator.get_state(), "mlm": self.mlm_generator.get_state(),
                "shuffle": self.shuffle_generator.get_state()}

    def gather_rng_states(self) -> list[dict]:
        """Every rank's random streams (a collective under DDP)."""
        if self.procs.world_size == 1:
            return [self.rng_state()]
        states = [None] * self.procs.world_size
        dist.all_gather_object(states, self.rng_state())
        return states

    def training_state(self, rng_states: list[dict]) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": None if self.scaler is None else self.scaler.state_dict(), "rng": rng_states}

    def restore(self, state: dict) -> None:
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
        self.shuffle_generator.set_state(rng["shuffle"])

    def broadcast(self, progress: Progress) -> Progress:
        """Rank 0's progress, on every rank (the others do not evaluate)."""
        if self.procs.world_size == 1:
            return progress
        box = [progress]
        dist.broadcast_object_list(box, src=0)
        return box[0]
