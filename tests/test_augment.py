"""Training-set augmentation (LH-Mix Table 7): EDA's four operations, the WordNet synonym table, the
augmented dataset's contract, and the back-translation stage with and without models."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lhmix.augment.dataset import augment_dataset
from lhmix.augment.eda import (augment, eda_augmenter, random_deletion, random_insertion, random_swap,
                               synonym_replacement)
from lhmix.augment.synonyms import normalise, wordnet_synonyms
from lhmix.core.errors import MalformedInput
from lhmix.data.documents import read_dataset
from lhmix.data.hierarchy import Hierarchy
from lhmix.datasets.contract import PreparedDataset, write_dataset
from script_loader import load_script

SYNONYMS = {"quick": ("fast", "speedy"), "dog": ("domestic dog", "hound"), "jumps": ("leaps",),
            "the": ("thee",)}  # "the" is a stop word: never replaced, whatever the table says
SENTENCE = "The quick brown dog jumps over the lazy fox."


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- the four operations

def test_random_swap_exchanges_the_positions_the_generator_draws():
    # default_rng(0).choice(4, size=2, replace=False) draws positions 2 and 3
    assert random_swap(["a", "b", "c", "d"], 1, rng(0)) == ["a", "b", "d", "c"]
    assert random_swap(["a"], 3, rng(0)) == ["a"]


def test_random_deletion_keeps_the_words_drawn_at_or_above_p_and_always_one():
    # default_rng(0).random(6) = 0.64 0.27 0.04 0.02 0.81 0.91: a, e and f are drawn at or above 0.5
    assert random_deletion(["a", "b", "c", "d", "e", "f"], 0.5, rng(0)) == ["a", "e", "f"]
    for seed in range(20):
        kept = random_deletion(["a", "b", "c", "d"], 1.0, rng(seed))
        assert len(kept) == 1
        assert kept[0] in "abcd"
    assert random_deletion(["alone"], 0.9, rng(0)) == ["alone"]


def test_random_insertion_inserts_a_synonym_of_a_non_stop_word_of_the_sentence():
    assert random_insertion(["the", "quick", "dog"], 1, SYNONYMS, rng(0)) == ["the", "quick", "hound", "dog"]
    candidates = {" ".join(sorted(synonym.split())) for synonym in SYNONYMS["quick"] + SYNONYMS["dog"]}
    for seed in range(20):
        inserted = Counter(random_insertion(["the", "quick", "dog"], 1, SYNONYMS, rng(seed))) - \
            Counter(["the", "quick", "dog"])
        assert " ".join(sorted(inserted.elements())) in candidates
    assert random_insertion(["the", "brown"], 2, SYNONYMS, rng(0)) == ["the", "brown"]  # nothing to insert


def test_synonym_replacement_skips_stop_words_and_words_without_synonyms():
    words = "the quick brown dog and the dog".split()
    assert synonym_replacement(words, 10, SYNONYMS, rng(0)) == "the speedy brown hound and the hound".split()
    assert synonym_replacement(words, 1, SYNONYMS, rng(0)) == "the speedy brown dog and the dog".split()
    assert synonym_replacement(["brown", "and"], 1, SYNONYMS, rng(0)) == ["brown", "and"]


def test_copies_are_in_eda_normal_form_and_a_function_of_the_seed():
    copies = augment(SENTENCE, 0.1, 4, SYNONYMS, rng(0))
    assert copies == ["the lazy brown dog jumps over the quick fox",    # random swap
                      "the speedy brown dog jumps over the lazy fox",   # synonym replacement
                      "the quick brown dog over lazy fox",              # random deletion
                      "lazy quick brown dog jumps over the the fox"]    # random swap
    assert augment(SENTENCE, 0.1, 4, SYNONYMS, rng(0)) == copies
    assert augment(SENTENCE, 0.1, 4, SYNONYMS, rng(1)) != copies
    assert augment("42 -- 7", 0.1, 2, SYNONYMS, rng(0)) == ["42 -- 7", "42 -- 7"]  # no word to change
    assert normalise("Don't re-use O'Neil's 3 cars_pooled!") == "dont re use oneils cars pooled"


def test_a_text_s_copies_depend_on_its_index_and_the_seed_only():
    first = eda_augmenter(0.1, 3, seed=7, synonyms=SYNONYMS)
    assert first(["a dog", SENTENCE])[1] == first(["the fast hound", SENTENCE])[1]
    assert first([SENTENCE])[0] != eda_augmenter(0.1, 3, seed=8, synonyms=SYNONYMS)([SENTENCE])[0]
    assert [len(copies) for copies in first(["a dog", SENTENCE])] == [3, 3]


# ---------------------------------------------------------------- WordNet synonyms

def test_wordnet_synonyms_over_all_parts_of_speech():
    table = wordnet_synonyms()
    assert {"automobile", "auto", "motorcar"} <= set(table["car"])
    assert "car" in table["automobile"]
    assert "car" not in table["car"]
    assert "galore" in table["abounding"]             # adjective satellite, marker "(ip)" removed
    assert "rapidly" in table["quickly"]              # adverb
    assert "scat" in table["run"]                     # verb
    assert "domestic dog" in table["dog"]             # a synonym may be several words, a key is one
    assert "the" not in table
    assert all(" " not in word for word in table)
    assert all(list(others) == sorted(others) for others in table.values())


def test_a_damaged_data_line_names_its_file_and_line(tmp_path):
    lines = {"data.noun1": "  1 licence header\n02958343 06 n 02 car 0 auto 0 000 | a motor vehicle\n",
             "data.noun2": "", "data.verb": "", "data.adv": "",
             "data.adj": "00014358 00 s 02 abounding 0 galore(ip) 0 000 | plenty\n00015000 00 s zz broken\n"}
    for name, text in lines.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(MalformedInput, match=r"data\.adj:2: expected '<offset>"):
        wordnet_synonyms(tmp_path)
    (tmp_path / "data.adj").write_text(lines["data.adj"].splitlines()[0] + "\n")
    assert wordnet_synonyms(tmp_path) == {"abounding": ("galore",), "auto": ("car",), "car": ("auto",),
                                          "galore": ("abounding",)}


# ---------------------------------------------------------------- the augmented dataset

TREE, _ = Hierarchy.from_paths([("Sci", "Physics"), ("Sci", "Biology"), ("Arts", "Music")])


def write_source(folder: Path) -> Path:
    def docs(prefix, count):
        return [{"id": f"{prefix}{i}", "labels": [1, 3] if i % 2 else [0, 2],
                 "text": f"The quick dog number {i} jumps over {prefix}, the lazy fox."} for i in range(count)]
    dataset = PreparedDataset("toy", TREE, {"train": docs("tr", 6), "dev": docs("dv", 2), "test": docs("te", 3)})
    dataset.dropped["too_rare"] = 4
    write_dataset(dataset, folder / "data" / "processed" / "toy")
    return folder / "data" / "processed" / "toy"


def test_augmented_dataset_keeps_the_contract(tmp_path):
    source = write_source(tmp_path)
    augmenter = eda_augmenter(0.1, 2, seed=0, synonyms=SYNONYMS)
    stats = write_dataset(augment_dataset(source, "eda", augmenter, {"alpha": 0.1}), tmp_path / "toy_eda")
    _, original = read_dataset(source)
    _, augmented = read_dataset(tmp_path / "toy_eda")  # every line checked by the reader's rules
    train = augmented["train"]
    assert len(train) == 3 * len(original["train"])
    assert len(set(train.ids)) == len(train)
    assert train.ids[:3] == ["tr0", "tr0#eda1", "tr0#eda2"]
    assert train.texts[0] == original["train"].texts[0]
    assert train.labels[::3] == original["train"].labels == train.labels[1::3] == train.labels[2::3]
    for name in ("labels.json", "dev.jsonl", "test.jsonl"):
        assert (tmp_path / "toy_eda" / name).read_bytes() == (source / name).read_bytes(), name
    assert stats["dataset"] == "toy_eda"
    assert stats["splits"] == {"train": 18, "dev": 2, "test": 3}
    assert stats["dropped"] == {"too_rare": 4}
    assert stats["augmentation"] == {"method": "eda", "source": "toy", "alpha": 0.1, "original": 6, "copies": 12,
                                     "texts_without_copy": 0}


def load_stage(name: str):
    return load_script(f"stages/{name}.py")


def folders(dataset: str, method: str) -> list[str]:
    """The command line dvc.yaml gives an augment stage: its source folder and the augmented copy's."""
    return ["--data", f"data/processed/{dataset}", "--out", f"data/processed/{dataset}_{method}"]


def test_eda_stage_output_is_byte_identical_for_the_same_seed(tmp_path, monkeypatch, capsys):
    runs = {}
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_source(tmp_path / run)
        (tmp_path / run / "params.yaml").write_text(f"augment: {{eda: {{alpha: 0.1, num_aug: 2, seed: {seed}}}}}\n")
        monkeypatch.chdir(tmp_path / run)
        assert load_stage("augment").main(folders("toy", "eda")) == 0
        folder = tmp_path / run / "data" / "processed" / "toy_eda"
        runs[run] = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    assert "augment toy -> toy_eda: train 6 + 12 eda copies (0 texts without one)" in capsys.readouterr().out
    assert runs["a"] == runs["b"]
    assert runs["a"]["train.jsonl"] != runs["c"]["train.jsonl"]
    assert runs["a"]["dev.jsonl"] == runs["c"]["dev.jsonl"]
    assert json.loads(runs["a"]["stats.json"])["augmentation"]["seed"] == 0


@pytest.mark.parametrize("params, message", [
    ("augment: {eda: {alpha: 1.5, num_aug: 2, seed: 0}}", "'augment.eda.alpha' = 1.5: expected a fraction in (0, 1)"),
    ("augment: {eda: {alpha: 0.1, num_aug: 0, seed: 0}}", "'augment.eda.num_aug' = 0: expected an integer >= 1"),
    ("augment: {eda: {alpha: 0.1, num_aug: 1}}", "'augment.eda.seed' = None: expected a value"),
])
def test_eda_stage_stops_on_bad_params_naming_them(tmp_path, monkeypatch, capsys, params, message):
    write_source(tmp_path)
    (tmp_path / "params.yaml").write_text(params + "\n")
    monkeypatch.chdir(tmp_path)
    assert load_stage("augment").main(folders("toy", "eda")) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data" / "processed" / "toy_eda").exists()


def test_eda_stage_without_its_source_names_the_missing_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text("augment: {eda: {alpha: 0.1, num_aug: 1, seed: 0}}\n")
    monkeypatch.chdir(tmp_path)
    assert load_stage("augment").main(folders("nothere", "eda")) == 1
    assert "data/processed/nothere/labels.json" in capsys.readouterr().err


# ---------------------------------------------------------------- back-translation

def bt_params(models="null", seeds="[]") -> str:
    return f"augment: {{back_translation: {{models: {models}, max_length: 12, seeds: {seeds}}}}}\n"


@pytest.mark.parametrize("models, reason", [
    ("null", "no translation models named (augment.back_translation.models is null)"),
    ("[./no-such-model, ./no-such-model]", "augment.back_translation.models: encoder './no-such-model': no such "
                                           "directory"),
])
def test_without_models_the_bt_stage_says_why_and_succeeds(tmp_path, monkeypatch, capsys, models, reason):
    write_source(tmp_path)
    (tmp_path / "params.yaml").write_text(bt_params(models))
    monkeypatch.chdir(tmp_path)
    assert load_stage("augment_bt").main(folders("toy", "bt")) == 0
    folder = tmp_path / "data" / "processed" / "toy_bt"
    assert [path.name for path in folder.iterdir()] == ["missing.json"]
    result = json.loads((folder / "missing.json").read_text())
    assert result["method"] == "bt"
    assert result["missing"].startswith(reason)
    assert reason in capsys.readouterr().out


def test_bt_stage_fails_when_runs_need_models_that_are_not_there(tmp_path, monkeypatch, capsys):
    write_source(tmp_path)
    (tmp_path / "params.yaml").write_text(bt_params("[./no-such-model, ./no-such-model]", seeds="[0]"))
    monkeypatch.chdir(tmp_path)
    assert load_stage("augment_bt").main(folders("toy", "bt")) == 1
    assert "asks for runs on it" in capsys.readouterr().err


def test_bt_stage_refuses_models_that_are_not_a_pair(tmp_path, monkeypatch, capsys):
    write_source(tmp_path)
    (tmp_path / "params.yaml").write_text(bt_params("[only-one]"))
    monkeypatch.chdir(tmp_path)
    assert load_stage("augment_bt").main(folders("toy", "bt")) == 1
    assert "'augment.back_translation.models' = ['only-one']: expected null or a list of two" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_translator(tmp_path_factory) -> Path:
    """A randomly initialised BERT-to-BERT encoder-decoder with the MiniLM tokenizer: it translates
    into junk, but loads and generates as a translation model does."""
    import torch
    import transformers

    from lhmix.model.encoders import load_tokenizer

    tokenizer = load_tokenizer("tiny-random")
    size = dict(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=32)
    config = transformers.EncoderDecoderConfig.from_encoder_decoder_configs(
        transformers.BertConfig(**size), transformers.BertConfig(**size, is_decoder=True, add_cross_attention=True))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.EncoderDecoderModel(config=config)
    for settings in (model.config, model.generation_config):
        settings.decoder_start_token_id = tokenizer.cls_token_id
        settings.eos_token_id = tokenizer.sep_token_id
        settings.pad_token_id = tokenizer.pad_token_id
    folder = tmp_path_factory.mktemp("translator")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_bt_stage_with_models_writes_a_valid_dataset(tmp_path, monkeypatch, capsys, tiny_translator):
    source = write_source(tmp_path)
    (tmp_path / "params.yaml").write_text(bt_params(f"[{tiny_translator}, {tiny_translator}]"))
    monkeypatch.chdir(tmp_path)
    assert load_stage("augment_bt").main(folders("toy", "bt")) == 0
    folder = tmp_path / "data" / "processed" / "toy_bt"
    _, splits = read_dataset(folder)
    how = json.loads((folder / "stats.json").read_text())["augmentation"]
    assert how["method"] == "bt"
    assert how["models"] == [str(tiny_translator)] * 2
    assert how["max_length"] == 12
    assert how["original"] == 6
    assert how["copies"] + how["texts_without_copy"] == 6
    assert len(splits["train"]) == 6 + how["copies"]
    assert all(doc_id.endswith("#bt1") for doc_id in splits["train"].ids if "#" in doc_id)
    assert (folder / "test.jsonl").read_bytes() == (source / "test.jsonl").read_bytes()
    assert "augment_bt toy -> toy_bt: train 6 + " in capsys.readouterr().out
