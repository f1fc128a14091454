"""What the epochs after the warm-up reached on dev. Every run continues its family's warm-up (no Mixup) and is
scored at its best dev macro-F1 epoch over all epochs, the warm-up's included, as the published code selects. A
run whose continuation never beats the warm-up's best dev epoch therefore scores the warm-up's model, and two such
runs of one seed (LH-Mix and its shuffled control, say) are the same model. This says how often that happened, how
far the continuations fell short, and asks LH-Mix's questions again of the continuations themselves: the best dev
macro-F1 after the warm-up, paired by seed. Dev, not test; a maximum over epochs, taken alike on both sides; no
Holm correction and no verdict: it explains the verdicts, it does not add to them."""
from __future__ import annotations

import numpy as np

from lhmix.reporting.markdown import interval, number, p_value, table
from lhmix.reporting.mechanism import MECHANISM_QUESTIONS
from lhmix.reporting.stats import paired
from lhmix.reporting.variants import LHMIX, REGIMES, by_variant, in_regime

# LH-Mix against continuing without Mixup, beside the controls
QUESTIONS = (("lhmix_vs_prompt", LHMIX, "prompt"),) + MECHANISM_QUESTIONS


def continuation(row: dict) -> dict | None:
    """The best dev macro-F1 (%) of the warm-up's epochs and of the epochs after it; None without both."""
    warmup = row["warmup_epochs"]
    during = [p["dev_macro_f1"] for p in row["history"] if p["epoch"] <= warmup]
    after = [p["dev_macro_f1"] for p in row["history"] if p["epoch"] > warmup]
    if not during or not after:
        return None
    return {"warmup_best": max(during), "after_best": max(after), "after_epochs": len(after)}


def entries(rows: list[dict]) -> dict:
    """{"variants": per variant, the seeds whose continuation beat the warm-up's best dev epoch and the mean
    shortfall with its t interval; "questions": per regime and question, the paired difference of the best dev
    macro-F1 after the warm-up}."""
    reached = {}
    for variant, runs in by_variant(rows).items():
        seen = {r["seed"]: c for r in runs if (c := continuation(r))}
        if seen:
            reached[variant] = seen
    variants = []
    for variant, seen in reached.items():
        after = {seed: c["after_best"] for seed, c in seen.items()}
        comparison = paired(after, {seed: c["warmup_best"] for seed, c in seen.items()})
        variants.append({"variant": variant, "runs": len(seen),
                         "beat_warmup": sum(c["after_best"] > c["warmup_best"] for c in seen.values()),
                         "warmup_best": float(np.mean([c["warmup_best"] for c in seen.values()])),
                         "after_best": float(np.mean(list(after.values()))),
                         "after_epochs": float(np.mean([c["after_epochs"] for c in seen.values()])),
                         **comparison.to_dict()})
    questions = []
    for regime in REGIMES:
        for name, better, worse in QUESTIONS:
            a = in_regime(better, regime)
            b = worse if worse == "prompt" else in_regime(worse, regime)
            if a in reached and b in reached:
                values = [{seed: c["after_best"] for seed, c in reached[v].items()} for v in (a, b)]
                questions.append({"question": name, "regime": regime, "better": a, "worse": b,
                                  **paired(*values).to_dict()})
    return {"variants": variants, "questions": questions}


def render(results: dict) -> str:
    found = results["continuations"]
    if not found["variants"]:
        return "No run continued a warm-up."
    rows = [[e["variant"], f"{e['beat_warmup']} / {e['runs']}", number(e["warmup_best"]), number(e["after_best"]),
             number(e["diff"], sign=True), interval(e), number(e["after_epochs"], 1)] for e in found["variants"]]
    questions = [[f"{q['better']} vs {q['worse']}", q["regime"], number(q["diff"], sign=True), interval(q),
                  p_value(q), q["n"]] for q in found["questions"]]
    return "\n".join([
        table(["variant", "continuation beat the warm-up's best dev epoch (seeds)", "best dev macro-F1, warm-up",
               "best dev macro-F1, after it", "after minus warm-up", "95 % CI (t, seeds)", "epochs after the warm-up"],
              rows), "",
        "Dev macro-F1 in %, means over seeds. A run whose continuation did not beat its warm-up's best dev epoch "
        "scores the warm-up's model on test (*best in warm-up* in the diagnostics): its test scores are those of "
        "the plain variant of its seed, and so are those of every other such run of that seed.", "",
        table(["continuations compared", "regime", "difference in best dev macro-F1 after the warm-up",
               "95 % CI (t, seeds)", "p (paired t, unadjusted)", "n"], questions), "",
        "The same questions as the verdicts, asked of the models the continuations trained rather than the ones "
        "selection kept: dev, descriptive (no correction, no verdict). The prompt's continuation is training on "
        "without Mixup, from the same warm-up."])
