"""Where a run computes: the device, the torchrun process group, mixed precision.

CUDA when present (bf16 autocast where supported, else fp16 with a GradScaler), else the CPU in
fp32 with one thread per core. Launched under torchrun, each process takes a shard of every batch
(DistributedDataParallel; gloo on CPU, nccl on CUDA) and rank 0 evaluates and writes.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

import torch
import torch.distributed as dist

from lhmix.core.errors import ParamError

# Ranks other than 0 wait while rank 0 evaluates; on CPU a big dev set takes long.
COLLECTIVE_TIMEOUT = timedelta(hours=6)


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


def device_name(device: torch.device) -> str:
    """What a run trained on, for its metrics and the report: the GPU's name, or the CPU and its threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu, {torch.get_num_threads()} threads"


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
