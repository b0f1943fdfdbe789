"""Fine-tuning metrics, computed the way the field reports them.

Each metric reproduces the reference its benchmark uses, including what
happens when a metric is undefined:

- classification (GLUE): `accuracy`, `f1` and `matthews_correlation` equal
  scikit-learn's `accuracy_score`, `f1_score` and `matthews_corrcoef`; an
  undefined precision, recall or F1 is 0.0, as with scikit-learn's default
  `zero_division="warn"`, but without the warning. `classification_report`
  bundles them for the CLI.
- regression (STS-B): `pearson` and `spearman` equal `scipy.stats.pearsonr`
  and `spearmanr` (average ranks for ties; NaN for a constant input).
- NER (CoNLL-2003): `entity_spans` and `entity_scores` follow conlleval, as
  `seqeval`'s default mode does: an entity counts only when its span and its
  type both match, and scores are micro-averaged over entities.
- extractive QA (SQuAD v1.1 and v2.0): `normalize_answer`, `squad_exact_match`,
  `squad_f1` and `squad_scores` follow the official v2.0 evaluation script,
  which scores v1.1 data identically.

Plain Python and NumPy only: no TensorFlow, so evaluation scripts can import
this module cheaply.
"""

from __future__ import annotations

import collections
import math
import numbers
import re
import string

import numpy as np

__all__ = [
    "accuracy",
    "classification_report",
    "entity_scores",
    "entity_spans",
    "f1",
    "matthews_correlation",
    "normalize_answer",
    "pearson",
    "spearman",
    "squad_exact_match",
    "squad_f1",
    "squad_scores",
]


# --------------------------------------------------------------------------
# Input checks shared by the classification metrics.


def _class_ids(values, name):
    """`values` as a list of hashable class ids, or a ValueError naming `name`.

    Integral floats (1.0) are accepted as the integer they hold; anything else
    that is not an integer or a string (a probability, a logit) is rejected,
    because scoring it as a class id would silently give nonsense.
    """
    if isinstance(values, str):
        raise ValueError(f"`{name}` must be a sequence of class ids, got the string {values!r}.")
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be one-dimensional (one class id per example), got shape "
            f"{tuple(array.shape)}. Take the argmax of logits or probabilities first."
        )
    ids = []
    for position, value in enumerate(array.tolist()):
        if isinstance(value, (str, numbers.Integral)):
            ids.append(value)
        elif isinstance(value, numbers.Real) and float(value).is_integer():
            ids.append(int(value))
        else:
            raise ValueError(
                f"`{name}` must hold class ids (integers or strings); got {value!r} at "
                f"position {position}."
            )
    if any(isinstance(value, str) for value in ids) and not all(isinstance(value, str) for value in ids):
        raise ValueError(f"`{name}` mixes string and numeric class ids; use one kind.")
    return ids


def _paired_class_ids(labels, predictions):
    labels = _class_ids(labels, "labels")
    predictions = _class_ids(predictions, "predictions")
    if len(labels) != len(predictions):
        raise ValueError(
            f"`labels` and `predictions` must have the same length, got {len(labels)} and "
            f"{len(predictions)}."
        )
    if not labels:
        raise ValueError("`labels` and `predictions` are empty; need at least one example.")
    if isinstance(labels[0], str) != isinstance(predictions[0], str):
        raise ValueError(
            "`labels` and `predictions` must use the same kind of class id (both strings or "
            f"both integers), got {labels[0]!r} and {predictions[0]!r}."
        )
    return labels, predictions


def _safe_divide(numerator, denominator):
    # scikit-learn and seqeval both score an undefined ratio as 0.0 by default.
    return numerator / denominator if denominator else 0.0


def _per_class_counts(labels, predictions):
    """(true positives, predicted count, true count) per class, as Counters."""
    true_positives = collections.Counter(label for label, prediction in zip(labels, predictions) if label == prediction)
    return true_positives, collections.Counter(predictions), collections.Counter(labels)


def _precision_recall_f1(true_positives, predicted, actual):
    precision = _safe_divide(true_positives, predicted)
    recall = _safe_divide(true_positives, actual)
    return precision, recall, _safe_divide(2 * true_positives, predicted + actual)


# --------------------------------------------------------------------------
# Classification (GLUE).


def accuracy(labels, predictions):
    """Fraction of examples whose prediction equals the label.

    Args:
        labels: gold class ids, one per example (ints or strings).
        predictions: predicted class ids, same length.

    Example:
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    labels, predictions = _paired_class_ids(labels, predictions)
    return sum(label == prediction for label, prediction in zip(labels, predictions)) / len(labels)


def f1(labels, predictions, average="binary", positive_label=1):
    """F1 score, equal to scikit-learn's `f1_score` with the same arguments.

    Args:
        labels: gold class ids, one per example (ints or strings).
        predictions: predicted class ids, same length.
        average: "binary" scores `positive_label` only (MRPC, QQP); "macro"
            averages the per-class F1 of every class seen in `labels` or
            `predictions`; "micro" pools the counts of all classes (it equals
            accuracy for single-label data).
        positive_label: the class scored by average="binary".

    A class that is neither predicted nor present scores 0.0 (scikit-learn's
    default), without a warning.

    Example:
    >>> f1([0, 1, 1, 0], [0, 1, 0, 1])
    0.5
    >>> round(f1([0, 1, 2, 2], [0, 2, 2, 2], average="macro"), 4)
    0.6
    """
    labels, predictions = _paired_class_ids(labels, predictions)
    true_positives, predicted, actual = _per_class_counts(labels, predictions)
    classes = sorted(set(labels) | set(predictions))
    if average == "binary":
        if len(classes) > 2:
            raise ValueError(
                f"f1(average='binary') needs at most two classes, but `labels` and `predictions` "
                f"hold {len(classes)}: {classes}. Use average='macro' or 'micro'."
            )
        if len(classes) == 2 and positive_label not in classes:
            raise ValueError(
                f"`positive_label`={positive_label!r} is not one of the classes {classes} found "
                "in `labels` and `predictions`."
            )
        return _precision_recall_f1(
            true_positives[positive_label], predicted[positive_label], actual[positive_label]
        )[2]
    if average == "macro":
        scores = [_precision_recall_f1(true_positives[c], predicted[c], actual[c])[2] for c in classes]
        return float(np.mean(scores))
    if average == "micro":
        return _precision_recall_f1(sum(true_positives.values()), len(predictions), len(labels))[2]
    raise ValueError(f"`average` must be 'binary', 'macro' or 'micro', got {average!r}.")


def matthews_correlation(labels, predictions):
    """Matthews correlation coefficient (CoLA), multiclass, as scikit-learn's.

    Uses the multiclass generalisation (Gorodkin, 2004) that
    `sklearn.metrics.matthews_corrcoef` computes; returns 0.0 when it is
    undefined (all labels or all predictions in one class).

    Args:
        labels: gold class ids, one per example (ints or strings).
        predictions: predicted class ids, same length.

    Example:
    >>> round(matthews_correlation([0, 1, 1, 0], [0, 1, 0, 0]), 4)
    0.5774
    >>> matthews_correlation([0, 1, 1, 0], [1, 1, 1, 1])
    0.0
    """
    labels, predictions = _paired_class_ids(labels, predictions)
    true_positives, predicted, actual = _per_class_counts(labels, predictions)
    count = len(labels)
    # Python integers keep these sums exact however large the data set is.
    covariance = sum(true_positives.values()) * count - sum(actual[c] * predicted[c] for c in actual)
    label_variance = count * count - sum(n * n for n in actual.values())
    prediction_variance = count * count - sum(n * n for n in predicted.values())
    if label_variance == 0 or prediction_variance == 0:
        return 0.0
    return covariance / (math.sqrt(label_variance) * math.sqrt(prediction_variance))


def classification_report(labels, predictions, label_names=None):
    """The scores the CLI prints after evaluating a classifier.

    Args:
        labels: gold class ids, one per example.
        predictions: predicted class ids, same length.
        label_names: optional names of the classes; class id i is named
            `label_names[i]`, and then every id must lie in
            [0, len(label_names)).

    Returns:
        A dict with "accuracy", "macro_f1" (over the classes seen in `labels`
        or `predictions`, as `f1(average="macro")`), "mcc", "per_class"
        ({class: {"precision", "recall", "f1", "support"}}, keyed by name when
        `label_names` is given, for every named class; otherwise by id for
        every class seen) and, for two-class tasks, "binary_f1": F1 of class
        1, the GLUE convention for MRPC and QQP. A task counts as two-class
        when `label_names` has two entries or, without names, when every id
        seen is 0 or 1.

    Example:
    >>> report = classification_report([0, 1, 1, 0], [0, 1, 0, 0], label_names=["no", "yes"])
    >>> report["accuracy"], round(report["binary_f1"], 4), report["per_class"]["yes"]["recall"]
    (0.75, 0.6667, 0.5)
    """
    labels, predictions = _paired_class_ids(labels, predictions)
    seen = sorted(set(labels) | set(predictions))
    if label_names is not None:
        label_names = list(label_names)
        if not label_names:
            raise ValueError("`label_names` is empty; pass None or one name per class.")
        for name, values in (("labels", labels), ("predictions", predictions)):
            for position, value in enumerate(values):
                if isinstance(value, str) or not 0 <= value < len(label_names):
                    raise ValueError(
                        f"`{name}`[{position}] is {value!r}, but with {len(label_names)} "
                        f"`label_names` class ids must be integers in [0, {len(label_names)})."
                    )
        classes = list(range(len(label_names)))
        two_classes = len(label_names) == 2
    else:
        classes = seen
        two_classes = all(not isinstance(value, str) and value in (0, 1) for value in seen)

    true_positives, predicted, actual = _per_class_counts(labels, predictions)
    per_class = {}
    for class_id in classes:
        precision, recall, class_f1 = _precision_recall_f1(
            true_positives[class_id], predicted[class_id], actual[class_id]
        )
        name = label_names[class_id] if label_names is not None else class_id
        per_class[name] = {"precision": precision, "recall": recall, "f1": class_f1, "support": actual[class_id]}

    report = {
        "accuracy": accuracy(labels, predictions),
        "macro_f1": f1(labels, predictions, average="macro"),
        "mcc": matthews_correlation(labels, predictions),
    }
    if two_classes:
        report["binary_f1"] = f1(labels, predictions, average="binary", positive_label=1)
    report["per_class"] = per_class
    return report


# --------------------------------------------------------------------------
# Regression (STS-B).


def _paired_values(x, y):
    arrays = []
    for name, values in (("x", x), ("y", y)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"`{name}` must be a sequence of numbers: {error}") from None
        if array.ndim != 1:
            raise ValueError(f"`{name}` must be one-dimensional, got shape {array.shape}.")
        if not np.all(np.isfinite(array)):
            position = int(np.flatnonzero(~np.isfinite(array))[0])
            raise ValueError(f"`{name}` must be finite, got {array[position]} at position {position}.")
        arrays.append(array)
    x, y = arrays
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length, got {len(x)} and {len(y)}.")
    if len(x) < 2:
        raise ValueError(f"A correlation needs at least two pairs, got {len(x)}.")
    return x, y


def _correlation(x, y):
    # A constant input has no correlation: NaN, as scipy returns. Tested on
    # the raw values, since x - mean(x) can be a tiny nonzero rounding error.
    if np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    # Scaled to a largest magnitude of 1 before squaring, since the squares
    # of values like 1e-200 or 1e200 underflow or overflow in the norm.
    x = x / np.max(np.abs(x))
    y = y / np.max(np.abs(y))
    correlation = np.dot(x / np.linalg.norm(x), y / np.linalg.norm(y))
    return float(np.clip(correlation, -1.0, 1.0))


def _average_ranks(values):
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Each run of equal values starts where the sorted value changes.
    run_starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    run_ends = np.r_[run_starts[1:], len(values)]
    run_ranks = (run_starts + 1 + run_ends) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(run_ranks, run_ends - run_starts)
    return ranks


def pearson(x, y):
    """Pearson correlation, equal to `scipy.stats.pearsonr(x, y).statistic`.

    Args:
        x, y: finite numbers, same length, at least two of each.

    Returns:
        The correlation in [-1, 1]; NaN when `x` or `y` is constant.

    Example:
    >>> round(pearson([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 2.0, 5.0]), 4)
    0.8305
    """
    return _correlation(*_paired_values(x, y))


def spearman(x, y):
    """Spearman rank correlation, equal to `scipy.stats.spearmanr(x, y).statistic`.

    The Pearson correlation of the ranks, tied values taking their average rank.

    Args:
        x, y: finite numbers, same length, at least two of each.

    Returns:
        The correlation in [-1, 1]; NaN when `x` or `y` is constant.

    Example:
    >>> round(spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 20.0, 40.0]), 4)
    0.9487
    """
    x, y = _paired_values(x, y)
    return _correlation(_average_ranks(x), _average_ranks(y))


# --------------------------------------------------------------------------
# Named-entity recognition (CoNLL-2003), conlleval rules.

_ENTITY_PREFIXES = ("B", "I", "E", "S")


def _split_tag(tag, where):
    if tag == "O":
        return "O", None
    if isinstance(tag, str) and len(tag) > 2 and tag[0] in _ENTITY_PREFIXES and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(
        f"{where}: tag {tag!r} is not 'O' or PREFIX-TYPE with PREFIX one of B, I, E, S "
        "(for example 'B-PER')."
    )


def entity_spans(tags, *, where="tags"):
    """Entities in one tag sequence, read with conlleval's rules.

    Tags are "O" or PREFIX-TYPE. In IOB2 every entity starts with B-; BIO
    (IOB1) files may start one with I-: an I-X (or E-X) continues the entity
    only when the previous tag is B-X or I-X, and otherwise starts a new X
    entity, exactly as conlleval and seqeval's default mode read it. B-X
    always starts a new entity; "O" ends one. The IOBES prefixes E- (last
    token) and S- (single token) are read the way conlleval reads them too.
    Any other tag (a bare "PER", "B" without a type, a lowercase "b-PER")
    raises a ValueError naming its position; seqeval would only warn and
    guess.

    Args:
        tags: the tags of one sentence, one per token.
        where: how errors name this sequence.

    Returns:
        A list of (type, start, end) in order, `end` exclusive as in Python
        slices: tokens[start:end] is the entity.

    Example:
    >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
    """
    if isinstance(tags, str):
        raise ValueError(f"{where} must be a sequence of tags, got the string {tags!r}.")
    spans = []
    open_type = open_start = None
    previous_prefix = "O"
    for position, tag in enumerate(tags):
        prefix, entity_type = _split_tag(tag, f"{where}[{position}]")
        continues = (
            open_type is not None
            and prefix in ("I", "E")
            and previous_prefix in ("B", "I")
            and entity_type == open_type
        )
        if not continues:
            if open_type is not None:
                spans.append((open_type, open_start, position))
            open_type, open_start = (None, None) if prefix == "O" else (entity_type, position)
        previous_prefix = prefix
    if open_type is not None:
        spans.append((open_type, open_start, len(tags)))
    return spans


def entity_scores(true_tag_sequences, predicted_tag_sequences):
    """Entity-level precision, recall and F1, as seqeval's default mode reports them.

    A predicted entity is correct only when its type, start and end all equal
    those of a gold entity in the same sentence. Scores are micro-averaged
    over all entities; an undefined ratio (no predicted or no gold entities)
    is 0.0, as seqeval's default.

    Args:
        true_tag_sequences: gold tags, one list per sentence (see
            `entity_spans` for the tag scheme).
        predicted_tag_sequences: predicted tags, the same shape.

    Returns:
        {"precision", "recall", "f1", "per_type": {type: {"precision",
        "recall", "f1", "support"}}}, types sorted by name; "support" counts
        gold entities of that type. Every type found in either side is listed.

    Example:
    >>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> predicted = [["B-PER", "I-PER", "O", "B-ORG"]]
    >>> scores = entity_scores(gold, predicted)
    >>> scores["f1"], scores["per_type"]["PER"]["f1"], scores["per_type"]["LOC"]["support"]
    (0.5, 1.0, 1)
    """
    for name, sequences in (
        ("true_tag_sequences", true_tag_sequences),
        ("predicted_tag_sequences", predicted_tag_sequences),
    ):
        if isinstance(sequences, str) or any(isinstance(sequence, str) for sequence in sequences):
            raise ValueError(f"`{name}` must be a list of tag lists, one per sentence, not a flat list of tags.")
    true_tag_sequences = list(true_tag_sequences)
    predicted_tag_sequences = list(predicted_tag_sequences)
    if len(true_tag_sequences) != len(predicted_tag_sequences):
        raise ValueError(
            f"`true_tag_sequences` and `predicted_tag_sequences` must hold the same number of "
            f"sentences, got {len(true_tag_sequences)} and {len(predicted_tag_sequences)}."
        )
    if not true_tag_sequences:
        raise ValueError("`true_tag_sequences` is empty; need at least one sentence.")

    true_entities = collections.defaultdict(set)
    predicted_entities = collections.defaultdict(set)
    for sentence, (true_tags, predicted_tags) in enumerate(zip(true_tag_sequences, predicted_tag_sequences)):
        if len(true_tags) != len(predicted_tags):
            raise ValueError(
                f"Sentence {sentence} has {len(true_tags)} gold tags but {len(predicted_tags)} "
                "predicted tags; they must align token by token."
            )
        for entities, tags, name in (
            (true_entities, true_tags, "true_tag_sequences"),
            (predicted_entities, predicted_tags, "predicted_tag_sequences"),
        ):
            for entity_type, start, end in entity_spans(tags, where=f"{name}[{sentence}]"):
                entities[entity_type].add((sentence, start, end))

    per_type = {}
    for entity_type in sorted(set(true_entities) | set(predicted_entities)):
        correct = len(true_entities[entity_type] & predicted_entities[entity_type])
        precision, recall, type_f1 = _entity_prf(
            correct, len(predicted_entities[entity_type]), len(true_entities[entity_type])
        )
        per_type[entity_type] = {
            "precision": precision,
            "recall": recall,
            "f1": type_f1,
            "support": len(true_entities[entity_type]),
        }
    correct = sum(len(true_entities[t] & predicted_entities[t]) for t in per_type)
    precision, recall, total_f1 = _entity_prf(
        correct, sum(map(len, predicted_entities.values())), sum(map(len, true_entities.values()))
    )
    return {"precision": precision, "recall": recall, "f1": total_f1, "per_type": per_type}


def _entity_prf(correct, predicted, actual):
    precision = _safe_divide(correct, predicted)
    recall = _safe_divide(correct, actual)
    # seqeval forms F1 from the float precision and recall rather than from
    # the counts as scikit-learn does; the two can differ in the last bit.
    return precision, recall, _safe_divide(2 * precision * recall, precision + recall)


# --------------------------------------------------------------------------
# Extractive question answering (SQuAD v1.1 and v2.0), official script rules.

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    """The official SQuAD answer normalization.

    Lowercases, deletes ASCII punctuation (`string.punctuation`; other
    Unicode punctuation stays, as in the official script), replaces the
    articles a/an/the with spaces, and collapses whitespace.

    Args:
        text: an answer string.

    Example:
    >>> normalize_answer("  The Eiffel-Tower, in PARIS! ")
    'eiffeltower in paris'
    """
    if not isinstance(text, str):
        raise ValueError(f"An answer must be a string, got {type(text).__name__} {text!r}.")
    text = text.lower()
    text = "".join(character for character in text if character not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _gold_texts(gold_answers):
    if isinstance(gold_answers, str):
        raise ValueError(f"`gold_answers` must be a list of strings, got the string {gold_answers!r}.")
    gold_answers = list(gold_answers)
    for position, answer in enumerate(gold_answers):
        if not isinstance(answer, str):
            raise ValueError(f"`gold_answers`[{position}] must be a string, got {answer!r}.")
    # SQuAD v2.0: answers that normalize to nothing are dropped, and an
    # unanswerable question's only correct answer is the empty string.
    return [answer for answer in gold_answers if normalize_answer(answer)] or [""]


def squad_exact_match(prediction, gold_answers):
    """1.0 when the normalized prediction equals a normalized gold answer, else 0.0.

    Args:
        prediction: the predicted answer text ("" for "no answer").
        gold_answers: the gold answer texts; empty for an unanswerable
            question, which only "" matches.

    Example:
    >>> squad_exact_match("the Eiffel Tower", ["Eiffel Tower", "tower"])
    1.0
    >>> squad_exact_match("", [])
    1.0
    """
    if not isinstance(prediction, str):
        raise ValueError(f"`prediction` must be a string, got {prediction!r}.")
    normalized = normalize_answer(prediction)
    return float(max(normalized == normalize_answer(gold) for gold in _gold_texts(gold_answers)))


def _token_f1(gold, prediction):
    gold_tokens = normalize_answer(gold).split()
    predicted_tokens = normalize_answer(prediction).split()
    if not gold_tokens or not predicted_tokens:
        # A "no answer" on either side scores 1 only if both are "no answer".
        return float(gold_tokens == predicted_tokens)
    shared = sum((collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(predicted_tokens)
    recall = shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction, gold_answers):
    """Token-overlap F1 against the best-matching gold answer.

    Args:
        prediction: the predicted answer text ("" for "no answer").
        gold_answers: the gold answer texts; empty for an unanswerable
            question, which only "" matches.

    Example:
    >>> squad_f1("Eiffel Tower in Paris", ["the Eiffel Tower"])
    0.6666666666666666
    """
    if not isinstance(prediction, str):
        raise ValueError(f"`prediction` must be a string, got {prediction!r}.")
    return max(_token_f1(gold, prediction) for gold in _gold_texts(gold_answers))


def _squad_questions(dataset):
    """(question id, gold answer texts, has an answer) for every question."""
    if isinstance(dataset, dict):
        raise ValueError(
            "`dataset` must be the 'data' list of a SQuAD JSON file; got a dict. Pass squad_json['data']."
        )
    seen = set()
    for article_index, article in enumerate(dataset):
        for paragraph_index, paragraph in enumerate(article.get("paragraphs", ())):
            for qa in paragraph.get("qas", ()):
                where = f"dataset[{article_index}]['paragraphs'][{paragraph_index}]"
                if "id" not in qa or "answers" not in qa:
                    raise ValueError(f"{where}: a question lacks 'id' or 'answers': {sorted(qa)}.")
                qid = qa["id"]
                if qid in seen:
                    raise ValueError(f"{where}: question id {qid!r} appears twice in `dataset`.")
                seen.add(qid)
                answers = [answer["text"] for answer in qa["answers"]]
                has_answer = bool(answers)
                if "is_impossible" in qa and bool(qa["is_impossible"]) == has_answer:
                    raise ValueError(
                        f"{where}: question {qid!r} has is_impossible={qa['is_impossible']} but "
                        f"{len(answers)} answers; SQuAD v2.0 gives unanswerable questions none."
                    )
                yield qid, answers, has_answer


def squad_scores(predictions, dataset):
    """Exact match and F1 over a SQuAD data set, in percent, as the official v2.0 script.

    A question with no entry in `predictions` scores 0 on both metrics and
    stays in every total (the official script drops it with a printed
    message, which would inflate the scores); "missing" counts them.
    Predictions for ids not in `dataset` are ignored.

    Args:
        predictions: {question id: predicted answer text}; "" predicts that
            the question has no answer.
        dataset: the "data" list of a parsed SQuAD v1.1 or v2.0 JSON file
            (v2.0 marks unanswerable questions with is_impossible and no
            answers).

    Returns:
        {"exact_match", "f1", "total", "missing"}, plus "HasAns_exact",
        "HasAns_f1", "HasAns_total" when some questions have answers and
        "NoAns_exact", "NoAns_f1", "NoAns_total" when some have none.

    Example:
    >>> data = [{"paragraphs": [{"context": "...", "qas": [
    ...     {"id": "q1", "answers": [{"text": "Paris", "answer_start": 0}]},
    ...     {"id": "q2", "answers": [], "is_impossible": True}]}]}]
    >>> scores = squad_scores({"q1": "paris", "q2": "London"}, data)
    >>> scores["exact_match"], scores["HasAns_exact"], scores["NoAns_exact"], scores["missing"]
    (50.0, 100.0, 0.0, 0)
    """
    if not isinstance(predictions, dict):
        raise ValueError(
            f"`predictions` must be a dict of question id -> answer text, got {type(predictions).__name__}."
        )
    exact, token_f1, groups = {}, {}, {"HasAns": [], "NoAns": []}
    missing = 0
    for qid, answers, has_answer in _squad_questions(dataset):
        groups["HasAns" if has_answer else "NoAns"].append(qid)
        if qid not in predictions:
            missing += 1
            exact[qid] = token_f1[qid] = 0.0
            continue
        prediction = predictions[qid]
        if not isinstance(prediction, str):
            raise ValueError(f"`predictions`[{qid!r}] must be a string (\"\" for no answer), got {prediction!r}.")
        exact[qid] = squad_exact_match(prediction, answers)
        token_f1[qid] = squad_f1(prediction, answers)
    if not exact:
        raise ValueError("`dataset` holds no questions.")

    def percent(scores, qids):
        return 100.0 * sum(scores[qid] for qid in qids) / len(qids)

    result = {
        "exact_match": percent(exact, exact),
        "f1": percent(token_f1, exact),
        "total": len(exact),
        "missing": missing,
    }
    for group, qids in groups.items():
        if qids:
            result[f"{group}_exact"] = percent(exact, qids)
            result[f"{group}_f1"] = percent(token_f1, qids)
            result[f"{group}_total"] = len(qids)
    return result
