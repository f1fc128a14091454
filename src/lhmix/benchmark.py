"""Measurements behind `make bench` and `make gpu-check`: step time per variant, model FLOP utilisation
against the matmul peak measured in the same process on the same device (fp32 on a CPU, the autocast
dtype on a GPU), padding, similarity precomputation, evaluation throughput.

Timings are medians of several steps after warm-up, variants interleaved round by round so that a
shared, noisy machine slows them alike; compare them as ratios within one run. On a GPU every timed
interval starts and ends with a synchronisation, so it times the work and not the kernel launches.
"""
from __future__ import annotations

import statistics
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from lhmix.model import losses as losses_module
from lhmix.training.batches import Encoded, collate, length_batches, sorted_batches


def synchronise(device: torch.device | str = "cpu") -> None:
    """Wait for the device's queued work (nothing to wait for on a CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(function, repeats: int, device: torch.device | str = "cpu") -> float:
    times = []
    for _ in range(repeats):
        synchronise(device)
        start = time.perf_counter()
        function()
        synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(shapes: list[tuple[int, int, int]], dtype=torch.float32, repeats: int = 7,
                device: torch.device | str = "cpu") -> dict:
    """GFLOP/s of torch.matmul for [m,k] @ [k,n] per shape on `device`; the peak is the best of them."""
    by_shape = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, dtype=dtype, device=device)
        b = torch.randn(k, n, dtype=dtype, device=device)
        torch.matmul(a, b)  # first call allocates
        seconds = median_seconds(lambda: torch.matmul(a, b), repeats, device)
        by_shape[f"{m}x{k}x{n}"] = round(2 * m * k * n / seconds / 1e9, 3)
    return {"dtype": str(dtype).removeprefix("torch."), "device": str(device),
            "gflops_by_shape": by_shape, "peak_gflops": max(by_shape.values())}


def forward_flops(encoder_config, batch_size: int, length: int, num_labels: int, transformed_states: int = 0,
                  mlm_positions: float = 0.0) -> float:
    """Matmul FLOPs of one forward pass over a padded [batch_size, length] batch.

    Per layer and token: Q, K, V and output projections (4 H^2 multiply-adds) and the feed-forward
    block (2 H I); per layer and sequence: attention scores and their weighted sum (2 L^2 H). The
    embedding table is a lookup, not a matmul. The label head scores each label once per document
    (an H-vector product with the [MASK] state of its depth, or with [CLS]), after the MLM transform
    (H^2) for each of the `transformed_states`; HPT's MLM loss scores `mlm_positions` positions
    through the transform and the whole vocabulary (H^2 + H V each).
    """
    hidden, inner = encoder_config.hidden_size, encoder_config.intermediate_size
    per_layer = (batch_size * length * (4 * hidden * hidden + 2 * hidden * inner)
                 + batch_size * 2 * length * length * hidden)
    head = batch_size * num_labels * hidden + transformed_states * hidden * hidden
    mlm = mlm_positions * (hidden * hidden + hidden * encoder_config.vocab_size)
    return 2.0 * (encoder_config.num_hidden_layers * per_layer + head + mlm)


def training_flops(encoder_config, batch_size: int, length: int, num_labels: int, transformed_states: int = 0,
                   mlm_positions: float = 0.0) -> float:
    """Forward + backward = 3 x forward."""
    return 3.0 * forward_flops(encoder_config, batch_size, length, num_labels, transformed_states, mlm_positions)


def padding_share(lengths: np.ndarray, batches: list[list[int]], pad_to: int | None = None) -> float:
    """Padding tokens / processed tokens, padding each batch to its longest (or to `pad_to`)."""
    processed = sum(len(b) * (pad_to or int(lengths[b].max())) for b in batches)
    return 1.0 - float(lengths.sum()) / processed


def random_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    """Plain shuffled batches, no length grouping: the 'before' of length-aware batching."""
    order = np.random.default_rng(seed).permutation(n)
    return [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]


def matmul_peaks(device: str, n: int) -> dict:
    """The matmul peaks of [n, n] @ [n, n] and [n/2, n] @ [n, n]: fp32 on a CPU; on a GPU bf16 (the autocast
    dtype of training) and TF32."""
    shapes = [(n, n, n), (n // 2, n, n)]
    if device != "cuda":
        return {"fp32": matmul_peak(shapes, torch.float32, 3, device)}
    bf16 = matmul_peak(shapes, torch.bfloat16, 10, device)
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        tf32 = matmul_peak(shapes, torch.float32, 10, device)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
    return {"bf16": bf16, "tf32": tf32}


def variant_throughput(sessions: dict, size: dict, peak_gflops: float) -> dict:
    """Per session: median step seconds, examples/s, model TFLOP/s and MFU against `peak_gflops`, from steps
    interleaved over `size`'s rounds (batch, rounds, steps_per_round)."""
    first = next(iter(sessions.values()))
    batches = length_batches(first.train_split.lengths, size["batch"], 0, 1)
    times = interleaved_step_times(sessions, batches, size["rounds"], size["steps_per_round"], 3)
    timed = [batches[(3 + i) % len(batches)] for i in range(size["rounds"] * size["steps_per_round"])]
    result = {}
    for name, one in sessions.items():
        # each session's own timed batches: the rotation gives each variant a different slice
        flops = statistics.median(step_flops(one, b) for b in timed)
        step = statistics.median(times[name])
        result[name] = {"median_step_seconds": round(step, 5), "examples_per_second": round(size["batch"] / step, 1),
                        "model_tflops_per_second": round(flops / step / 1e12, 2),
                        "mfu": round(flops / step / 1e9 / peak_gflops, 3)}
    return result


def host_syncs_in_steps(session, batches: list[list[int]]) -> str:
    """'none' when three training steps run with no host synchronisation (after two warm-up steps), else the
    error torch.cuda.set_sync_debug_mode('error') raised and the frames it came from."""
    for batch in batches[:2]:
        session.train_step(batch, _mixes(session))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for batch in batches[2:5]:
            session.train_step(batch, _mixes(session))
    except RuntimeError as error:
        frames = traceback.extract_tb(error.__traceback__)[-4:]
        return f"{str(error).splitlines()[0]} at " + " < ".join(
            f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(frames))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return "none"


def host_ahead(session, batches: list[list[int]], steps: int = 3) -> dict:
    """Seconds the host takes to issue `steps` training steps, against the seconds until the GPU has done
    them: a host that waited for the device inside a step would take as long as the GPU."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in batches[:steps]:
        session.train_step(batch, _mixes(session))
    issued = time.perf_counter() - start
    torch.cuda.synchronize()
    done = time.perf_counter() - start
    return {"steps": steps, "host_seconds": round(issued, 4), "gpu_seconds": round(done, 4),
            "host_share": round(issued / done, 3)}


def evaluation_speed(session, device: str) -> dict:
    """Test documents per second of a session's evaluation (median of three, after a warm-up pass)."""
    test = session.encode(session.test_docs)
    session.evaluate(test)  # warm-up
    seconds = median_seconds(lambda: session.evaluate(test), 3, device)
    batches = sorted_batches(test.lengths, session.config.eval_batch_size)
    return {"test_docs": len(test), "tokens_per_doc": float(np.median(test.lengths)), "batches": len(batches),
            "docs_per_second": round(len(test) / seconds, 1), "seconds": round(seconds, 3)}


def interleaved_step_times(sessions: dict, batches: list[list[int]], rounds: int, steps_per_round: int,
                           warmup_steps: int = 2) -> dict[str, list[float]]:
    """Seconds of each training step of each session, sessions taking turns round by round (the
    order rotating, so that none is always first)."""
    for session in sessions.values():
        session.model.train()
        for step in range(warmup_steps):
            session.train_step(batches[step % len(batches)], _mixes(session))
    times = {name: [] for name in sessions}
    position = warmup_steps
    names = list(sessions)
    for round_number in range(rounds):
        turn = round_number % len(names)
        for name in names[turn:] + names[:turn]:
            session = sessions[name]
            for offset in range(steps_per_round):
                batch = batches[(position + offset) % len(batches)]
                synchronise(session.device)
                start = time.perf_counter()
                session.train_step(batch, _mixes(session))
                synchronise(session.device)
                times[name].append(time.perf_counter() - start)
        position += steps_per_round
    return times


def _mixes(session) -> bool:
    return session.config.mixing != "none"


def batch_shape(split: Encoded, batch: list[int], pad_id: int, num_labels: int) -> tuple[int, int]:
    return tuple(collate(split, batch, pad_id, num_labels).input_ids.shape)


def step_flops(session, batch: list[int]) -> float:
    """Model FLOPs of one training step (forward and backward) of a session on one batch."""
    labels = session.num_labels
    shape = batch_shape(session.train_split, batch, session.tokenizer.pad_token_id, labels)
    return training_flops(session.model.encoder.config, *shape, labels, *head_work(session, batch))


def head_work(session, batch: list[int]) -> tuple[int, float]:
    """(states through the MLM transform, expected MLM positions) of one training batch of a session."""
    model = session.model
    transformed = len(batch) * model.depth if model.family == "prompt" and model.head == "mlm" else 0
    if not model.has_mlm_loss:
        return transformed, 0.0
    text_tokens = float((session.train_split.lengths[batch] - model.text_start - 1).clip(min=0).sum())
    return transformed, 0.15 * text_tokens


STEP_PHASES = ("collate", "corruption", "encoder forward", "label head and ZMLCE", "MLM loss", "backward",
               "optimizer")


def step_breakdown(session, batches: list[list[int]]) -> tuple[dict[str, float], list[float]]:
    """Median seconds of each phase of a prompt training step without mixing, over `batches` (the first one a
    warm-up), and each step's loss: Objective.forward's calls, timed one by one (a CPU returns from each when
    it is done; on a GPU each phase is synchronised). The losses equal the training step's (tests)."""
    model, objective, device = session.model, session.plain_objective, session.device
    seconds = {phase: [] for phase in STEP_PHASES}
    losses = []
    model.train()
    for batch_indices in batches:
        marks = [time.perf_counter()]

        def mark():
            synchronise(device)
            marks.append(time.perf_counter())
        batch = collate(session.train_split, batch_indices, session.tokenizer.pad_token_id,
                        session.num_labels).to(device)
        mark()
        corrupted, chosen = model.corrupt_text(batch.input_ids, batch.attention_mask, objective.mlm_generator)
        mark()
        hidden, decoder = model.encode_tied(corrupted, batch.attention_mask)
        mark()
        logits = model.scores(model.states(hidden)).float()
        loss = losses_module.zmlce(logits, batch.targets, objective.loss_slices).mean()
        mark()
        loss = loss + objective.mlm_weight * model.mlm_loss(hidden, chosen, batch.input_ids, None, decoder)
        mark()
        session.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        mark()
        session.optimizer.step()
        mark()
        losses.append(loss.item())
        for phase, start, end in zip(STEP_PHASES, marks, marks[1:]):
            seconds[phase].append(end - start)
    return {phase: statistics.median(times[1:]) for phase, times in seconds.items()}, losses


def adam_step_seconds(model: torch.nn.Module, fused: bool, repeats: int = 5) -> float:
    """Median seconds of one Adam step over a copy of the model's parameters (random gradients)."""
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer = torch.optim.Adam(params, lr=1e-4, fused=fused)
    optimizer.step()  # creates the moment buffers
    return median_seconds(optimizer.step, repeats, params[0].device)
