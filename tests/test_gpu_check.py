"""tools/gpu_check.py at toy sizes on the CPU: every part the GPU check runs, so that the one run on a GPU
machine does not fail on something a CPU could have found."""
import json

import pytest
import torch
import transformers

from lhmix.model.encoders import load_tokenizer
from tests.script_loader import load_script

gpu_check = load_script("tools/gpu_check.py")


def test_the_bert_directory_is_a_bert_for_masked_lm_with_the_uncased_vocabulary(tmp_path):
    folder = gpu_check.bert_directory(tmp_path / "model", gpu_check.SIZES["small"])
    model = transformers.BertForMaskedLM.from_pretrained(folder)
    assert model.config.vocab_size == 30522
    assert model.config.num_hidden_layers == 2
    assert load_tokenizer(str(folder)).convert_tokens_to_ids("[unused0]") == 1
    full = gpu_check.SIZES["full"]
    assert (full["hidden"], full["layers"], full["heads"], full["inner"], full["max_length"]) == (768, 12, 12, 3072, 512)


def test_the_synthetic_texts_fill_the_length(tmp_path):
    size = gpu_check.SIZES["small"]
    data = gpu_check.synthetic_dataset(tmp_path / "data", size)
    model = gpu_check.bert_directory(tmp_path / "model", size)
    one = gpu_check.session("prompt", model, data, None, "cpu", size)
    assert one.num_labels == gpu_check.TOP * (gpu_check.LEAVES + 1)
    assert (one.train_split.lengths == size["max_length"]).all()


def test_the_whole_check_at_toy_sizes_on_the_cpu(tmp_path):
    out = tmp_path / "reports"
    gpu_check.main(["--device", "cpu", "--small", "--jobs", "2", "--target", "warmup@wordnet-bert-0",
                    "--out", str(out)])
    result = json.loads((out / "gpu.json").read_text())
    assert set(result["train"]) == set(gpu_check.VARIANTS)
    assert all(v["examples_per_second"] > 0 for v in result["train"].values())
    # toy sizes on a shared CPU: the peak and the MFU are numbers, not measurements worth a bound
    assert all(v["mfu"] >= 0 for v in result["train"].values())
    assert result["matmul"]["fp32"]["peak_gflops"] > 0
    assert result["eval"]["docs_per_second"] > 0
    twice = result["pipeline_twice"]
    assert twice["ran"], twice
    assert twice["runs"] == 1
    assert twice["identical_metrics"]  # the warm-up, in each copy
    text = (out / "gpu.md").read_text()
    assert "| prompt_lhmix |" in text
    assert "metrics identical: yes" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the check runs for real")
def test_without_cuda_the_check_says_how_to_run_it(capsys):
    with pytest.raises(SystemExit):
        gpu_check.main([])
    assert "no CUDA device is visible" in capsys.readouterr().err
