"""`make bench`: performance of the default profile, measured in one run -> reports/bench.{json,md}.

Each part runs in its own process so that peak resident memory is that part's own:
  train       examples/s of prompt, prompt_mixup, prompt_lhmix, bert (interleaved medians), MFU
              against the torch.matmul peak measured in the same process on the training device (fp32 on a
              CPU; on a GPU the autocast dtype, bf16, every timing synchronised), padding share
  similarity  distinct local hierarchies, encode time, ratio to encoding every training document
  eval        test docs/s including metrics, share of time outside the encoder, RCV1-sized metrics
and finally a no-op `dvc repro`. The train part also breaks a prompt step down into its phases
(lhmix.benchmark.step_breakdown).

`--against OLD` compares this tree's training step with another checkout's (e.g. `git worktree add /tmp/old
<commit>`): the train part of OLD (its tools/bench.py, its src/ first on PYTHONPATH), of this tree, and of OLD
again, one after the other in this folder with the same venv, so that a machine whose speed drifts slows both
alike -> reports/bench-speedup.{json,md}: each run's prompt examples/s and matmul peak, the ratio to the two old
runs' mean.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CALLER_ENVIRONMENT = dict(os.environ)  # each part's environment

import numpy as np
import torch
from lhmix import benchmark
from lhmix.core.params import Params
from lhmix.data.documents import read_dataset
from lhmix.model.encoders import load_encoder, load_tokenizer
from lhmix.pipeline.plan import processed_folder
from lhmix.similarity.precompute import encode_texts, local_hierarchy_text, precompute
from lhmix.training.batches import collate, length_batches, sorted_batches
from lhmix.training.config import TrainConfig, parse_variant
from lhmix.training.devices import Processes, autocast, resolve_device
from lhmix.training.loop import Session
from lhmix.training.metrics import F1Accumulator

VARIANTS = ("prompt", "prompt_mixup", "prompt_lhmix", "bert")
ROUNDS, STEPS_PER_ROUND = 8, 4
BREAKDOWN_STEPS = 16
ROOT = Path(__file__).resolve().parents[1]
RCV1_TEST_DOCS, RCV1_LABELS = 781_265, 103


def load_params() -> tuple[dict, str]:
    params = Params.load().values
    dataset = params["datasets"][0]
    if not (processed_folder(dataset) / "train.jsonl").is_file():
        raise SystemExit(f"bench: {processed_folder(dataset)} is missing: run `make repro` (or `dvc repro "
                         f"prepare@{dataset}`) first")
    return params, dataset


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def similarity_table(params: dict, dataset: str):
    """The similarity table computed in memory: the bench never touches the pipeline's outputs."""
    hierarchy, splits = read_dataset(processed_folder(dataset), ("train",))
    return precompute(params["encoder"]["similarity"], hierarchy, splits["train"].labels,
                      params["encoder"]["similarity_max_length"])


def session_for(params: dict, dataset: str, variant: str, table=None) -> Session:
    """A session whose first epoch already mixes (warmup_epochs 0), as after warm-up."""
    family, mixing = parse_variant(variant)
    settings = Params({**params, "train": {**params["train"], "warmup_epochs": 0}})
    config = TrainConfig.from_params(settings, family, mixing, 0)
    return Session(config, processed_folder(dataset), Processes(), resolve_device(config.device),
                   similarity=table if mixing == "lhmix" else None)


def part_train(params: dict, dataset: str) -> dict:
    table = similarity_table(params, dataset)
    sessions = {v: session_for(params, dataset, v, table) for v in VARIANTS}
    prompt = sessions["prompt"]
    batch_size = prompt.config.batch_size
    batches = length_batches(prompt.train_split.lengths, batch_size, 0, 1)
    timed = [batches[(2 + i) % len(batches)] for i in range(ROUNDS * STEPS_PER_ROUND)]
    encoder_config = prompt.model.encoder.config
    hidden_tokens = 16 * int(np.median(prompt.train_split.lengths))
    shapes = [(2048, 2048, 2048), (hidden_tokens, encoder_config.hidden_size, encoder_config.intermediate_size),
              (hidden_tokens, encoder_config.intermediate_size, encoder_config.hidden_size)]
    dtype, device = prompt.amp_dtype or torch.float32, prompt.device
    peak_before = benchmark.matmul_peak(shapes, dtype, device=device)
    times = benchmark.interleaved_step_times(sessions, batches, ROUNDS, STEPS_PER_ROUND)
    peak_after = benchmark.matmul_peak(shapes, dtype, device=device)
    peak = max(peak_before["peak_gflops"], peak_after["peak_gflops"])
    variants = {}
    for name, session in sessions.items():
        flops = [benchmark.step_flops(session, b) for b in timed]
        achieved = [f / t / 1e9 for f, t in zip(flops, times[name])]
        step = statistics.median(times[name])
        variants[name] = {"median_step_seconds": round(step, 4),
                          "examples_per_second": round(batch_size / step, 1),
                          "model_gflops_per_second": round(statistics.median(achieved), 1),
                          "mfu": round(statistics.median(achieved) / peak, 3)}
    reference = variants["prompt"]["median_step_seconds"]
    for name, entry in variants.items():
        # Paired on the batch: the same batch through both variants, so lengths cancel out.
        entry["step_time_vs_prompt"] = round(statistics.median(
            mine / theirs for mine, theirs in zip(times[name], times["prompt"])), 3)
    phases, _ = benchmark.step_breakdown(prompt, timed[:BREAKDOWN_STEPS + 1])
    lengths = prompt.train_split.lengths
    max_length = prompt.config.max_length
    full_vocabulary = full_vocabulary_scoring_seconds(prompt, batch_size, int(np.median(lengths)))
    return {
        "threads": torch.get_num_threads(), "device": str(prompt.device),
        "encoder": prompt.config.classifier, "timed_steps_per_variant": ROUNDS * STEPS_PER_ROUND,
        "matmul": {"before": peak_before, "after": peak_after, "peak_gflops": peak},
        "variants": variants,
        "prompt_step_phases_seconds": {phase: round(seconds, 5) for phase, seconds in phases.items()},
        "padding_share": {
            "length_aware_batches": round(benchmark.padding_share(lengths, batches), 4),
            "random_batches": round(benchmark.padding_share(
                lengths, benchmark.random_batches(len(lengths), batch_size, 0)), 4),
            "padded_to_max_length": round(benchmark.padding_share(lengths, batches, pad_to=max_length), 4)},
        "adam_step_seconds": {"fused": round(benchmark.adam_step_seconds(prompt.model, True), 4),
                              "unfused": round(benchmark.adam_step_seconds(prompt.model, False), 4)},
        "vocabulary_scoring_avoided": {
            "seconds_per_step": round(full_vocabulary, 4),
            "share_of_prompt_step": round(full_vocabulary / reference, 3)},
        "peak_rss_mib": peak_rss_mib(),
    }


def full_vocabulary_scoring_seconds(session: Session, batch_size: int, length: int) -> float:
    """What the published code spends per step on MLM logits over the whole vocabulary at every
    position (forward and backward of that projection), which scoring only [MASK] states avoids."""
    embeddings = session.model.encoder.get_input_embeddings().weight.detach()
    hidden = torch.randn(batch_size, length, embeddings.shape[1], device=embeddings.device, requires_grad=True)
    table = embeddings.clone().requires_grad_(True)

    def project():
        with autocast(session.device, session.amp_dtype):
            (hidden @ table.T).float().sum().backward()
    project()
    return benchmark.median_seconds(project, 5, embeddings.device)


def part_similarity(params: dict, dataset: str) -> dict:
    """Encoding each distinct local hierarchy once against encoding every training document's."""
    hierarchy, splits = read_dataset(processed_folder(dataset))
    label_lists = splits["train"].labels
    name, max_length = params["encoder"]["similarity"], params["encoder"]["similarity_max_length"]
    start = time.perf_counter()
    table = precompute(name, hierarchy, label_lists, max_length)
    precompute_seconds = time.perf_counter() - start
    encoder = load_encoder(name).encoder
    tokenizer = load_tokenizer(name)
    distinct = [local_hierarchy_text(hierarchy, key) for key in table.keys]
    every = [local_hierarchy_text(hierarchy, labels) for labels in label_lists]
    distinct_seconds = benchmark.median_seconds(lambda: encode_texts(encoder, tokenizer, distinct, max_length, 64), 3)
    every_seconds = benchmark.median_seconds(lambda: encode_texts(encoder, tokenizer, every, max_length, 64), 3)
    return {"training_docs": len(label_lists), "distinct_local_hierarchies": len(table),
            "precompute_stage_seconds_with_loading": round(precompute_seconds, 2),
            "encode_distinct_seconds": round(distinct_seconds, 3),
            "encode_every_training_doc_seconds": round(every_seconds, 3),
            "distinct_vs_every_doc": round(distinct_seconds / every_seconds, 4),
            "peak_rss_mib": peak_rss_mib()}


def part_eval(params: dict, dataset: str) -> dict:
    session = session_for(params, dataset, "prompt")
    test = session.encode(session.test_docs)
    batches = sorted_batches(test.lengths, session.config.eval_batch_size)

    def encoder_only():
        session.model.eval()  # evaluate() puts the model back in training mode when done
        with torch.inference_mode():
            for indices in batches:
                batch = collate(test, indices, session.tokenizer.pad_token_id, session.num_labels)
                session.model(batch.input_ids, batch.attention_mask)
    session.evaluate(test)  # warm-up
    totals, encoders = [], []
    for _ in range(5):  # alternated, so that a slow moment of the machine hits both alike
        totals.append(benchmark.median_seconds(lambda: session.evaluate(test), 1, session.device))
        encoders.append(benchmark.median_seconds(encoder_only, 1, session.device))
    total, encoder = statistics.median(totals), statistics.median(encoders)
    docs_per_second = len(test) / total
    # One batch of decisions stands for every batch: the cost of update() does not depend on the values.
    gold = np.random.default_rng(0).random((4096, RCV1_LABELS)) < 0.03
    predicted = np.random.default_rng(1).random((4096, RCV1_LABELS)) < 0.03
    accumulator = F1Accumulator(RCV1_LABELS)

    def rcv1_metrics():
        for start in range(0, RCV1_TEST_DOCS, 4096):
            rows = min(4096, RCV1_TEST_DOCS - start)
            accumulator.update(predicted[:rows], gold[:rows])
    metrics_seconds = benchmark.median_seconds(rcv1_metrics, 3)
    return {"test_docs": len(test), "eval_batch_size": session.config.eval_batch_size,
            "docs_per_second_with_metrics": round(docs_per_second, 1),
            "seconds_with_metrics": round(total, 3), "seconds_encoder_only": round(encoder, 3),
            "rcv1_sized_metrics_seconds": round(metrics_seconds, 2),
            "rcv1_sized_encoder_seconds_at_this_speed": round(RCV1_TEST_DOCS / docs_per_second, 1),
            "peak_rss_mib": peak_rss_mib()}


def dvc_noop() -> dict:
    """Median of three no-op `dvc repro`, each waiting for DVC's lock when another DVC command holds it; a
    failure is reported in the result (the measured parts are never lost)."""
    if subprocess.run(["dvc", "--wait-for-lock", "status", "--quiet"], capture_output=True).returncode != 0:
        return {"seconds": None, "why": "the pipeline is not up to date: run `make repro` first"}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(["dvc", "--wait-for-lock", "repro"], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return {"seconds": None, "why": f"`dvc repro` failed (exit {done.returncode}: {last})"}
        times.append(time.perf_counter() - start)
    return {"seconds": round(statistics.median(times), 2)}


PUBLISHED_ROUNDS = 4  # x 2 steps each: a published step at 512 tokens takes seconds on 2 CPU cores


def part_published(params: dict, dataset: str) -> dict:
    """A prompt_lhmix step with the published similarity (similarity.source published, params.yaml's
    label_length and attention_mask: the classifier's encoder on every pair's label sequences, forward and
    backward) against the same step with the frozen table, interleaved on the same batches."""
    published = {**params, "similarity": {**params["similarity"], "source": "published"}}
    sessions = {"frozen": session_for(params, dataset, "prompt_lhmix", similarity_table(params, dataset)),
                "published": session_for(published, dataset, "prompt_lhmix")}
    batches = length_batches(sessions["frozen"].train_split.lengths, sessions["frozen"].config.batch_size, 0, 1)
    times = benchmark.interleaved_step_times(sessions, batches, PUBLISHED_ROUNDS, 2)
    return {"label_length": published["similarity"]["label_length"],
            "attention_mask": published["similarity"]["attention_mask"], "timed_steps": len(times["frozen"]),
            **{f"{name}_median_step_seconds": round(statistics.median(steps), 4) for name, steps in times.items()},
            "published_vs_frozen": round(statistics.median(
                mine / theirs for mine, theirs in zip(times["published"], times["frozen"])), 2)}


PARTS = {"train": part_train, "similarity": part_similarity, "eval": part_eval, "published": part_published}


def published_similarity_line(published: dict) -> str:
    return (f"| prompt_lhmix step, published similarity ({published['label_length']} tokens, "
            f"{'masked' if published['attention_mask'] else 'no mask'}) vs frozen | "
            f"{published['published_median_step_seconds']} s vs {published['frozen_median_step_seconds']} s "
            f"({published['published_vs_frozen']}x, paired on the batch) |")


def markdown(results: dict) -> str:
    train, sim, evaluation = results["train"], results["similarity"], results["eval"]
    lines = ["| variant | examples/s | step vs prompt | model GFLOP/s | MFU |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {v['examples_per_second']} | {v['step_time_vs_prompt']} | {v['model_gflops_per_second']} | "
              f"{v['mfu']} |" for name, v in train["variants"].items()]
    lines += phase_lines(train)
    padding = train["padding_share"]
    lines += ["", "| measure | value |", "| --- | --- |",
              f"| torch.matmul peak ({train['matmul']['before'].get('dtype', 'float32')}, {train['device']}, "
              f"{train['threads']} CPU threads) | {train['matmul']['peak_gflops']} GFLOP/s |",
              f"| padding, length-aware batches | {padding['length_aware_batches']:.1%} |",
              f"| padding, random batches | {padding['random_batches']:.1%} |",
              f"| padding, padded to max_length | {padding['padded_to_max_length']:.1%} |",
              f"| Adam step, fused / unfused | {train['adam_step_seconds']['fused']} s / "
              f"{train['adam_step_seconds']['unfused']} s |",
              f"| vocabulary-wide MLM scoring avoided | {train['vocabulary_scoring_avoided']['share_of_prompt_step']:.0%}"
              " of a prompt step |",
              f"| similarity: distinct local hierarchies / training docs | {sim['distinct_local_hierarchies']} / "
              f"{sim['training_docs']} |",
              f"| similarity: encoding distinct vs every training doc | {sim['encode_distinct_seconds']} s vs "
              f"{sim['encode_every_training_doc_seconds']} s ({sim['distinct_vs_every_doc']}) |",
              f"| evaluation docs/s incl. metrics | {evaluation['docs_per_second_with_metrics']} |",
              f"| evaluation of the test set: all / encoder alone | {evaluation['seconds_with_metrics']} s / "
              f"{evaluation['seconds_encoder_only']} s |",
              f"| metrics on 781k x 103 (RCV1-sized) | {evaluation['rcv1_sized_metrics_seconds']} s (encoder at this "
              f"speed: {evaluation['rcv1_sized_encoder_seconds_at_this_speed']} s) |",
              published_similarity_line(results["published"]),
              f"| peak RSS: training / evaluation | {train['peak_rss_mib']} / {evaluation['peak_rss_mib']} MiB |",
              "| no-op `dvc repro` | " + (f"{results['dvc_noop']['seconds']} s" if results["dvc_noop"]["seconds"]
                                          is not None else f"not measured: {results['dvc_noop']['why']}") + " |"]
    lines += ["", "Against an older checkout: `python tools/bench.py --against OLD` runs the train part of OLD, of "
              "this tree and of OLD again, one after the other -> reports/bench-speedup.md (each run's examples/s "
              "and peak, the ratio)."]
    return "\n".join(lines) + "\n"


def phase_lines(train: dict) -> list[str]:
    phases = train.get("prompt_step_phases_seconds", {})
    total = sum(phases.values())
    return (["", f"Prompt step by phase (median of {BREAKDOWN_STEPS} steps, lhmix.benchmark.step_breakdown):", "",
             "| phase | ms | share |", "| --- | --- | --- |"]
            + [f"| {phase} | {seconds * 1000:.2f} | {seconds / total:.0%} |" for phase, seconds in phases.items()]
            + [f"| sum | {total * 1000:.2f} | 100% |"]) if phases else []


def run_part(part: str, tree: Path = ROOT) -> dict:
    """One part of the bench of the checkout `tree` (its tools/bench.py, its src/ first on PYTHONPATH) in a process."""
    environment = {**CALLER_ENVIRONMENT, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tree / "src"), CALLER_ENVIRONMENT.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(tree / "tools" / "bench.py"), "--part", part], capture_output=True,
                          text=True, env=environment)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(f"bench: part '{part}' of {tree} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(old: Path) -> dict:
    """The train part of `old`, of this tree and of `old` again, in turn: prompt examples/s, the ratio to the old
    runs' mean, each run's matmul peak and its prompt_lhmix step against its prompt step."""
    runs = []
    for name, tree in (("old", old), ("new", ROOT), ("old", old)):
        train = run_part("train", tree)
        runs.append({"tree": name, "path": str(tree), "peak_gflops": train["matmul"]["peak_gflops"],
                     **{key: train["variants"]["prompt"][key] for key in ("examples_per_second", "mfu")},
                     "lhmix_step_vs_prompt": train["variants"]["prompt_lhmix"]["step_time_vs_prompt"],
                     "prompt_step_phases_seconds": train.get("prompt_step_phases_seconds")})
    old_rate = statistics.mean(run["examples_per_second"] for run in runs if run["tree"] == "old")
    return {"runs": runs, "old_examples_per_second": round(old_rate, 1),
            "new_examples_per_second": runs[1]["examples_per_second"],
            "new_vs_old": round(runs[1]["examples_per_second"] / old_rate, 2)}


def comparison_markdown(comparison: dict) -> str:
    lines = ["Prompt training step, this tree against an older one, run old / new / old in one call of "
             "`tools/bench.py --against OLD` (each the train part of `make bench`, in its own process):", "",
             "| run | tree | prompt examples/s | MFU | matmul peak GFLOP/s | prompt_lhmix step / prompt step |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {number} | {run['tree']} | {run['examples_per_second']} | {run['mfu']} | {run['peak_gflops']} | "
              f"{run['lhmix_step_vs_prompt']} |" for number, run in enumerate(comparison["runs"], start=1)]
    lines += ["", f"new / mean of the old runs: {comparison['new_examples_per_second']} / "
                  f"{comparison['old_examples_per_second']} = {comparison['new_vs_old']}x"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--part", choices=sorted(PARTS), help="run one part and print its JSON (used by the "
                                                                 "whole bench, which runs each part in a process)")
    arguments.add_argument("--against", type=Path, metavar="OLD",
                           help="compare the training step with the checkout OLD (old / new / old) "
                           "-> reports/bench-speedup.*")
    options = arguments.parse_args(argv)
    if options.against:
        load_params()
        comparison = compare(options.against.resolve())
        Path("reports").mkdir(exist_ok=True)
        Path("reports/bench-speedup.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
        Path("reports/bench-speedup.md").write_text(comparison_markdown(comparison), encoding="utf-8")
        print(comparison_markdown(comparison))
        return 0
    if options.part:
        print(json.dumps(PARTS[options.part](*load_params())))
        return 0
    load_params()
    results = {}
    for part in PARTS:
        results[part] = run_part(part)
    results["dvc_noop"] = dvc_noop()
    Path("reports").mkdir(exist_ok=True)
    Path("reports/bench.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    Path("reports/bench.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
