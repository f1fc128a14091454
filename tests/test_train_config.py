"""TrainConfig at the params boundary: the keys each run reads, and every bad value named with its key.
"""
import json

import pytest

from lhmix.core.errors import ParamError
from lhmix.core.params import Params
from lhmix.training.config import TrainConfig, parse_variant

from toy import PARAMS, config


@pytest.mark.parametrize("alpha, beta, wrong", [(0, 0.75, "alpha"), (-1, 0.75, "alpha"), (1, 0.5, "beta"),
                                                (1, 1.01, "beta"), (True, 0.75, "alpha")])
def test_bad_ratio_parameters_fail_at_configuration(alpha, beta, wrong):
    with pytest.raises(ParamError, match=f"'{wrong}'"):
        config("prompt_lhmix", alpha=alpha, beta=beta)


def test_config_reads_exactly_the_keys_of_its_run():
    warmup_keys = {"encoder.classifier", "train.max_length", "train.batch_size", "train.eval_batch_size",
                   "train.lr", "train.warmup_epochs", "train.patience", "train.device", "train.loss",
                   "train.early_stopping"}
    prompt_keys = {"model.prompt.head", "model.prompt.mlm_weight", "model.prompt.graph"}
    expected = {("bert", "none", True): warmup_keys,
                ("prompt", "none", True): warmup_keys | prompt_keys,
                ("prompt", "none", False): warmup_keys | prompt_keys | {"train.max_epochs"},
                ("bert", "mixup", False): warmup_keys | {"train.max_epochs", "train.mixup_beta_a"},
                ("prompt", "lhmix", False): warmup_keys | prompt_keys | {"train.max_epochs", "alpha", "beta",
                                                                    "similarity.source"},
                ("prompt", "lhmix_shuffled", False): warmup_keys | prompt_keys | {"train.max_epochs", "alpha", "beta",
                                                                             "similarity.source"},
                ("prompt", "fixed_lambda", False): warmup_keys | prompt_keys | {"train.max_epochs", "train.fixed_lambda"}}
    for (family, mixing, is_warmup), keys in expected.items():
        params = Params(PARAMS)
        built = TrainConfig.from_params(params, family, mixing, "2", "0.5", warmup=is_warmup)
        assert params.read == keys, (family, mixing)
        assert built.seed == 2
        assert built.batch_size == 16
        assert built.train_fraction == 0.5
    params = Params(PARAMS)
    sweep = TrainConfig.from_params(params, "prompt", "lhmix", 0, alpha="0.5", beta="1")
    assert (sweep.alpha, sweep.beta) == (0.5, 1.0)
    assert not {"alpha", "beta"} & params.read
    lhmix = TrainConfig.from_params(Params(PARAMS), "bert", "lhmix", 0)
    assert (lhmix.alpha, lhmix.beta, lhmix.head, lhmix.mlm_weight, lhmix.graph) == (2.0, 1.0, None, 0.0, None)
    table6 = TrainConfig.from_params(Params(PARAMS), "prompt", "none", 0, graph="gat")
    assert table6.graph == "gat"
    assert table6.run_name() == "prompt-s0-gat"
    assert lhmix.run_name() == "bert_lhmix-s0-a2-b1"


def test_spread_regime_reads_its_own_keys():
    params = Params(PARAMS)
    lhmix = TrainConfig.from_params(params, "prompt", "lhmix_shuffled", 0, regime="spread")
    assert (lhmix.alpha, lhmix.beta) == (10.0, 0.9)
    assert {"spread.alpha", "spread.beta"} <= params.read
    assert not {"alpha", "beta"} & params.read
    params = Params(PARAMS)
    fixed = TrainConfig.from_params(params, "prompt", "fixed_lambda", 0, regime="spread")
    assert fixed.fixed_lambda == 0.8
    assert "spread.fixed_lambda" in params.read
    assert "train.fixed_lambda" not in params.read
    with pytest.raises(ParamError, match="'regime' = 'wide': expected one of main, spread"):
        TrainConfig.from_params(Params(PARAMS), "prompt", "lhmix", 0, regime="wide")


@pytest.mark.parametrize("key, value, message", [
    ("train.batch_size", True, "'train.batch_size' = True: expected an integer >= 1"),
    ("train.batch_size", 16.0, "'train.batch_size' = 16.0: expected an integer >= 1"),
    ("train.max_length", 64.0, "'train.max_length' = 64.0: expected an integer >= 1"),
    ("train.lr", "fast", "'train.lr' = 'fast': expected a finite number > 0"),
    ("train.warmup_epochs", 5, "'train.max_epochs' = 4: expected an integer >= 5"),
    ("train.device", "tpu", "'train.device' = 'tpu': expected one of auto, cpu, cuda"),
    ("model.prompt.head", "mlp", "'model.prompt.head' = 'mlp': expected one of mlm, linear"),
    ("train.loss", "per_label", "'train.loss' = 'per_label': expected one of per_depth, per_document"),
    ("train.early_stopping", "micro", "'train.early_stopping' = 'micro': expected one of ours, published"),
])
def test_bad_params_name_the_key(key, value, message):
    params = json.loads(json.dumps(PARAMS))
    section, _, name = key.rpartition(".")
    target = params
    for part in section.split("."):
        target = target[part]
    target[name] = value
    with pytest.raises(ParamError) as error:
        TrainConfig.from_params(Params(params), "prompt", "none", 0)
    assert message in str(error.value)


def test_bad_run_arguments_are_param_errors():
    with pytest.raises(ParamError, match="'seed' = -1: expected an integer >= 0"):
        TrainConfig.from_params(Params(PARAMS), "bert", "none", "-1")
    with pytest.raises(ParamError, match="variant"):
        parse_variant("prompt_cutmix")
    with pytest.raises(ParamError, match="'train.mixup_beta_a' = 0"):
        config("bert_mixup", mixup_beta_a=0)
    with pytest.raises(ParamError, match="'train.max_epochs'"):
        config("prompt_mixup", max_epochs=None)
    with pytest.raises(ParamError, match="'graph' = 'gat': expected no graph for the bert family"):
        TrainConfig.from_params(Params(PARAMS), "bert", "none", 0, graph="gat")
