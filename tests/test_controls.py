"""What LH-Mix's gain is made of: the two controls (shuffled similarity, fixed lambda), the published loss and
early-stopping rules as switches, the threshold-free average precision, and the resume fingerprint's coverage."""
import json
from dataclasses import fields

import numpy as np
import pytest
import torch

from lhmix.core.errors import ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model import losses, mixup
from lhmix.training.config import TrainConfig
from lhmix.training.metrics import average_precision
from lhmix.training.progress import Progress
from lhmix.training.run import RUN_ONLY_SETTINGS, fingerprint_settings
from toy import config, project, run  # noqa: F401  (project is a fixture)


# ----------------------------------------------------------------------------- the controls, as formulas

def test_derangement_moves_every_index_and_is_a_permutation():
    generator = torch.Generator().manual_seed(0)
    for n in (2, 3, 16):
        for _ in range(20):
            sigma = mixup.derangement(n, generator)
            assert sorted(sigma.tolist()) == list(range(n))
            assert all(sigma[i] != i for i in range(n))
    assert mixup.derangement(1, generator).tolist() == [0]


def test_shuffled_similarity_keeps_the_values_and_gives_each_pair_another_pairs():
    values = torch.tensor([0.80, 0.85, 0.90, 0.95, 1.00])
    out = mixup.shuffled(values, torch.Generator().manual_seed(3))
    assert sorted(out.tolist()) == sorted(values.tolist())          # the lambda marginal of the batch is kept
    assert all(out[i] != values[i] for i in range(len(values)))      # no pair keeps its own similarity


def test_fixed_ratio_is_exact_and_checked():
    assert mixup.fixed_ratio(3, 0.5).tolist() == [0.5, 0.5, 0.5]
    assert mixup.fixed_ratio(2, 1).dtype == torch.float32
    for wrong in (1.5, -0.1, True, "0.5", float("nan")):
        with pytest.raises(ParamError, match="train.fixed_lambda"):
            mixup.fixed_ratio(2, wrong)


def test_controls_belong_to_the_prompt_family():
    with pytest.raises(ParamError, match="prompt family only"):
        TrainConfig(family="bert", mixing="lhmix_shuffled", seed=0, head=None, graph=None, alpha=1.0, beta=0.75)
    with pytest.raises(ParamError, match="fixed_lambda"):
        config("prompt_fixed_lambda", fixed_lambda=None)
    with pytest.raises(ParamError, match="'alpha'"):
        config("prompt_lhmix_shuffled", alpha=None)


class Recorder:
    """Records the partners and the s handed to lhmix_ratio at every mixed step."""

    def __init__(self, monkeypatch):
        self.perms, self.s = [], []
        real_permutation, real_ratio = mixup.permutation, mixup.lhmix_ratio

        def permutation(n, generator):
            perm = real_permutation(n, generator)
            self.perms.append(perm.tolist())
            return perm

        def ratio(s, alpha, beta):
            self.s.append(s.tolist())
            return real_ratio(s, alpha, beta)
        monkeypatch.setattr(mixup, "permutation", permutation)
        monkeypatch.setattr(mixup, "lhmix_ratio", ratio)


def test_shuffled_control_mixes_lhmix_pairs_at_lhmix_lambdas_without_their_hierarchy(project, tmp_path, monkeypatch):
    """From one start, prompt_lhmix_shuffled mixes the same partners as prompt_lhmix at every step, with the
    same multiset of s in every batch (so the same lambdas), but not each pair's own s."""
    recorded, recorder = {}, Recorder(monkeypatch)
    for variant in ("prompt_lhmix", "prompt_lhmix_shuffled"):
        recorder.perms, recorder.s = [], []
        out = run(project, tmp_path, variant, name=variant, max_epochs=3)
        recorded[variant] = (recorder.perms, recorder.s, json.loads((out / "metrics.json").read_text()))
    (own_perms, own_s, own_metrics), (perms, s, metrics) = recorded["prompt_lhmix"], recorded["prompt_lhmix_shuffled"]
    assert len(own_perms) == 2 * 4  # two mixed epochs of four batches
    assert perms == own_perms
    assert [sorted(batch) for batch in s] == [sorted(batch) for batch in own_s]
    moved = sum(a != b for own, other in zip(own_s, s) for a, b in zip(own, other))
    assert moved > len(s)  # most pairs now carry another pair's similarity
    assert metrics["lambda"]["counts"] == own_metrics["lambda"]["counts"]
    assert metrics["lambda"]["mean"] == pytest.approx(own_metrics["lambda"]["mean"], abs=1e-12)


# ----------------------------------------------------------------------------- the published rules

def test_per_document_loss_is_one_zmlce_over_all_labels():
    """Scores of labels 0-1 (depth 1) and 2-4 (depth 2); gold 0 and 3."""
    logits = torch.tensor([[1.0, -2.0, 0.5, 2.0, -1.0]])
    gold = torch.tensor([[1, 0, 0, 1, 0]])
    depth_slices = [slice(0, 2), slice(2, 5)]
    e = np.exp
    per_depth = (np.log(1 + e(-2.0)) + np.log(1 + e(-1.0))) + (np.log(1 + e(0.5) + e(-1.0)) + np.log(1 + e(-2.0)))
    per_document = np.log(1 + e(-2.0) + e(0.5) + e(-1.0)) + np.log(1 + e(-1.0) + e(-2.0))
    got = {form: float(losses.zmlce(logits, gold, losses.loss_slices(depth_slices, form))[0])
           for form in ("per_depth", "per_document")}
    assert got == pytest.approx({"per_depth": per_depth, "per_document": per_document}, rel=1e-6)
    with pytest.raises(ParamError, match="train.loss"):
        losses.loss_slices(depth_slices, "per_label")


def _course(scores, rule, patience, warmup_epochs=0):
    progress, stops = Progress(), []
    for epoch, (micro, macro) in enumerate(scores, start=1):
        progress.record(epoch, 1.0, {"micro_f1": micro, "macro_f1": macro, "precision": 1, "recall": 1,
                                     "predicted_per_doc": 1}, patience, warmup_epochs, rule)
        stops.append(progress.stopped_early)
    return progress, stops


def test_published_stopping_resets_on_macro_or_micro_from_epoch_0():
    # (micro, macro): macro best at epoch 2, micro improves again at epochs 3 and 4
    scores = [(0.5, 0.5), (0.6, 0.7), (0.65, 0.6), (0.7, 0.6), (0.6, 0.6), (0.6, 0.6), (0.6, 0.6)]
    progress, stops = _course(scores, "published", patience=2)
    assert stops == [False, False, False, False, False, True, True]  # 2 epochs after epoch 4
    assert progress.best_epoch == 2
    assert progress.last_improved_epoch == 4  # test scores the best macro epoch
    _, ours = _course(scores, "ours", patience=2)
    assert ours == [False, False, False, True, True, True, True]  # 2 epochs after the best macro epoch
    # counted from epoch 0: a long warm-up does not delay the published rule
    _, stops = _course(scores, "published", patience=2, warmup_epochs=6)
    assert stops[5]
    _, stops = _course(scores, "ours", patience=2, warmup_epochs=6)
    assert not any(stops)


def test_published_rules_train_through_the_loop(project, tmp_path):
    out = run(project, tmp_path, "prompt", max_epochs=12, patience=1, loss="per_document", early_stopping="published")
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["loss"], metrics["early_stopping"]) == ("per_document", "published")
    assert metrics["stopped_early"]
    assert metrics["epochs_run"] < 12
    best_macro = best_micro = -1.0
    for point in metrics["history"]:  # the last epoch that beat the best macro- or micro-F1 so far
        if point["dev_macro_f1"] > best_macro or point["dev_micro_f1"] > best_micro:
            last_better = point["epoch"]
        best_macro, best_micro = max(best_macro, point["dev_macro_f1"]), max(best_micro, point["dev_micro_f1"])
    assert metrics["epochs_run"] == last_better + 1  # patience 1, counted from epoch 0


# ----------------------------------------------------------------------------- average precision

HIERARCHY = Hierarchy.from_paths([("A", "a1"), ("B", "b1")])[0]   # ids: A 0, B 1, a1 2, b1 3


def test_average_precision_against_hand_computed_values():
    scores = np.array([[0.9, 0.1, 0.8, 0.2],
                       [0.3, 0.7, 0.4, 0.6],
                       [0.6, 0.5, 0.1, 0.9]])
    gold = np.array([[1, 0, 1, 0],
                     [0, 1, 0, 1],
                     [1, 0, 0, 0]], dtype=bool)
    result = average_precision(scores, gold, HIERARCHY)
    # label A: ranked docs 0 (gold), 2 (gold), 1 -> AP 1; B: 1 (gold) -> 1; a1: 0 (gold) -> 1;
    # b1: docs 2, 1 (gold), 0 -> precision 1/2 at its only gold -> 0.5
    assert result["macro_ap"] == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    # micro: all 12 pairs by score 0.9 (g) 0.9 (-) 0.8 (g) 0.7 (g) 0.6 (g) 0.6 (g) 0.5 0.4 0.3 0.2 0.1 0.1;
    # the tie at 0.9 counts as one threshold: precision 1/2 there (1 gold), then 2/3, 3/4, 5/6 (two gold at 0.6)
    assert result["micro_ap"] == pytest.approx((0.5 + 2 / 3 + 3 / 4 + 2 * 5 / 6) / 5)
    assert result["ap_labels"] == 4
    assert result["per_depth_ap"]["1"]["macro_ap"] == pytest.approx(1.0)
    assert result["per_depth_ap"]["2"]["macro_ap"] == pytest.approx(0.75)


def test_average_precision_equals_scikit_learn_and_skips_labels_without_gold():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 4))
    gold = rng.random((40, 4)) < 0.3
    gold[:, 3] = False
    result = average_precision(scores, gold, HIERARCHY)
    assert result["micro_ap"] == pytest.approx(average_precision_score(gold.ravel(), scores.ravel()))
    assert result["macro_ap"] == pytest.approx(np.mean([average_precision_score(gold[:, k], scores[:, k])
                                                        for k in range(3)]))
    assert result["ap_labels"] == 3


# ----------------------------------------------------------------------------- resume fingerprint

def test_every_config_field_is_in_the_fingerprint_and_the_warmup_leaves_out_only_run_settings():
    names = {field.name for field in fields(TrainConfig)}
    settings = fingerprint_settings(config("prompt_lhmix"), "cpu", 1)
    assert names <= set(settings)
    assert RUN_ONLY_SETTINGS <= names
    warmup = {name for name in settings if name not in RUN_ONLY_SETTINGS}
    assert names - warmup == RUN_ONLY_SETTINGS
    for name in ("loss", "early_stopping", "patience", "lr", "head"):
        assert name in warmup
