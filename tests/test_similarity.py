import pytest
import torch

from lhmix.core.errors import LhmixError, ParamError
from lhmix.model.encoders import load_encoder, load_tokenizer
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.similarity_table import SimilarityTable
from lhmix.similarity import precompute as similarity
from lhmix.similarity.precompute import encode_texts, local_hierarchy_text, precompute
from script_loader import load_script

# ids: biology=0, cs=1, bio/genetics=2, cs/databases=3, cs/machine learning=4
HIERARCHY, _ = Hierarchy.from_paths([("cs", "machine learning"), ("cs", "databases"),
                                     ("biology", "genetics")])
DOCS = [[1, 4], [0, 2], [4, 1], [1, 3, 4], [1, 4], [0, 2], [1]]  # 4 distinct local hierarchies


def test_local_hierarchy_text():
    assert local_hierarchy_text(HIERARCHY, [4, 1]) == "level 1: cs. level 2: machine learning."
    assert local_hierarchy_text(HIERARCHY, [1, 3, 4]) == "level 1: cs. level 2: databases, machine learning."
    assert local_hierarchy_text(HIERARCHY, [1]) == "level 1: cs."


@pytest.fixture(scope="module")
def table():
    return precompute("tiny-random", HIERARCHY, DOCS, max_length=32, batch_size=3)


def test_encodes_each_distinct_local_hierarchy_once(monkeypatch):
    encoded = []

    def counting(encoder, tokenizer, texts, max_length, batch_size):
        encoded.extend(texts)
        return encode_texts(encoder, tokenizer, texts, max_length, batch_size)

    monkeypatch.setattr(similarity, "encode_texts", counting)
    table = precompute("tiny-random", HIERARCHY, DOCS, max_length=32)
    assert len(encoded) == len(set(encoded)) == len(table) == 4
    assert table.num_docs == 7


def test_lookup_matches_direct_computation(table):
    encoder = load_encoder("tiny-random").encoder
    tokenizer = load_tokenizer("tiny-random")
    encoder.eval()

    def cls_vector(labels):  # one text alone: no padding at all
        ids = tokenizer(local_hierarchy_text(HIERARCHY, labels), return_tensors="pt")
        with torch.no_grad():
            return encoder(input_ids=ids["input_ids"]).last_hidden_state[0, 0]

    rows = table.rows(DOCS)
    assert rows.dtype == torch.long
    assert rows[0] == rows[2] == rows[4]
    assert rows[1] == rows[5]
    for i, labels in enumerate(DOCS):
        direct = torch.nn.functional.normalize(cls_vector(labels), dim=0)
        assert torch.allclose(table.vectors[rows[i]], direct, atol=1e-6, rtol=0)
    perm = torch.tensor([3, 5, 1, 6, 0, 4, 2])
    got = table.pair_similarity(rows, perm)
    for i, j in enumerate(perm.tolist()):
        cos = torch.nn.functional.cosine_similarity(cls_vector(DOCS[i]), cls_vector(DOCS[j]), dim=0)
        assert got[i].item() == pytest.approx(0.5 * (cos.item() + 1), abs=1e-6)
    assert got[[1, 4]].tolist() == pytest.approx([1.0, 1.0])  # same local hierarchies


def test_attention_mask_is_honoured():
    encoder = load_encoder("tiny-random").encoder
    tokenizer = load_tokenizer("tiny-random")
    short, long = "level 1: cs.", "level 1: biology. level 2: genetics, databases, machine learning."
    alone = encode_texts(encoder, tokenizer, [short], 64, 8)[0]
    padded = encode_texts(encoder, tokenizer, [long, short], 64, 8)[1]
    assert torch.allclose(alone, padded, atol=1e-6, rtol=0)
    # the check is sensitive: attending to the padding would move the vector
    ids = tokenizer([long, short], padding=True, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        unmasked = encoder(input_ids=ids).last_hidden_state[1, 0]
    assert not torch.allclose(alone, unmasked, atol=1e-6, rtol=0)


def test_unknown_local_hierarchy_is_an_error(table):
    with pytest.raises(LhmixError, match=r"document 1: .*\[1, 3\]"):
        table.rows([[1, 4], [1, 3]])


def test_save_load_round_trip_is_byte_stable(table, tmp_path):
    first, second = tmp_path / "a" / "sim.pt", tmp_path / "b" / "sim.pt"
    table.save(first)
    table.save(second)
    assert first.read_bytes() == second.read_bytes()
    loaded = SimilarityTable.load(first)
    assert loaded.keys == table.keys
    assert loaded.texts == table.texts
    assert loaded.num_docs == 7
    assert torch.equal(loaded.vectors, table.vectors)
    assert torch.allclose(loaded.vectors.norm(dim=1), torch.ones(4))
    rows, perm = loaded.rows(DOCS), torch.tensor([6, 5, 4, 3, 2, 1, 0])
    assert torch.equal(loaded.pair_similarity(rows, perm), table.pair_similarity(rows, perm))


def test_load_errors(tmp_path):
    with pytest.raises(LhmixError, match="not found"):
        SimilarityTable.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a table")
    with pytest.raises(LhmixError, match="not a readable similarity table"):
        SimilarityTable.load(tmp_path / "junk.pt")


def test_a_length_that_cuts_every_text_is_reported():
    """With 3 tokens ([CLS] level [SEP]) every text encodes alike: s = 1 for every pair, LH-Mix
    would mix 50/50 everywhere. The table says which texts were cut and which vectors coincide."""
    table = precompute("minilm", HIERARCHY, DOCS, max_length=3)
    assert len(table.truncated) == 4
    assert len(table.same_vector) == 6  # 4 distinct texts: all 6 pairs
    fine = precompute("minilm", HIERARCHY, DOCS, max_length=64)
    assert fine.truncated == []
    assert fine.same_vector == []


@pytest.mark.parametrize("length", [0, 2, True, 3.5, "64"])
def test_similarity_length_is_checked(length):
    with pytest.raises(ParamError, match="encoder.similarity_max_length"):
        precompute("tiny-random", HIERARCHY, DOCS, max_length=length)


def test_stage_prints_what_the_table_reports(tmp_path, monkeypatch, capsys):
    from lhmix.datasets.contract import PreparedDataset, write_dataset
    docs = [{"id": str(i), "labels": HIERARCHY.with_ancestors(labels), "text": "some text"} for i, labels in enumerate(DOCS)]
    other = [{**doc, "id": f"other{doc['id']}"} for doc in docs[:2]]
    write_dataset(PreparedDataset("toy", HIERARCHY, {"train": docs, "dev": other[:1], "test": other[1:]}),
                  tmp_path / "data" / "processed" / "toy")
    (tmp_path / "params.yaml").write_text("encoder: {similarity: minilm, similarity_max_length: 3}\n")
    monkeypatch.chdir(tmp_path)
    stage = load_script("stages/similarity.py")
    assert stage.main(["--data", "data/processed/toy", "--out", "data/similarity/toy.pt"]) == 0
    printed = capsys.readouterr().out
    assert "4 local-hierarchy texts are longer than encoder.similarity_max_length" in printed
    assert "two different local hierarchies encode to the same vector" in printed
    assert (tmp_path / "data" / "similarity" / "toy.pt").is_file()
