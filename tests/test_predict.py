"""tools/predict.py and lhmix.inference: a run's model/ folder classifies new texts exactly as the run's own test
scoring did; bad input stops in one line naming the file and line, with nothing written. And the model card the
run writes into model/."""
import json
import subprocess
import sys

import numpy as np
import pytest

from lhmix.core.errors import LhmixError, MalformedInput
from lhmix.data.hierarchy import Hierarchy
from lhmix.inference import Predictor, label_names, read_documents
from lhmix.model.saved import CARD_FILE, load_classifier
from lhmix.training.run import MODEL_FOLDER
from toy import REPO, project, run  # noqa: F401  (the toy project fixture and its runner)

TOOL = REPO / "tools" / "predict.py"


@pytest.fixture(scope="module")
def trained(project, tmp_path_factory):  # noqa: F811
    """A toy prompt run (3 epochs) and its output folder."""
    return run(project, tmp_path_factory.mktemp("predict"), "prompt_lhmix", max_epochs=3)


def recorded_decisions(out) -> list[tuple[str, list[str]]]:
    """(id, names of the labels decided) of each test document, from the run's predictions.npz."""
    recorded = np.load(out / "predictions.npz")
    decisions = np.unpackbits(recorded["packed"], axis=1, count=int(recorded["num_labels"])).astype(bool)
    names = label_names(Hierarchy.load(out / MODEL_FOLDER / "labels.json"))
    return [(str(identifier), [names[index] for index in np.flatnonzero(row)])
            for identifier, row in zip(recorded["ids"], decisions)]


def predict(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def test_the_folder_decides_as_the_run_did_on_its_test_split(trained, project):  # noqa: F811
    test_file = project / "data" / "processed" / "toy" / "test.jsonl"
    documents = read_documents(test_file.read_bytes(), str(test_file), "jsonl")
    predictor = Predictor(trained / MODEL_FOLDER, device="cpu")
    rows = list(predictor.predictions(documents, batch_size=5))  # not the run's eval batch size: same decisions
    expected = recorded_decisions(trained)
    assert [(row["id"], row["labels"]) for row in rows] == expected
    assert any(labels for _, labels in expected)  # the toy model decides some labels: not only empty lists compared
    for row in rows:
        assert set(row["scores"]) == set(row["labels"])
        assert all(score > 0 for score in row["scores"].values())


def test_stdin_to_stdout_with_top_k(trained):
    result = predict(trained / MODEL_FOLDER, "--device", "cpu", "--top-k", "2",
                     stdin="the cat sat here\nsome boat of words\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["1", "2"]
    for row in rows:
        assert set(row["labels"]) <= set(row["scores"])
        assert len(row["scores"]) >= 2
        decided = {name for name, score in row["scores"].items() if score > 0}
        assert decided == set(row["labels"])


def test_a_file_in_gives_a_file_out_equal_to_stdout(trained, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("a dog and a car\nthe boat\n")
    out = tmp_path / "out" / "predictions.jsonl"
    result = predict(trained / MODEL_FOLDER, "--input", texts, "--output", out, "--batch-size", "1")
    assert result.returncode == 0, result.stderr
    assert f"{out}: 2 predictions" in result.stderr
    piped = predict(trained / MODEL_FOLDER, stdin=texts.read_text())
    assert predict(trained / MODEL_FOLDER, "--batch-size", "1", stdin=texts.read_text()).stdout == out.read_text()
    # another batch size pads the texts otherwise: the same decisions, scores equal to float32 rounding
    from_file, from_stdin = ([json.loads(line) for line in text.splitlines()] for text in (out.read_text(), piped.stdout))
    assert [row["labels"] for row in from_file] == [row["labels"] for row in from_stdin]
    for file_row, stdin_row in zip(from_file, from_stdin):
        assert file_row["scores"] == pytest.approx(stdin_row["scores"], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("content, form, line, problem", [
    ("a cat\n\na dog\n", "text", 2, "an empty line"),
    ('{"id": "x", "text": "a cat"}\n{"id": "y", "text": \n', "jsonl", 2, "not JSON"),
    ('{"id": "x", "text": "a cat"}\n["a dog"]\n', "jsonl", 2, "expected a JSON object"),
    ('{"id": "x"}\n', "jsonl", 1, '"text" = None: expected a non-empty string'),
    ('{"id": [1], "text": "a cat"}\n', "jsonl", 1, '"id" = \\[1\\]: expected a string or an integer'),
])
def test_a_bad_line_is_named_and_nothing_is_written(trained, tmp_path, content, form, line, problem):
    texts = tmp_path / "texts.txt"
    texts.write_text(content)
    out = tmp_path / "predictions.jsonl"
    out.write_text("an earlier output\n")
    result = predict(trained / MODEL_FOLDER, "--input", texts, "--output", out, "--format", form)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"predict: {texts}:{line}: ")
    with pytest.raises(MalformedInput, match=problem):
        read_documents(content.encode(), str(texts), form)
    assert out.read_text() == "an earlier output\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.jsonl", "texts.txt"]


def test_bad_input_on_stdin_writes_nothing_to_stdout(trained):
    result = predict(trained / MODEL_FOLDER, stdin="a cat\n \n")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "predict: <stdin>:2: an empty line (expected one text a line)"


def test_no_input_and_not_a_model_folder_are_one_line(trained, tmp_path):
    assert predict(trained / MODEL_FOLDER, stdin="").stderr.strip() == \
        "predict: <stdin>: no documents (expected one a line)"
    result = predict(tmp_path, stdin="a cat\n")
    assert result.returncode == 1
    assert "not a classifier folder" in result.stderr


def test_repeated_label_names_are_told_apart_by_their_path():
    hierarchy, _ = Hierarchy.from_paths([("animal", "other"), ("vehicle", "other"), ("vehicle", "car")])
    names = label_names(hierarchy)
    assert sorted(names) == ["animal", "animal / other", "car", "vehicle", "vehicle / other"]


def test_the_model_card_names_the_run_and_is_covered_by_the_digests(trained):
    folder = trained / MODEL_FOLDER
    card = (folder / CARD_FILE).read_text()
    metrics = json.loads((trained / "metrics.json").read_text())
    assert card.startswith("# prompt_lhmix toy classifier (seed 0)")
    assert f"| {100 * metrics['micro_f1']:.2f} % | {100 * metrics['macro_f1']:.2f} % |" in card
    assert f"best dev epoch ({metrics['best_epoch']})" in card
    assert "| max_length | 32 |" in card
    assert "tools/predict.py" in card and "load_classifier" in card
    _, _, described = load_classifier(folder)
    assert CARD_FILE in described["files"]


def test_an_edited_model_card_is_refused(trained, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(trained / MODEL_FOLDER, folder)
    (folder / CARD_FILE).write_text((folder / CARD_FILE).read_text().replace("seed 0", "seed 1"))
    with pytest.raises(LhmixError, match=f"{CARD_FILE}: changed since its run wrote it"):
        load_classifier(folder)
