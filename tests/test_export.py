"""SavedModel and TFLite export: what TF Serving and LiteRT get.

TF Serving itself cannot be installed here, so its contract is checked piece
by piece: a fresh process with only tensorflow + tensorflow_text loads every
export and matches Keras; `saved_model_cli` lists the signatures; every op of
every graph is on the allow-list; a gRPC PredictRequest built as the README
builds it runs. Bad inputs run through the reloaded SavedModels and the TFLite
models.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from electra_keras.config import ModelConfig
from electra_keras.data import packages
from electra_keras.export import export_saved_model
from electra_keras.export.saved_model import allowed_ops, graph_ops, unservable_ops
from electra_keras.export.serving import configured_names, served_models, write_models_config
from electra_keras.export.tflite import LiteRTModel, export_tflite
from electra_keras.models import ElectraDiscriminator
from electra_keras.tasks.classifier import TextClassifier
from electra_keras.tasks.question_answering import SpanQuestionAnswerer
from electra_keras.tasks.token_classifier import split_words
from electra_keras.tasks.token_classifier import TokenClassifier

SMALL = {"max_position_embeddings": 64}
BERT_STYLE = {**SMALL, "family": "bert", "pooler": True, "embedding_size": 32, "generator_size": None,
              "hidden_act": "gelu_new", "share": "all"}
LENGTH = 16
NAMES = ["negative", "neutral", "positive"]
TEXTS = ["A gripping, beautifully shot film.", "two hours I will never get back", "Crème brûlée [MASK] ok"]
PAIRS = (["how old is she?", "where is it"], ["She is 30.", "in Paris, France"])
SENTENCES = ["Obama visited Paris, yesterday.", "the quick brown fox", ""]
QUESTIONS = ["Who wrote the first program?", "where?", "", "a question longer than max_query_length pieces, cut"]
CONTEXTS = ["Ada Lovelace wrote the first program, in 1843, for Babbage's engine. " * 8,  # many windows
            "Crème brûlée, 5$! in Paris \u2014 the café 東京 is here.", "", "short"]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def vocabulary():
    return packages.bert_uncased_vocab()


@pytest.fixture(scope="module")
def models(vocabulary):
    common = dict(config_overrides=SMALL, sequence_length=LENGTH, dropout_rate=0.0)
    models = {
        "classifier": TextClassifier.from_preset("tiny", vocabulary, label_names=NAMES, **common),
        # A BERT/ALBERT-style encoder: pooler (tanh) and the tanh-approximated GELU.
        "pair": TextClassifier.from_preset("tiny", vocabulary, num_classes=2, pair=True, sequence_length=LENGTH,
                                           dropout_rate=0.0, config_overrides=BERT_STYLE),
        "tagger": TokenClassifier.from_preset("tiny", vocabulary, tag_names=["O", "B-loc", "I-loc"], **common),
        "discriminator": ElectraDiscriminator(ModelConfig.from_preset("tiny", vocab_size=30522, **SMALL)),
        # Short windows, so the contexts above span several.
        "qa": SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, sequence_length=32,
                                               doc_stride=4, max_query_length=8, max_answer_length=5, n_best=5,
                                               version_2=True, dropout_rate=0.0, head="bert"),
    }
    # Answerable (sigmoid(1) = 0.73 > 0.5) wherever the context has a span, so answers are compared.
    models["qa"].answerable_head.bias.assign([1.0])
    return models


@pytest.fixture(scope="module")
def exported(models, vocabulary, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    paths = {}
    for name, model in models.items():
        bare = name == "discriminator"
        paths[name] = export_saved_model(
            model, root / name, vocabulary=vocabulary if bare else None, sequence_length=LENGTH if bare else None
        )
    return paths


def token_inputs(tokenizer, texts, length):
    packed = tokenizer(texts, sequence_length=length)
    return {"input_ids": packed["token_ids"].numpy(), "input_mask": packed["padding_mask"].numpy(),
            "segment_ids": packed["segment_ids"].numpy()}


def as_model_inputs(ids):
    return {"token_ids": ids["input_ids"], "padding_mask": ids["input_mask"], "segment_ids": ids["segment_ids"]}


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# --- layout ------------------------------------------------------------------------


def test_versions_assets_models_config_and_saved_model_cli(tmp_path, models):
    classifier = models["classifier"]
    first = export_saved_model(classifier, tmp_path / "sentiment")
    second = export_saved_model(classifier, tmp_path / "sentiment")
    assert (first.name, second.name) == ("1", "2")
    with pytest.raises(FileExistsError, match="this version exists"):
        export_saved_model(classifier, tmp_path / "sentiment", version=2)
    assets = second / "assets"
    assert (assets / "vocab.txt").read_text(encoding="utf-8").splitlines() == classifier.vocabulary
    assert (assets / "labels.txt").read_text().splitlines() == NAMES

    (tmp_path / "not-a-model").mkdir()
    assert served_models(tmp_path) == ["sentiment"]
    config = write_models_config(tmp_path).read_text()
    assert 'name: "sentiment"' in config and 'base_path: "/models/sentiment"' in config
    assert config.startswith("model_config_list {") and "not-a-model" not in config

    shown = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir", str(second), "--all"],
        capture_output=True, text=True, check=True,
    ).stdout
    for expected in ("signature_def['serving_default']", "signature_def['token_ids']", "inputs['text']",
                     "inputs['input_ids']", "inputs['input_mask']", "inputs['segment_ids']",
                     "outputs['label']", "outputs['probabilities']"):
        assert expected in shown, expected


def test_models_config_keeps_what_the_user_wrote(tmp_path, models):
    """A hand-edited models.config (another model, a version policy, labels, comments) keeps
    every byte; an export only adds its own entry, once."""
    handwritten = (
        "# our production server\n"
        "model_config_list {\n"
        "  config {\n"
        '    name: "ranker"  # not ours\n'
        '    base_path: "/srv/ranker"\n'
        '    model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 3 versions: 4 } }\n"
        '    version_labels { key: "stable" value: 3 }\n'
        "  }\n"
        "}\n"
    )
    config_file = tmp_path / "models.config"
    config_file.write_text(handwritten)
    export_saved_model(models["classifier"], tmp_path / "sentiment")
    written = write_models_config(tmp_path).read_text()
    head, tail = handwritten.rsplit("}", 1)
    assert written.startswith(head) and written.endswith("}" + tail)  # the user's text, untouched
    assert configured_names(written) == ["ranker", "sentiment"]
    assert 'base_path: "/models/sentiment"' in written
    export_saved_model(models["classifier"], tmp_path / "sentiment")  # a new version: the entry exists
    assert write_models_config(tmp_path).read_text() == written
    config_file.write_text("model_config_list { config { name: \"a\" }\n")
    with pytest.raises(ValueError, match=r"models.config:1: `model_config_list \{` is never closed"):
        write_models_config(tmp_path)
    config_file.write_text("something else\n")
    with pytest.raises(ValueError, match="no `model_config_list"):
        write_models_config(tmp_path)


# --- TF Serving's contract ------------------------------------------------------------


@pytest.mark.slow
def test_fresh_process_with_only_tensorflow_serves_like_keras(tmp_path, models, exported):
    classifier, pair, tagger, discriminator = (models[k] for k in ("classifier", "pair", "tagger", "discriminator"))
    ids = token_inputs(classifier.tokenizer, TEXTS, 11)  # a length other than the export's
    jobs = [
        {"key": "classifier", "model": str(exported["classifier"]), "signature": "serving_default",
         "inputs": {"text": TEXTS}},
        {"key": "classifier_ids", "model": str(exported["classifier"]), "signature": "token_ids",
         "inputs": {k: v.tolist() for k, v in ids.items()}},
        {"key": "pair", "model": str(exported["pair"]), "signature": "serving_default",
         "inputs": {"text": PAIRS[0], "text_b": PAIRS[1]}},
        {"key": "tagger", "model": str(exported["tagger"]), "signature": "serving_default",
         "inputs": {"text": SENTENCES}},
        {"key": "tagger_ids", "model": str(exported["tagger"]), "signature": "token_ids",
         "inputs": {k: v.tolist() for k, v in ids.items()}},
        {"key": "encoder", "model": str(exported["discriminator"]), "signature": "serving_default",
         "inputs": {"text": TEXTS}},
        {"key": "encoder_ids", "model": str(exported["discriminator"]), "signature": "token_ids",
         "inputs": {k: v.tolist() for k, v in ids.items()}},
        {"key": "qa", "model": str(exported["qa"]), "signature": "serving_default",
         "inputs": {"question": QUESTIONS, "context": CONTEXTS}},
        {"key": "qa_ids", "model": str(exported["qa"]), "signature": "token_ids",
         "inputs": {k: v.tolist() for k, v in ids.items()}},
    ]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    client = Path(__file__).with_name("serving_client.py")
    subprocess.run([sys.executable, str(client), str(tmp_path / "jobs.json"), str(tmp_path / "out.npz")],
                   check=True, capture_output=True)
    served = np.load(tmp_path / "out.npz", allow_pickle=True)
    # (`import tensorflow` itself pulls in parts of keras; our code and keras_hub stay out.)
    assert not {"electra_keras", "keras_hub"} & set(served["modules"])

    logits = classifier.predict(TEXTS, verbose=0)
    assert max_diff(served["classifier/logits"], logits) <= TOLERANCE
    assert max_diff(served["classifier/probabilities"], tf.nn.softmax(logits)) <= TOLERANCE
    assert [s.decode() for s in served["classifier/label"]] == classifier.predict_labels(TEXTS)
    np.testing.assert_array_equal(served["classifier/label_id"], np.argmax(logits, axis=-1))
    assert max_diff(served["classifier_ids/logits"], classifier(as_model_inputs(ids))) <= TOLERANCE

    assert max_diff(served["pair/logits"], pair.predict(PAIRS, verbose=0)) <= TOLERANCE
    assert [s.decode() for s in served["pair/label"]] == [str(i) for i in pair.predict_labels(PAIRS)]

    tags = tagger.predict_tags(SENTENCES)
    # Words as tagged corpora write them: "Paris," is "Paris" and ",".
    assert served["tagger/num_words"].tolist() == [6, 4, 0]
    for row, sentence_tags in enumerate(tags):
        assert [t.decode() for t in served["tagger/tags"][row][: len(sentence_tags)]] == sentence_tags
        words = [w.decode() for w in served["tagger/words"][row][: len(sentence_tags)]]
        assert words == split_words(SENTENCES[row])
    assert max_diff(served["tagger_ids/logits"], tagger(as_model_inputs(ids))) <= TOLERANCE

    packed = classifier.tokenizer(TEXTS)
    encoded = discriminator.encoder(packed)["sequence_output"]
    assert max_diff(served["encoder/sequence_output"], encoded) <= TOLERANCE
    assert max_diff(served["encoder/replaced_logits"], discriminator(packed)) <= TOLERANCE
    np.testing.assert_array_equal(served["encoder/padding_mask"], packed["padding_mask"])
    assert max_diff(served["encoder_ids/replaced_logits"], discriminator(as_model_inputs(ids))) <= TOLERANCE

    # QA: windows, n-best decoding and the answerable threshold in the graph
    # give what SpanQuestionAnswerer.answer gives in Python.
    qa = models["qa"]
    answers = qa.answer(QUESTIONS, CONTEXTS)
    assert served["qa/num_windows"].tolist() == [len(qa.build_windows([q], [c])) for q, c in zip(QUESTIONS, CONTEXTS)]
    assert served["qa/num_windows"][0] > 5
    assert [a["text"] != "" for a in answers] == [True, True, False, True]  # the empty context has no span
    for row, answer in enumerate(answers):
        assert served["qa/answer"][row].decode() == answer["text"], row
        assert served["qa/answerable_probability"][row] == pytest.approx(answer["answerable_probability"], abs=1e-6)
        if answer["start"] is not None:
            assert (served["qa/start"][row], served["qa/end"][row]) == (answer["start"], answer["end"])
            assert served["qa/score"][row] == pytest.approx(answer["score"], abs=1e-5)
        else:
            assert (served["qa/start"][row], served["qa/end"][row]) == (-1, -1)
    outputs = qa(as_model_inputs(ids))
    assert max_diff(served["qa_ids/start_logits"], outputs["start_logits"]) <= TOLERANCE
    assert max_diff(served["qa_ids/answerable_logits"], outputs["answerable_logits"]) <= TOLERANCE


@pytest.mark.slow
def test_raw_text_requests_pad_to_their_bucket_not_the_full_length(tmp_path, models, vocabulary):
    """A batch of short texts runs at its longest sequence rounded up to the bucket, with the
    full-length outputs at every real position; None keeps the full length."""
    classifier, tagger, discriminator = models["classifier"], models["tagger"], models["discriminator"]
    short = ["a film", "two hours i will never get"]  # 4 and 8 pieces with [CLS], [SEP]
    lengths = classifier.tokenizer(short)["padding_mask"].numpy().sum(axis=1).tolist()
    assert lengths == [4, 8] and LENGTH == 16
    for bucket, width in ((3, 9), (16, 16), (None, 16)):
        folder = tmp_path / f"bucket-{bucket}"
        encoder = tf.saved_model.load(str(export_saved_model(
            discriminator, folder / "encoder", vocabulary=vocabulary, sequence_length=LENGTH,
            length_bucket=bucket))).signatures["serving_default"]
        served = encoder(text=tf.constant(short))
        assert served["sequence_output"].shape[1] == width and served["padding_mask"].shape[1] == width
        packed = classifier.tokenizer(short)
        full = discriminator.encoder(packed)["sequence_output"].numpy()
        real = packed["padding_mask"].numpy()[:, :width, None] > 0
        assert max_diff(np.where(real, served["sequence_output"], 0), np.where(real, full[:, :width], 0)) <= TOLERANCE
    # The task models share that code: a classifier and a tagger in a bucket shorter than the texts.
    served = tf.saved_model.load(str(export_saved_model(classifier, tmp_path / "classifier", length_bucket=3)))
    logits = served.signatures["serving_default"](text=tf.constant(short))["logits"]
    assert max_diff(logits, classifier.predict(short, verbose=0)) <= TOLERANCE
    tags = tf.saved_model.load(str(export_saved_model(tagger, tmp_path / "tagger", length_bucket=3)))
    served = {k: v.numpy() for k, v in tags.signatures["serving_default"](text=tf.constant(SENTENCES)).items()}
    for row, sentence_tags in enumerate(tagger.predict_tags(SENTENCES)):
        assert [t.decode() for t in served["tags"][row][: len(sentence_tags)]] == sentence_tags
    with pytest.raises(ValueError, match="length_bucket: expected a positive int or None; got 0"):
        export_saved_model(classifier, tmp_path / "bad", length_bucket=0)


def test_graph_ops_are_on_the_serving_allow_list(exported, tmp_path):
    sections = allowed_ops()
    assert all(hasattr(tf.raw_ops, op) for op in sections["core"]), "a [core] op that is not core TensorFlow"
    assert sections["tensorflow_text"] == {"NormalizeUTF8", "WordpieceTokenizeWithOffsets",
                                           "SentencepieceOp", "SentencepieceTokenizeOp"}
    assert not sections["denied"] & (sections["core"] | sections["tensorflow_text"])
    for name, path in exported.items():
        ops = graph_ops(path)
        # The walk reaches the function bodies: the model's and the tokenizer's ops are there.
        assert {"WordpieceTokenizeWithOffsets", "NormalizeUTF8", "BatchMatMulV2", "Softmax"} <= ops, name
        assert "Einsum" not in ops, name  # attention as plain matmuls (plain_matmul_attention)
        assert unservable_ops(path) == set(), name

    # The check itself can fail: a graph using the newer tokenizer ops is caught.
    import tensorflow_text as tf_text

    module = tf.Module()
    normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=True)
    module.f = tf.function(lambda x: normalizer.normalize(x), input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "fast"))
    assert "FastBertNormalize" in unservable_ops(tmp_path / "fast")


def test_grpc_predict_request_as_in_the_readme(exported, models):
    """The README's gRPC request, answered the way the model server answers it."""
    from tensorflow_serving.apis import predict_pb2  # requirements-data.txt, which `make test` installs

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "sentiment"
    request.model_spec.signature_name = "serving_default"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(["a gripping film", "a tedious, joyless mess"]))

    served = tf.saved_model.load(str(exported["classifier"]))
    signature = served.signatures[request.model_spec.signature_name]
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    response = predict_pb2.PredictResponse()
    for name, value in signature(**inputs).items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    labels = [label.decode() for label in tf.make_ndarray(response.outputs["label"])]
    assert labels == models["classifier"].predict_labels(["a gripping film", "a tedious, joyless mess"])
    assert tf.make_ndarray(response.outputs["probabilities"]).shape == (2, 3)


# --- bad input ------------------------------------------------------------------------

LONG = "good " * 20_000  # 100,000 characters
BAD_UTF8 = b"\xff\xfe good \xc3"


def test_bad_inputs_never_crash_the_reloaded_saved_model(exported, models):
    served = tf.saved_model.load(str(exported["classifier"]))
    classify = served.signatures["serving_default"]
    out = classify(text=tf.constant(["", "  \t\n ", LONG, "good " * 40, BAD_UTF8, "good"]))
    logits = out["logits"].numpy()
    assert np.all(np.isfinite(logits)) and logits.shape == (6, 3)
    assert max_diff(logits[0], logits[1]) <= TOLERANCE  # whitespace only == empty
    assert max_diff(logits[2], logits[3]) <= TOLERANCE  # truncated to the same 16 tokens
    assert max_diff(logits[4], logits[5]) <= TOLERANCE  # invalid bytes dropped
    assert max_diff(logits[0], models["classifier"].predict([""], verbose=0)[0]) <= TOLERANCE

    empty = classify(text=tf.constant([], tf.string))
    assert empty["logits"].shape == (0, 3) and empty["label"].shape == (0,)

    pair = tf.saved_model.load(str(exported["pair"])).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        pair(text=tf.constant(["a", "b"]), text_b=tf.constant(["c"]))
    assert pair(text=tf.constant([""]), text_b=tf.constant([LONG]))["logits"].shape == (1, 2)

    qa = tf.saved_model.load(str(exported["qa"])).signatures["serving_default"]
    answers = qa(question=tf.constant(["", "who?", BAD_UTF8]), context=tf.constant(["  ", LONG, BAD_UTF8]))
    assert answers["answer"].numpy()[0] == b"" and answers["start"].numpy()[0] == -1
    # 20,000 context pieces, windows of 32 - 3 - 2 ("who?") = 27 sharing doc_stride 4: none is lost.
    assert answers["num_windows"].numpy()[1] == 1 + -(-(20_000 - 27) // (27 - 4))
    assert re.fullmatch(rb"good( good){0,4}", answers["answer"].numpy()[1])  # max_answer_length=5 pieces
    assert answers["answer"].numpy()[2].decode("utf-8")  # valid text, from the repaired context
    assert qa(question=tf.constant([], tf.string), context=tf.constant([], tf.string))["answer"].shape == (0,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        qa(question=tf.constant(["a", "b"]), context=tf.constant(["c"]))

    tagger = tf.saved_model.load(str(exported["tagger"])).signatures["serving_default"]
    tagged = tagger(text=tf.constant(["", BAD_UTF8, LONG]))
    assert tagged["num_words"].numpy().tolist() == [0, 3, 20_000]
    # The invalid bytes come back as U+FFFD words, tagged "O" (no word pieces).
    words = [w.decode("utf-8") for w in tagged["words"].numpy()[1][:3]]
    assert words == ["\ufffd\ufffd", "good", "\ufffd"]
    assert tagged["tags"].numpy()[1][0] == tagged["tags"].numpy()[1][2] == b"O"
    assert set(tagged["tags"].numpy()[2][LENGTH:].tolist()) == {b"O"}  # beyond the length: "O"


def masked_attention_cases():
    """(attention dropout, an AttentionSublayer, inputs, mask, Keras' masked output) for both of Keras'
    paths (without attention dropout it takes ops.dot_product_attention)."""
    from electra_keras.layers.transformer import AttentionSublayer

    x = tf.random.stateless_normal([2, 6, 16], seed=[1, 2]) * 3
    mask = tf.sequence_mask([6, 2], 6)[:, None, :] & tf.ones([2, 6, 1], tf.bool)
    for attention_dropout in (0.1, 0.0):
        layer = AttentionSublayer(hidden_size=16, num_heads=2, dropout_rate=0.0,
                                  attention_dropout_rate=attention_dropout)
        keras_masked = layer(x, mask).numpy()
        # Padding matters: without the mask the second sequence's output differs.
        assert np.max(np.abs(layer(x, tf.ones_like(mask)).numpy()[1] - keras_masked[1])) > 1e-4
        yield attention_dropout, layer, x, mask, keras_masked


def traced_graph(layer, x, mask):
    return tf.function(lambda x, mask: layer(x, mask)).get_concrete_function(x, mask).graph


def test_bounded_attention_masking_keeps_keras_attention_within_the_scores_range():
    """What the calibrated TFLite exports trace: the same attention output as
    Keras' -1e9 masking, and no such constant in the graph."""
    from electra_keras.layers.transformer import bounded_attention_masking

    def lowest_constant(graph):
        values = [tf.make_ndarray(op.get_attr("value")) for op in graph.get_operations() if op.type == "Const"]
        return min(float(v.min()) for v in values if v.dtype.kind == "f" and v.size)

    for attention_dropout, layer, x, mask, keras_masked in masked_attention_cases():
        with bounded_attention_masking():
            bounded_graph = traced_graph(layer, x, mask)
            bounded = layer(x, mask).numpy()
        np.testing.assert_allclose(bounded, keras_masked, atol=1e-6)
        assert lowest_constant(traced_graph(layer, x, mask)) <= -1e9, attention_dropout  # Keras' masking
        assert lowest_constant(bounded_graph) > -1e3, attention_dropout


def test_additive_attention_masking_gives_keras_attention_with_one_added_bias():
    """What the SavedModel and the float and dynamic-range TFLite exports
    trace: Keras' attention output, with the mask added as a bias instead of
    Keras' two SelectV2 ops (which LiteRT's XNNPACK delegate does not take)."""
    from electra_keras.layers.transformer import additive_attention_masking

    def op_types(layer, x, mask):
        return {op.type for op in traced_graph(layer, x, mask).get_operations()}

    for attention_dropout, layer, x, mask, keras_masked in masked_attention_cases():
        with additive_attention_masking():
            additive = layer(x, mask).numpy()
            additive_ops = op_types(layer, x, mask)
        np.testing.assert_allclose(additive, keras_masked, atol=1e-6)
        assert "SelectV2" not in additive_ops, attention_dropout
        assert "SelectV2" in op_types(layer, x, mask)  # Keras' masking, outside the block


def test_positionwise_gives_dense_values_with_constant_shapes():
    """Dense layers on [batch, length, width] as 2-D matmuls: the same values as
    Keras' tensordot, and a fixed-length graph computes no shape at run time."""
    import keras

    from electra_keras.layers.transformer import positionwise

    first, second = keras.layers.Dense(12, activation="gelu"), keras.layers.Dense(8)
    x = tf.random.stateless_normal([3, 5, 8], seed=[3, 4])
    expected = second(first(x)).numpy()
    np.testing.assert_array_equal(positionwise(x, first, second).numpy(), expected)

    def traced(shape):
        function = tf.function(lambda x: positionwise(x, first, second))
        concrete = function.get_concrete_function(tf.TensorSpec(shape, tf.float32))
        return concrete, {op.type for op in concrete.graph.get_operations()}

    fixed, fixed_ops = traced([None, 5, 8])
    assert not fixed_ops & {"Shape", "Prod", "Pack", "GatherV2"}, fixed_ops
    # Graph kernels (oneDNN) may round the last bit otherwise than eager ones.
    np.testing.assert_allclose(fixed(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    # Unknown length: Keras' tensordot, which reads the shape at run time.
    free, free_ops = traced([None, None, 8])
    assert "Shape" in free_ops
    np.testing.assert_allclose(free(x).numpy(), expected, rtol=1e-6, atol=1e-6)


# --- TFLite --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tflite_models(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("tflite")
    classifier = models["classifier"]
    return {
        "none": export_tflite(classifier, root / "none" / "model.tflite"),
        "dynamic": export_tflite(classifier, root / "dynamic" / "model.tflite", quantize="dynamic"),
        # int8 in a child process: the path a many-model run takes.
        "int8": export_tflite(classifier, root / "int8" / "model.tflite", quantize="int8",
                              representative_texts=TEXTS * 10, isolate=True),
        "int16x8": export_tflite(classifier, root / "int16x8" / "model.tflite", quantize="int16x8",
                                 representative_texts=TEXTS * 10),
        # The tokenizer inside, as TF-Text custom ops.
        "raw_text": export_tflite(classifier, root / "raw" / "model.tflite", raw_text=True),
    }


# The largest quantization error allowed, as a share of the logits' spread (measured on
# the fixture's model, spread 0.11: dynamic-range 0.14%, int16x8 1.4%, full int8 2.0%).
QUANTIZED_ERROR = {"dynamic": 0.02, "int16x8": 0.05, "int8": 0.1}


@pytest.mark.slow
def test_tflite_uses_builtins_only_and_matches_keras(models, tflite_models):
    classifier = models["classifier"]
    logits = classifier.predict(TEXTS, verbose=0)
    sizes = {}
    for quantize, path in tflite_models.items():
        if quantize == "raw_text":
            continue
        model = LiteRTModel(path)
        ops = {op["op_name"] for op in model.interpreter._get_ops_details()}
        assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), (quantize, ops)
        if quantize in ("none", "dynamic"):
            # Ops XNNPACK does not take split its graph (additive_attention_masking, positionwise).
            assert not ops & {"SELECT_V2", "REDUCE_PROD", "PACK", "CONCATENATION"}, (quantize, ops)
        outputs = model.predict(TEXTS)
        # Quantized logits move by a share of the logits' spread (max - min over texts and
        # classes; an absolute bound on random weights' small logits could not fail).
        error = max_diff(outputs["logits"], logits)
        if quantize == "none":
            assert error <= 1e-4
        else:
            assert error <= QUANTIZED_ERROR[quantize] * np.ptp(logits), (quantize, error, np.ptp(logits))
        sizes[quantize] = path.stat().st_size
        details = model.interpreter.get_tensor_details()
        dtypes = {detail["dtype"] for detail in details}
        assert (np.int16 in dtypes) == (quantize == "int16x8"), quantize  # int16 activations
        if quantize in ("int8", "int16x8"):
            # Calibrated ranges stay those of real activations: Keras' -1e9 for masked
            # attention scores would give one a range of 1e9 (bounded_attention_masking).
            widest = max(float(np.max(detail["quantization_parameters"]["scales"], initial=0))
                         * np.iinfo(detail["dtype"]).max for detail in details
                         if detail["dtype"] in (np.int8, np.int16))
            assert 0 < widest < 1e3, (quantize, widest)
        info = json.loads((path.parent / "model.json").read_text())
        assert info["quantize"] == quantize and info["labels"] == NAMES and info["sequence_length"] == LENGTH
    assert LiteRTModel(tflite_models["none"]).predict(TEXTS)["label"] == classifier.predict_labels(TEXTS)
    assert max(sizes["dynamic"], sizes["int8"]) < 0.4 * sizes["none"]
    assert sizes["int16x8"] < 0.6 * sizes["none"]  # the word table is an int16 activation of its gather
    with pytest.raises(ValueError, match="representative_texts"):
        export_tflite(classifier, Path("unused.tflite"), quantize="int8")


def test_bad_inputs_never_crash_the_tflite_model(exported, tflite_models):
    model = LiteRTModel(tflite_models["none"])
    texts = [b"", b"  \t\n ", LONG.encode(), BAD_UTF8]
    outputs = model.predict(texts)
    served = tf.saved_model.load(str(exported["classifier"])).signatures["serving_default"]
    reference = served(text=tf.constant(texts))["logits"].numpy()
    assert max_diff(outputs["logits"], reference) <= 1e-4
    empty = model.predict([])
    assert empty["logits"].shape == (0, 3) and empty["label"] == []
    with pytest.raises(ValueError, match="one text per example"):
        model.predict(["a"], ["b"])


def test_raw_text_tflite_tokenizes_inside_with_tf_text_kernels(models, tflite_models, exported):
    classifier = models["classifier"]
    model = LiteRTModel(tflite_models["raw_text"])
    ops = {op["op_name"] for op in model.interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") for op in ops)
    # Ordinary text (no literal special tokens): the fast tokenizer gives our ids, so our logits.
    texts = ["A gripping, beautifully shot film.", "two hours I will never get back", "Crème brûlée 東京, 5$!"]
    outputs = model.predict(texts)
    assert max_diff(outputs["logits"], classifier.predict(texts, verbose=0)) <= 1e-4
    assert outputs["label"] == classifier.predict_labels(texts)

    bad = model.predict([b"", b"  \t\n ", LONG.encode(), BAD_UTF8])
    assert np.all(np.isfinite(bad["logits"])) and bad["logits"].shape == (4, 3)
    served = tf.saved_model.load(str(exported["classifier"])).signatures["serving_default"]
    reference = served(text=tf.constant(["", LONG]))["logits"].numpy()
    assert max_diff(bad["logits"][[0, 2]], reference) <= 1e-4  # empty, and truncated to the same pieces
    assert model.predict([])["logits"].shape == (0, 3)

    with pytest.raises(ValueError, match="single-text TextClassifiers"):
        export_tflite(models["pair"], Path("unused.tflite"), raw_text=True)
    with pytest.raises(ValueError, match="calibration cannot run"):
        export_tflite(classifier, Path("unused.tflite"), raw_text=True, quantize="int8",
                      representative_texts=TEXTS)
