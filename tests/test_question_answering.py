"""SpanQuestionAnswerer: windows against Hugging Face's tokenizer, decoding on
hand-made logits, a tiny SQuAD v2.0 fit, save/load and config round trips.

The reference for windows, labels and character offsets is transformers'
BertTokenizerFast on the same vocabulary: its overflowing windows
(`stride` = pieces shared by consecutive windows), `offset_mapping` and
`word_ids` are computed independently of our code.
"""

import json

import keras
import numpy as np
import pytest
from scipy.special import expit
from transformers import BertTokenizerFast

from electra_keras.data import packages
from electra_keras.data.tasks import QAExample, read_squad
from electra_keras.tasks import metrics
from electra_keras.tasks.question_answering import (
    SpanQuestionAnswerer,
    basic_token_spans,
    decode_answers,
)
from electra_keras.training.optimizers import finetune_adamw

LENGTH = 64
SMALL = {"max_position_embeddings": LENGTH}

LONG_CONTEXT = (
    "The Eiffel Tower (French: tour Eiffel) was built between 1887 and 1889 by the company of "
    "Gustave Eiffel, an engineer from Dijon. Visitors often stop at the café Le Jules Verne, whose "
    "chef serves crème brûlée and soufflé au Grand-Marnier! Tokyo's tower, 東京タワー, copied its "
    "shape in 1958; it stands 332.9 metres tall - about 8% taller than the original. Later, the "
    "hospital of St. Mary's (founded c. 1845) treated workers who fell from the iron lattice, "
    "while painters — every seven years — added 60 tonnes of paint to protect it from rust. "
    "Today about seven million people climb it each year, most of them in summer."
)
LONG_ANSWERS = [
    ("Who built the tower?", "the company of Gustave Eiffel"),
    ("What does the chef serve?", "crème brûlée"),
    ("Which tower copied its shape?", "Tokyo's tower, 東京タワー"),
    ("Which hospital treated the workers?", "St. Mary's (founded c. 1845)"),
    ("How tall is it?", "332.9 metres"),
    ("How much taller is it?", "8%"),
]

SQUAD_V2 = {"version": "v2.0", "data": [{"title": "fixtures", "paragraphs": [
    {"context": "Marie Curie was born in Warsaw in 1867. She moved to Paris, where she studied physics "
                "at the Sorbonne. In 1903 she shared the Nobel Prize with Pierre Curie and Henri Becquerel.",
     "qas": [("c1", "Where was Marie Curie born?", "Warsaw"),
             ("c2", "In which year was she born?", "1867"),
             ("c3", "Where did she study physics?", "the Sorbonne"),
             ("c4", "Who shared the Nobel Prize with her?", "Pierre Curie and Henri Becquerel"),
             ("c5", "Which football team did she support?", None)]},
    {"context": "The café on Rue de l'Église serves crème brûlée every Sunday. It opened in 1921 and "
                "was run by Élodie Marchand until 1960.",
     "qas": [("e1", "What does the café serve on Sunday?", "crème brûlée"),
             ("e2", "Who ran the café?", "Élodie Marchand"),
             ("e3", "When did the café open?", "1921"),
             ("e4", "How many tables are there?", None)]},
    {"context": "Mount Fuji is Japan's highest mountain, at 3,776 metres. It last erupted in 1707, "
                "during the Edo period.",
     "qas": [("f1", "How high is Mount Fuji?", "3,776 metres"),
             ("f2", "When did Mount Fuji last erupt?", "1707"),
             ("f3", "Who first climbed Mount Fuji?", None)]},
    {"context": "The river Thames flows through Oxford, Reading and London before it reaches the North Sea.",
     "qas": [("t1", "Which sea does the Thames reach?", "the North Sea"),
             ("t2", "Which city comes first on the Thames?", "Oxford"),
             ("t3", "How many bridges cross it?", None)]},
]}]}


def squad_json(document):
    """SQuAD JSON with answer offsets found in the context (qas given as tuples)."""
    out = {"version": document["version"], "data": []}
    for article in document["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            qas = []
            for qid, question, text in paragraph["qas"]:
                if text is None:
                    qas.append({"id": qid, "question": question, "answers": [], "is_impossible": True})
                else:
                    assert context.count(text) == 1, text
                    qas.append({"id": qid, "question": question, "is_impossible": False,
                                "answers": [{"text": text, "answer_start": context.index(text)}]})
            paragraphs.append({"context": context, "qas": qas})
        out["data"].append({"title": article["title"], "paragraphs": paragraphs})
    return out


@pytest.fixture(scope="module")
def vocabulary():
    return packages.bert_uncased_vocab()


@pytest.fixture(scope="module")
def hf(vocabulary):
    return BertTokenizerFast.from_pretrained(str(vocabulary.parent))


@pytest.fixture(scope="module")
def qa(vocabulary):
    return SpanQuestionAnswerer.from_preset(
        "tiny", vocabulary, config_overrides=SMALL, sequence_length=LENGTH, doc_stride=8,
        max_query_length=16, max_answer_length=10, n_best=5, version_2=True,
    )


def hf_windows(hf, question, context, stride=8):
    return hf(question, context, truncation="only_second", max_length=LENGTH, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")


def test_basic_tokens_are_the_pre_tokenizer_words(hf):
    context = LONG_CONTEXT + " Cafe\u0301 \u200bzero-width, tab\tand\u3000ideographic space."
    encoding = hf(context, add_special_tokens=False, return_offsets_mapping=True)
    words = {}
    for word, (start, end) in zip(encoding.word_ids(), encoding["offset_mapping"]):
        first, last = words.get(word, (start, end))
        words[word] = (min(first, start), max(last, end))
    # Each pre-tokenizer word lies in one basic token, and each basic token holds
    # one word (Hugging Face's offsets leave out stripped accents and deleted
    # characters, which our spans keep: "Café" is (615, 620), "cafe" (615, 619)).
    spans = basic_token_spans(context)
    holding = [next(i for i, (s, e) in enumerate(spans) if s <= start <= end <= e) for start, end in words.values()]
    assert holding == list(range(len(spans)))
    assert basic_token_spans("Crème brûlée, 5$!") == [(0, 5), (6, 12), (12, 13), (14, 15), (15, 16), (16, 17)]


def test_windows_match_hf_overflow_and_labels_decode_to_the_answers(qa, hf):
    questions = [question for question, _ in LONG_ANSWERS]
    answers = [{"text": text, "answer_start": LONG_CONTEXT.index(text)} for _, text in LONG_ANSWERS]

    # An answer that crosses the end of the first window: from the word two
    # pieces before its last context piece to the word two pieces after it.
    probe = hf_windows(hf, "What crosses the boundary?", LONG_CONTEXT)
    assert len(probe["input_ids"]) >= 3
    last = sum(1 for s in probe.sequence_ids(0) if s == 1) - 1  # among the context pieces
    full = hf(LONG_CONTEXT, add_special_tokens=False, return_offsets_mapping=True)

    def word_span(piece):
        word = full.word_ids()[piece]
        offsets = [o for w, o in zip(full.word_ids(), full["offset_mapping"]) if w == word]
        return offsets[0][0], offsets[-1][1]

    crossing_start, crossing_end = word_span(last - 2)[0], word_span(last + 2)[1]
    crossing = LONG_CONTEXT[crossing_start:crossing_end]
    questions.append("What crosses the boundary?")
    answers.append({"text": crossing, "answer_start": crossing_start})
    questions.append("Is there a castle?")
    answers.append(None)

    windows = qa.build_windows(questions, [LONG_CONTEXT] * len(questions), answers)
    labelled_crossing = None
    for example, (question, answer) in enumerate(zip(questions, answers)):
        reference = hf_windows(hf, question, LONG_CONTEXT)
        ours = windows.windows_of(example)
        assert len(ours) == len(reference["input_ids"]) >= 3
        for row, window in enumerate(ours):
            # The same ids, segments and padding as Hugging Face's overflowing windows.
            assert windows.features["token_ids"][window].tolist() == reference["input_ids"][row]
            assert windows.features["segment_ids"][window].tolist() == reference["token_type_ids"][row]
            assert windows.features["padding_mask"][window].tolist() == reference["attention_mask"][row]
            offsets = reference["offset_mapping"][row]
            sequence_ids = reference.sequence_ids(row)
            inside = [i for i, s in enumerate(sequence_ids) if s == 1]
            assert windows.context_offset[window] == inside[0]
            assert windows.window_length[window] == len(inside)
            # Every context piece carries the span of its basic token, which holds the piece.
            spans = windows.piece_spans[example][windows.window_start[window] + np.arange(len(inside))]
            for (start, end), (piece_start, piece_end) in zip(spans, [offsets[i] for i in inside]):
                assert start <= piece_start <= piece_end <= end

            start_label = windows.labels["start_logits"][window]
            end_label = windows.labels["end_logits"][window]
            answerable = windows.labels["answerable_logits"][window]
            holds = answer is not None and any(offsets[i][0] == answer["answer_start"] for i in inside) and any(
                offsets[i][1] == answer["answer_start"] + len(answer["text"]) for i in inside)
            if holds:
                # The labelled pieces read back as the answer, in Hugging Face's offsets too.
                assert answerable == 1.0 and sequence_ids[start_label] == sequence_ids[end_label] == 1
                assert LONG_CONTEXT[offsets[start_label][0]:offsets[end_label][1]] == answer["text"]
                piece = windows.window_start[window] + start_label - windows.context_offset[window]
                last_piece = windows.window_start[window] + end_label - windows.context_offset[window]
                chars = windows.piece_spans[example]
                assert LONG_CONTEXT[chars[piece, 0]:chars[last_piece, 1]] == answer["text"]
                if answer["text"] == crossing:
                    labelled_crossing = row
            else:
                assert (start_label, end_label, answerable) == (0, 0, 0.0)
        # Consecutive windows share exactly doc_stride pieces and cover the context.
        starts, lengths = windows.window_start[ours], windows.window_length[ours]
        np.testing.assert_array_equal(starts[1:], starts[:-1] + lengths[:-1] - qa.doc_stride)
        assert starts[0] == 0 and starts[-1] + lengths[-1] == len(windows.piece_spans[example])
        if answer is not None:
            assert any(windows.labels["answerable_logits"][ours] == 1.0), answer["text"]
    # The crossing answer is partly in window 0 but labelled only in window 1, which holds it.
    assert len(crossing.split()) >= 2 and labelled_crossing == 1

    # What fit reads: the windows, batched, without tf.data's autotuning thread
    # (electra_keras/data/pipeline.py).
    examples = [QAExample(f"q{i}", question, LONG_CONTEXT, [answer] if answer else [], answer is None)
                for i, (question, answer) in enumerate(zip(questions, answers))]
    dataset = qa.as_dataset(examples, batch_size=64)
    assert dataset.options().autotune.enabled is False
    (features, labels), = list(dataset)
    np.testing.assert_array_equal(features["token_ids"].numpy(), windows.features["token_ids"])


def test_decoding_picks_the_best_valid_span(qa):
    question = "What does the chef serve?"
    windows = qa.build_windows([question], [LONG_CONTEXT])
    first = windows.windows_of(0)[0]
    offset, length = windows.context_offset[first], windows.window_length[first]
    spans = windows.piece_spans[0]
    shape = windows.features["token_ids"].shape
    start_logits, end_logits = np.zeros(shape), np.zeros(shape)
    # Tempting but invalid: [CLS], the question, the [SEP]s and the padding.
    start_logits[:, :offset] = end_logits[:, :offset] = 50.0
    start_logits[:, offset + length:] = end_logits[:, offset + length:] = 50.0
    # An end before its start, and a span longer than max_answer_length (10).
    start_logits[first, offset + 20], end_logits[first, offset + 19] = 30.0, 30.0
    start_logits[first, offset + 2], end_logits[first, offset + 2 + 10] = 20.0, 25.0
    # The best valid pair: start 20 (30) with end 22 (9) beats start 2 (20) with end 5 (10).
    end_logits[first, offset + 22] = 9.0
    end_logits[first, offset + 5] = 10.0
    outputs = {"start_logits": start_logits, "end_logits": end_logits}
    answer, = decode_answers(windows, outputs, [LONG_CONTEXT], n_best=5, max_answer_length=10)
    assert (answer["start"], answer["end"]) == (spans[20, 0], spans[22, 1])
    assert answer["text"] == LONG_CONTEXT[spans[20, 0]:spans[22, 1]] and answer["score"] == 39.0
    # n_best=1 keeps start 20 and end 19 only: no valid span anywhere (later
    # windows pair their first max-context start with an end at their first piece).
    answer, = decode_answers(windows, outputs, [LONG_CONTEXT], n_best=1, max_answer_length=10)
    assert answer == {"text": "", "start": None, "end": None, "score": None}
    # Allowing 11 pieces makes start 2 .. end 12 (45) the best.
    answer, = decode_answers(windows, outputs, [LONG_CONTEXT], n_best=5, max_answer_length=11)
    assert (answer["start"], answer["end"], answer["score"]) == (spans[2, 0], spans[12, 1], 45.0)


def test_decoding_reads_shared_pieces_where_they_have_most_context(qa):
    windows = qa.build_windows(["Who built the tower?"], [LONG_CONTEXT])
    w0, w1 = windows.windows_of(0)[:2]
    # The last piece of window 0 is near window 1's start: it has more context in window 1.
    piece = windows.window_start[w0] + windows.window_length[w0] - 2
    position_in = {w: windows.context_offset[w] + piece - windows.window_start[w] for w in (w0, w1)}
    assert not windows.max_context(w0)[piece - windows.window_start[w0]]
    assert windows.max_context(w1)[piece - windows.window_start[w1]]
    shape = windows.features["token_ids"].shape
    start_logits, end_logits = np.zeros(shape), np.zeros(shape)
    # In window 0 only the shared piece scores (40 + 40); in window 1 it scores 5 + 5.
    start_logits[w0], end_logits[w0] = -100.0, -100.0
    start_logits[w0, position_in[w0]], end_logits[w0, position_in[w0]] = 40.0, 40.0
    start_logits[w1, position_in[w1]], end_logits[w1, position_in[w1]] = 5.0, 5.0
    answer, = decode_answers(windows, {"start_logits": start_logits, "end_logits": end_logits}, [LONG_CONTEXT])
    # A start is read only where the piece has most context: window 1's 10 wins over window 0's 80.
    assert answer["score"] == 10.0
    assert answer["text"] == LONG_CONTEXT[slice(*windows.piece_spans[0][piece])]


def test_unanswerable_threshold(qa):
    contexts = [LONG_CONTEXT, "Ada wrote the first program."]
    windows = qa.build_windows(["Who?", "Who wrote it?"], contexts)
    shape = windows.features["token_ids"].shape
    start_logits, end_logits = np.zeros(shape), np.zeros(shape)
    second = windows.windows_of(1)[0]
    start_logits[second, windows.context_offset[second]] = end_logits[second, windows.context_offset[second]] = 3.0
    answerable = np.full(len(windows), -4.0)
    answerable[windows.windows_of(0)[1]] = 0.3  # the question's best window decides
    answerable[second] = 2.0
    outputs = {"start_logits": start_logits, "end_logits": end_logits, "answerable_logits": answerable}
    at_half = decode_answers(windows, outputs, contexts, answerable_threshold=0.5)
    assert at_half[0]["answerable_probability"] == pytest.approx(expit(0.3))
    assert at_half[0]["text"] != "" and at_half[1]["text"] == "Ada"
    at_high = decode_answers(windows, outputs, contexts, answerable_threshold=expit(0.3) + 1e-6)
    assert at_high[0]["text"] == "" and at_high[0]["start"] is None and at_high[1]["text"] == "Ada"
    assert at_high[1]["answerable_probability"] == pytest.approx(expit(2.0))
    with pytest.raises(ValueError, match="answerable_threshold"):
        decode_answers(windows, {"start_logits": start_logits, "end_logits": end_logits}, contexts,
                       answerable_threshold=0.5)


def test_arguments_are_checked(vocabulary, qa):
    with pytest.raises(ValueError, match="doc_stride=45"):
        SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, sequence_length=LENGTH,
                                         doc_stride=45, max_query_length=16)
    with pytest.raises(ValueError, match="max_query_length=61"):
        SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, sequence_length=LENGTH,
                                         doc_stride=0, max_query_length=61)
    with pytest.raises(ValueError, match=r"answers\[0\].*does not match"):
        qa.build_windows(["Who?"], ["Ada wrote it."], [{"text": "Bob", "answer_start": 0}])
    with pytest.raises(ValueError, match="questions and contexts"):
        qa.build_windows(["Who?", "When?"], ["Ada wrote it."])
    with pytest.raises(ValueError, match="contexts: a list"):
        qa.answer(["Who?"], "Ada wrote it.")
    v1 = SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, sequence_length=LENGTH,
                                          doc_stride=8, max_query_length=16, head="bert")
    # A SQuAD v1.1 model always answers, with no answerable head.
    answer, = v1.answer(["Who wrote it?"], ["Ada wrote it."])
    assert set(answer) == {"text", "start", "end", "score"}
    assert set(v1(v1.build_windows(["Who?"], ["Ada."]).features)) == {"start_logits", "end_logits"}
    assert answer["text"] == "Ada wrote it."[answer["start"]:answer["end"]] != ""
    with pytest.raises(ValueError, match="unanswerable.*version_2=False"):
        v1.fit([QAExample("q", "Who?", "Ada.", [], True)], epochs=1, verbose=0)


@pytest.mark.threshold
def test_fits_squad_v2_fixture_and_round_trips(tmp_path, vocabulary, record_property):
    path = tmp_path / "train-v2.0.json"
    path.write_text(json.dumps(squad_json(SQUAD_V2)), encoding="utf-8")
    examples = read_squad(path)
    assert examples.version == "2.0" and len(examples) == 15 and not examples.skipped

    quiet = {**SMALL, "dropout_rate": 0.0, "attention_dropout_rate": 0.0}
    qa = SpanQuestionAnswerer.from_preset(
        "tiny", vocabulary, config_overrides=quiet, sequence_length=LENGTH, doc_stride=16,
        max_query_length=16, version_2=True, dropout_rate=0.0, head="bert",
    )
    epochs, batch_size = 150, 16
    steps = epochs * -(-qa.count_windows(examples) // batch_size)
    assert qa.count_windows(examples) == 15  # every question fits one window
    qa.compile(optimizer=finetune_adamw(qa, learning_rate=1e-2, total_steps=steps, layer_decay=1.0))
    before = qa.evaluate_squad(examples)
    history = qa.fit(examples, validation_data=list(examples), validation_freq=epochs, epochs=epochs,
                     batch_size=batch_size, verbose=0)
    after = qa.evaluate_squad(examples)
    losses = history.history["loss"]
    record_property("figures", {"loss": losses[-1], "exact_match": after["exact_match"]})
    assert losses[-1] < 0.1 * losses[0] and history.history["val_loss"][-1] < 0.1 * losses[0]
    assert after["exact_match"] >= 80.0 and after["exact_match"] > before["exact_match"] + 30.0
    assert after["NoAns_total"] == 4 and after["HasAns_total"] == 11

    # Predictions scored by the official rules give the same scores.
    predictions = qa.predict_answers(examples)
    assert metrics.squad_scores(predictions, json.loads(path.read_text())["data"]) == after
    answers = qa.answer([e.question for e in examples], [e.context for e in examples])
    for example, answer in zip(examples, answers):
        assert answer["text"] == predictions[example.qid]
        if answer["text"]:
            assert example.context[answer["start"]:answer["end"]] == answer["text"]

    qa.save(tmp_path / "qa.keras")
    loaded = keras.saving.load_model(tmp_path / "qa.keras")
    assert isinstance(loaded, SpanQuestionAnswerer) and loaded.version_2 and loaded.doc_stride == 16
    reloaded = loaded.answer([e.question for e in examples], [e.context for e in examples])
    assert [a["text"] for a in reloaded] == [a["text"] for a in answers]
    np.testing.assert_allclose([a["score"] for a in reloaded], [a["score"] for a in answers], atol=1e-5)
    # The compiled loss (with its weights) comes back too.
    np.testing.assert_allclose(loaded.evaluate(examples, verbose=0, return_dict=True)["loss"],
                               qa.evaluate(examples, verbose=0, return_dict=True)["loss"], rtol=1e-4)
    rebuilt = SpanQuestionAnswerer.from_config(qa.get_config())
    assert rebuilt.get_config() == qa.get_config()
    assert {"doc_stride", "max_query_length", "max_answer_length", "version_2", "n_best"} <= set(qa.get_config())


def _gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))  # ELECTRA's modeling.gelu (erf)


def official_electra_qa(hidden, input_mask, segment_ids, weights, beam, start_positions=None):
    """A NumPy transcription of google-research/electra finetune/qa/qa_tasks.py
    (joint_prediction, answerable_classifier, answerable_uses_start_logits)."""
    batch, length, _ = hidden.shape
    answer_mask = input_mask * segment_ids + np.eye(length)[0]
    dense = lambda x, name: x @ weights[name][0] + weights[name][1]  # noqa: E731
    start_logits = dense(hidden, "start")[..., 0] + 1000.0 * (answer_mask - 1)
    out = {"start_logits": start_logits}

    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    if start_positions is not None:  # is_training
        start_features = hidden[np.arange(batch), start_positions]
        final = np.concatenate([np.repeat(start_features[:, None], length, 1), hidden], -1)
        out["end_logits"] = dense(_gelu(dense(final, "end_hidden")), "end")[..., 0] + 1000.0 * (answer_mask - 1)
    else:
        log_probs = log_softmax(start_logits)
        top = np.argsort(-log_probs, axis=-1, kind="stable")[:, :beam]
        out["start_top_index"] = top
        out["start_top_log_probs"] = np.take_along_axis(log_probs, top, -1)
        start_features = hidden[np.arange(batch)[:, None], top]  # batch, beam, hidden
        final = np.concatenate([np.repeat(start_features[:, :, None], length, 2),
                                np.repeat(hidden[:, None], beam, 1)], -1)
        end_logits = dense(_gelu(dense(final, "end_hidden")), "end")[..., 0] + 1000.0 * (answer_mask - 1)[:, None]
        end_log_probs = log_softmax(end_logits)
        end_top = np.argsort(-end_log_probs, axis=-1, kind="stable")[..., :beam]
        out["end_top_index"] = end_top
        out["end_top_log_probs"] = np.take_along_axis(end_log_probs, end_top, -1)
    start_p = np.exp(log_softmax(start_logits))
    final = np.concatenate([hidden[:, 0], (start_p[..., None] * hidden).sum(1)], -1)
    out["impossible_logit"] = dense(_gelu(dense(final, "answerable_hidden")), "answerable")[..., 0]
    return out


def test_electra_head_is_the_official_qa_math(vocabulary):
    qa = SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, sequence_length=LENGTH,
                                          doc_stride=8, max_query_length=16, n_best=4, version_2=True,
                                          head="electra")
    head = qa.span_head
    # Larger weights than the initializer's, so that every term shows in the logits.
    rng = np.random.default_rng(0)
    for variable in head.weights:
        variable.assign(rng.normal(scale=0.25, size=variable.shape).astype("float32"))
    weights = {layer.name: [w.numpy().astype("float64") for w in layer.weights] for layer in
               (head.start_dense, head.end_hidden, head.end_dense, head.answerable_hidden, head.answerable_dense)}
    windows = qa.build_windows(["Who built the tower?", "How tall is it?"], [LONG_CONTEXT, LONG_CONTEXT])
    features = {name: value[:3] for name, value in windows.features.items()}
    hidden = qa.encode(features)["sequence_output"].numpy().astype("float64")
    mask = (features["padding_mask"].astype("float64"), features["segment_ids"].astype("float64"))

    ours = {name: np.asarray(value) for name, value in qa(features).items()}
    official = official_electra_qa(hidden, *mask, weights, beam=4)
    allowed = mask[0] * mask[1] + np.eye(mask[0].shape[1])[0] > 0
    assert ours["start_logits"][allowed].std() > 0.3  # O(1) logits inside the context
    # 1e-5 where an answer may be; the masked positions sit at -1000 + x, where float32 keeps 6e-5.
    np.testing.assert_allclose(ours["start_logits"][allowed], official["start_logits"][allowed], atol=1e-5)
    np.testing.assert_allclose(ours["start_logits"], official["start_logits"], atol=2e-4)
    np.testing.assert_array_equal(ours["start_top_index"], official["start_top_index"])
    np.testing.assert_array_equal(ours["end_top_index"], official["end_top_index"])
    for name in ("start_top_log_probs", "end_top_log_probs"):
        np.testing.assert_allclose(ours[name], official[name], atol=1e-5)
    np.testing.assert_allclose(ours["answerable_logits"], -official["impossible_logit"], atol=1e-5)
    # Training conditions the end on the gold start.
    gold = (windows.context_offset[:3] + np.array([0, 3, 5])).astype("int32")
    trained = qa({**features, "start_positions": gold})
    conditioned = official_electra_qa(hidden, *mask, weights, beam=4, start_positions=gold)
    np.testing.assert_allclose(trained["end_logits"].numpy()[allowed], conditioned["end_logits"][allowed], atol=1e-5)


@pytest.mark.slow
@pytest.mark.threshold
def test_electra_head_fits_squad_v2_and_round_trips(tmp_path, vocabulary, record_property):
    path = tmp_path / "train-v2.0.json"
    path.write_text(json.dumps(squad_json(SQUAD_V2)), encoding="utf-8")
    examples = read_squad(path)
    quiet = {**SMALL, "dropout_rate": 0.0, "attention_dropout_rate": 0.0}
    qa = SpanQuestionAnswerer.from_preset(
        "tiny", vocabulary, config_overrides=quiet, sequence_length=LENGTH, doc_stride=16,
        max_query_length=16, version_2=True, head="electra", n_best=5,
    )
    epochs, batch_size = 120, 16
    qa.compile(optimizer=finetune_adamw(qa, learning_rate=1e-2, total_steps=epochs, layer_decay=1.0))
    # ELECTRA's answerable_weight: 0.5, next to (start + end) / 2.
    weights = qa._compile_config.config["loss_weights"]
    assert weights == {"start_logits": 0.5, "end_logits": 0.5, "answerable_logits": 0.5}
    history = qa.fit(examples, epochs=epochs, batch_size=batch_size, verbose=0)
    losses = history.history["loss"]
    after = qa.evaluate_squad(examples)
    record_property("figures", {"loss": losses[-1], "exact_match": after["exact_match"]})
    assert losses[-1] < 0.1 * losses[0]
    assert after["exact_match"] >= 80.0 and after["NoAns_total"] == 4
    answers = qa.answer([e.question for e in examples], [e.context for e in examples])
    for answer in answers:
        assert answer["text"] == "" or answer["score"] <= 0  # a sum of two log-probabilities
    qa.save(tmp_path / "qa.keras")
    loaded = keras.saving.load_model(tmp_path / "qa.keras")
    assert loaded.head == "electra"
    reloaded = loaded.answer([e.question for e in examples], [e.context for e in examples])
    assert [a["text"] for a in reloaded] == [a["text"] for a in answers]

    # TF Serving's graph decodes the beam as the Python API does (span_decoding, one implementation).
    import tensorflow as tf

    from electra_keras.export import export_saved_model

    served = tf.saved_model.load(str(export_saved_model(qa, tmp_path / "served"))).signatures["serving_default"]
    out = served(question=tf.constant([e.question for e in examples]), context=tf.constant([e.context for e in examples]))
    for row, answer in enumerate(answers):
        assert out["answer"][row].numpy().decode() == answer["text"]
        assert out["answerable_probability"][row].numpy() == pytest.approx(answer["answerable_probability"], abs=1e-5)
        if answer["text"]:
            assert (out["start"][row], out["end"][row]) == (answer["start"], answer["end"])
            assert out["score"][row].numpy() == pytest.approx(answer["score"], abs=1e-4)


def test_the_head_follows_the_encoder_family(vocabulary):
    """ELECTRA encoders get ELECTRA's head, BERT and ALBERT encoders BERT's; a model saved
    before the option existed (no "head" in its config) has BERT's."""
    common = dict(sequence_length=LENGTH, doc_stride=8, max_query_length=16)
    electra = SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, **common)
    albert = SpanQuestionAnswerer.from_preset(
        "tiny", vocabulary, **common,
        config_overrides={**SMALL, "family": "albert", "generator_size": None, "share": "all", "pooler": True})
    assert (electra.head, albert.head) == ("electra", "bert")
    old = {key: value for key, value in electra.get_config().items() if key != "head"}
    assert SpanQuestionAnswerer.from_config(old).head == "bert"
    with pytest.raises(ValueError, match="head='xlnet': expected one of"):
        SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, head="xlnet", **common)


def official_beam_decode(windows, outputs, example, max_answer_length):
    """google-research/electra finetune/qa/qa_metrics.py (joint prediction), transcribed:
    every beam start with its beam ends, kept when both map to context pieces, the start has
    its max context there, end >= start and the span is short enough; best start + end log-prob."""
    best = None
    for window in windows.windows_of(example):
        offset, length = windows.context_offset[window], windows.window_length[window]
        is_max_context = windows.max_context(window)
        for i, start_index in enumerate(outputs["start_top_index"][window]):
            for j, end_index in enumerate(outputs["end_top_index"][window][i]):
                if not (offset <= start_index < offset + length and offset <= end_index < offset + length):
                    continue  # not in token_to_orig_map
                if not is_max_context[start_index - offset] or end_index < start_index:
                    continue
                if end_index - start_index + 1 > max_answer_length:
                    continue
                score = outputs["start_top_log_probs"][window][i] + outputs["end_top_log_probs"][window][i][j]
                if best is None or score > best[0]:
                    first = windows.window_start[window] + start_index - offset
                    best = (score, first, first + end_index - start_index)
    return best


def test_beam_decoding_is_the_official_rule(qa):
    questions = ["Who built the tower?", "How tall is it?", "What does the chef serve?"]
    windows = qa.build_windows(questions, [LONG_CONTEXT] * 3)
    rng = np.random.default_rng(3)
    beam, shape = 6, windows.features["token_ids"].shape
    outputs = {
        "start_logits": np.zeros(shape),
        # Indices anywhere in the window (question, [SEP], padding too), so every rule is exercised.
        "start_top_index": rng.integers(0, shape[1], (shape[0], beam)),
        "start_top_log_probs": -rng.exponential(2.0, (shape[0], beam)),
        "end_top_index": rng.integers(0, shape[1], (shape[0], beam, beam)),
        "end_top_log_probs": -rng.exponential(2.0, (shape[0], beam, beam)),
    }
    answers = decode_answers(windows, outputs, [LONG_CONTEXT] * 3, max_answer_length=10)
    found = 0
    for example, answer in enumerate(answers):
        official = official_beam_decode(windows, outputs, example, max_answer_length=10)
        if official is None:
            assert answer["score"] is None
            continue
        found += 1
        spans = windows.piece_spans[example]
        assert answer["score"] == pytest.approx(official[0], abs=1e-9)
        assert (answer["start"], answer["end"]) == (spans[official[1], 0], spans[official[2], 1])
    assert found >= 2
