"""Fine-tuning task models: classification (single, pair, regression), token
classification, starting points (runs, .keras, transformers folders), and the
layer-wise learning rates of `finetune_adamw`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_keras.config import ModelConfig
from electra_keras.data import packages, tasks
from electra_keras.tasks import metrics
from electra_keras.tasks.classifier import TextClassifier
from electra_keras.tasks.token_classifier import TokenClassifier
from electra_keras.training.optimizers import finetune_adamw, layer_depths

SMALL = {"max_position_embeddings": 64}


@pytest.fixture(scope="module")
def vocabulary():
    return packages.bert_uncased_vocab()


@pytest.fixture(scope="module")
def sentiment():
    return tasks.sentiment()


def balanced(examples, count, seed=0):
    """`count` examples, half of each class, in a seeded order."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(examples.labels)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[: count // 2] for c in (0, 1)])
    chosen = rng.permutation(chosen)
    return [examples.texts[i] for i in chosen], labels[chosen]


def test_raw_inputs_open_one_iterator_per_call_and_cover_every_example_each_epoch(vocabulary, monkeypatch):
    """Each new iterator instantiates the tokenizer's graph again (0.1-0.5 s);
    Keras opens two per epoch of a finite dataset. Raw inputs are read from
    one repeated dataset instead, and each epoch still sees every example
    once, in a new order."""
    texts = [f"sentence number {i}" for i in range(10)]
    labels = [i % 2 for i in range(10)]
    clf = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, config_overrides=SMALL,
                                     sequence_length=16)
    clf.compile(optimizer="adam")
    opened = []
    original = tf.data.Dataset.__iter__
    monkeypatch.setattr(tf.data.Dataset, "__iter__", lambda self: opened.append(1) or original(self))
    history = clf.fit(texts, labels, epochs=3, batch_size=4, verbose=0,
                      validation_data=(texts[:6], labels[:6]))
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 3
    assert len(opened) == 1 + 3  # one for training, one per validation (Keras resets it): was 12
    opened.clear()
    assert clf.predict(texts, batch_size=4, verbose=0).shape == (10, 2)
    assert clf.evaluate(texts, labels, batch_size=4, verbose=0, return_dict=True)["loss"] > 0
    assert len(opened) == 2

    # What fit reads: 3 batches per epoch (4, 4, 2), every example once per epoch.
    dataset, _, _, _, steps = clf._prepared(texts, labels, 4, shuffle=True)
    assert steps == 3
    epochs = [[], []]
    for index, (features, _) in enumerate(dataset.take(2 * steps)):
        epochs[index // steps].append(features["token_ids"].numpy()[:, 3])  # the number's token
    assert [len(batch) for batch in epochs[0]] == [len(batch) for batch in epochs[1]] == [4, 4, 2]
    first, second = (np.concatenate(epoch) for epoch in epochs)
    assert sorted(first) == sorted(second) and len(set(first)) == 10
    assert not np.array_equal(first, second)  # reshuffled


def test_task_pipelines_run_without_the_autotune_thread(vocabulary, monkeypatch):
    """Deleting an iterator whose tf.data autotuning thread is on can block for up to a
    minute (a lost wake-up in TensorFlow 2.21: electra_keras/data/pipeline.py), so every
    dataset we build turns that thread off; a user's explicit choice is kept."""
    texts, labels = ["a good film", "a bad film", "fine"], [1, 0, 1]
    clf = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, config_overrides=SMALL,
                                     sequence_length=16)
    raw = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(2)
    assert raw.options().autotune.enabled is None  # tf.data's default: on
    for dataset in (clf.as_dataset(texts, labels), clf._prepared(texts, labels, 2, shuffle=True)[0],
                    clf.as_dataset(raw), clf._prepared_validation((texts, labels))[0]):
        assert dataset.options().autotune.enabled is False
    chosen = tf.data.Options()
    chosen.autotune.enabled = True
    assert clf.as_dataset(raw.with_options(chosen)).options().autotune.enabled is True
    # The options change nothing in what is read.
    batches = list(clf.as_dataset(raw))
    assert [int(b[1].shape[0]) for b in batches] == [2, 1]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), labels)

    tagger = TokenClassifier.from_preset("tiny", vocabulary, tag_names=["O", "B-X", "I-X"],
                                         config_overrides=SMALL, sequence_length=16)
    read = []
    predict = TokenClassifier.predict
    monkeypatch.setattr(TokenClassifier, "predict", lambda self, x, **kw: read.append(x) or predict(self, x, **kw))
    assert [len(tags) for tags in tagger.predict_tags([["a", "b"], ["c"]])] == [2, 1]
    assert read[0].options().autotune.enabled is False


@pytest.mark.threshold
def test_classifier_fits_real_sentiment_and_round_trips(tmp_path, vocabulary, sentiment, record_property):
    texts, labels = balanced(sentiment.train, 64)
    names = ["negative", "positive"]
    clf = TextClassifier.from_preset("tiny", vocabulary, label_names=names, config_overrides=SMALL,
                                     sequence_length=48, dropout_rate=0.0)
    clf.compile(optimizer=finetune_adamw(clf, learning_rate=3e-3, total_steps=None, layer_decay=1.0))
    before = clf.evaluate(texts, [names[i] for i in labels], verbose=0, return_dict=True)
    history = clf.fit(texts, labels, epochs=12, batch_size=16, verbose=0)
    after = clf.evaluate(texts, labels, verbose=0, return_dict=True)
    record_property("figures", {"loss": history.history["loss"][-1], "accuracy": after["accuracy"]})
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert after["accuracy"] >= 0.9 > before["accuracy"] + 0.2

    predicted = clf.predict_labels(texts[:8])
    assert predicted == [names[i] for i in np.argmax(clf.predict(texts[:8], verbose=0), axis=-1)]
    probabilities = clf.predict_probabilities(texts[:8])
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-6)

    clf.save(tmp_path / "clf.keras")
    loaded = keras.saving.load_model(tmp_path / "clf.keras")
    assert loaded.label_names == names and isinstance(loaded.optimizer, type(clf.optimizer))
    np.testing.assert_allclose(loaded.predict(texts[:8], verbose=0), clf.predict(texts[:8], verbose=0), atol=1e-6)
    rebuilt = TextClassifier.from_config(clf.get_config())
    assert rebuilt.get_config() == clf.get_config()


@pytest.mark.threshold
def test_pair_classifier_and_regression_on_fixtures(vocabulary, record_property):
    firsts = ["the cat sat", "a dog ran", "the sun is hot", "ice is cold"] * 4
    seconds = ["the cat sat", "a bird flew", "the sun is hot", "fire is hot"] * 4
    same = [1, 0, 1, 0] * 4
    pair = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, pair=True, config_overrides=SMALL,
                                      sequence_length=24, dropout_rate=0.0)
    features, _ = pair.preprocess((tf.constant(firsts[:1]), tf.constant(seconds[:1])))
    assert features["segment_ids"].numpy()[0].tolist()[:10] == [0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    pair.compile(optimizer=finetune_adamw(pair, learning_rate=3e-3, total_steps=None, layer_decay=1.0))
    before = pair.evaluate((firsts, seconds), same, verbose=0, return_dict=True)["loss"]
    # 15 passes over the data as one epoch: Keras' per-epoch overhead dominates such tiny runs.
    pair.fit((firsts * 15, seconds * 15), same * 15, epochs=1, batch_size=8, verbose=0)
    pair_loss = pair.evaluate((firsts, seconds), same, verbose=0, return_dict=True)["loss"]
    assert pair_loss < 0.3 * before
    assert pair.predict_labels((firsts[:4], seconds[:4])) == same[:4]
    with pytest.raises(ValueError, match="two lists"):
        pair.predict(firsts)

    scores = [4.5, 0.5, 4.0, 1.0] * 4
    regressor = TextClassifier.from_preset("tiny", vocabulary, regression=True, pair=True,
                                           config_overrides=SMALL, sequence_length=24, dropout_rate=0.0)
    regressor.compile(optimizer=finetune_adamw(regressor, learning_rate=3e-3, total_steps=None, layer_decay=1.0))
    before = regressor.evaluate((firsts, seconds), scores, verbose=0, return_dict=True)["loss"]
    regressor.fit((firsts * 25, seconds * 25), scores * 25, epochs=1, batch_size=8, verbose=0)
    regression_loss = regressor.evaluate((firsts, seconds), scores, verbose=0, return_dict=True)["loss"]
    record_property("figures", {"pair_loss": pair_loss, "regression_loss": regression_loss})
    assert regression_loss < 0.1 * before
    predicted = regressor.predict_labels((firsts[:4], seconds[:4]))
    assert metrics.pearson(scores[:4], predicted) > 0.9


def test_classifier_input_errors_name_the_problem(vocabulary):
    clf = TextClassifier.from_preset("tiny", vocabulary, label_names=["a", "b"], config_overrides=SMALL,
                                     sequence_length=16)
    with pytest.raises(ValueError, match="unknown labels \\['c'\\]"):
        clf.fit(["x", "y"], ["a", "c"], verbose=0)
    with pytest.raises(ValueError, match="2 examples but y has 3"):
        clf.fit(["x", "y"], [0, 1, 1], verbose=0)
    with pytest.raises(ValueError, match="class ids must be in 0..1"):
        clf.fit(["x", "y"], [0, 2], verbose=0)
    with pytest.raises(ValueError, match="one string"):
        clf.predict("a text")
    with pytest.raises(ValueError, match="vocab_size"):
        TextClassifier(ModelConfig.from_preset("tiny"), vocabulary, num_classes=2)


@pytest.mark.slow
@pytest.mark.threshold
def test_token_classifier_aligns_first_pieces_and_fits_real_ner(tmp_path, vocabulary, capsys, record_property):
    ner = tasks.ner().train
    tagger = TokenClassifier.from_preset("tiny", vocabulary, tag_names=ner.tag_names, config_overrides=SMALL,
                                         sequence_length=48, dropout_rate=0.0)
    # "Obamaaa" is several pieces; only its first carries the word's tag.
    words = tagger.raw_inputs([["Hello", "Obamaaa", "!"], ["Paris"]])
    tags = tagger.raw_labels([["O", "B-person", "O"], ["B-geo-loc"]])
    features, labels = tagger.preprocess(words, tags)
    name_pieces = len(tagger.tokenizer.tokenize("Obamaaa").numpy())
    assert name_pieces > 1
    pieces = int(features["padding_mask"].numpy()[0].sum())
    assert pieces == 4 + name_pieces  # [CLS] hello <name pieces> ! [SEP]
    person, place = ner.tag_names.index("B-person"), ner.tag_names.index("B-geo-loc")
    assert labels.numpy()[0, :pieces].tolist() == [-1, 0, person] + [-1] * (name_pieces - 1) + [0, -1]
    assert labels.numpy()[1, :3].tolist() == [-1, place, -1]

    # Sentences with entities, memorized by a tiny model.
    chosen = [i for i, sentence_tags in enumerate(ner.tags) if any(t != "O" for t in sentence_tags)][:32]
    sentences, gold = [ner.words[i] for i in chosen], [ner.tags[i] for i in chosen]
    tagger.compile(optimizer=finetune_adamw(tagger, learning_rate=5e-3, total_steps=None, layer_decay=1.0))
    untrained = metrics.entity_scores(gold, tagger.predict_tags(sentences))["f1"]
    history = tagger.fit(sentences, gold, epochs=40, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    trained = metrics.entity_scores(gold, tagger.predict_tags(sentences))["f1"]
    record_property("figures", {"loss": history.history["loss"][-1], "f1": trained})
    assert trained > 0.5 > untrained + 0.3

    tagger.save(tmp_path / "tagger.keras")
    loaded = keras.saving.load_model(tmp_path / "tagger.keras")
    assert loaded.predict_tags(sentences[:4]) == tagger.predict_tags(sentences[:4])
    with pytest.raises(ValueError, match="sentence 0: 2 words but 1 tags"):
        tagger.fit([["a", "b"]], [["O"]], verbose=0)
    with pytest.warns(UserWarning, match="tagged 'O'"):
        cut = tagger.predict_tags([["word"] * 60])
    assert len(cut[0]) == 60

    # Raw text is split as the training data is: "Paris," is two words, in Python and in the CLI.
    raw = "Obama visited Paris, then Berlin."
    words = ["Obama", "visited", "Paris", ",", "then", "Berlin", "."]
    assert tagger.predict_tags([raw]) == tagger.predict_tags([words])
    from electra_keras.cli import main

    assert main(["predict", "--model", str(tmp_path / "tagger.keras"), "--format", "json", raw]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"words": words, "tags": tagger.predict_tags([words])[0]}


def _one_adam_step_sizes(model, inputs, labels):
    """max |update| / lr per variable after one step from zero Adam state."""
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    model.fit(inputs, labels, epochs=1, batch_size=len(labels), shuffle=False, verbose=0)
    return {v.path: float(np.max(np.abs(v.numpy() - before[v.path]))) for v in model.trainable_variables}


@pytest.mark.parametrize("share", ["none", "all"])
def test_layer_wise_rates_for_every_variable(vocabulary, share):
    decay, rate = 0.5, 1e-3
    clf = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, sequence_length=16,
                                     config_overrides={**SMALL, "share": share})
    optimizer = finetune_adamw(clf, learning_rate=rate, total_steps=None, layer_decay=decay,
                               weight_decay=0.0, clipnorm=None)
    expected = {}
    for variable in clf.trainable_variables:
        path = variable.path
        if path.startswith(("embeddings/", "backbone/embedding_projection")):
            depth = 0
        elif path.startswith("classifier/"):
            depth = 3
        elif share == "all":
            depth = 2  # one shared block used at depths 1 and 2: the top use counts
        else:
            depth = 1 + int(path.split("/")[1].split("_")[-1])  # backbone/attention_0 -> 1
        expected[path] = decay ** (3 - depth)
    # N = 2 layers: head 1, top layer 0.5, first layer 0.25, embeddings 0.125.
    assert sorted(set(expected.values())) == ([0.125, 0.5, 1.0] if share == "all" else [0.125, 0.25, 0.5, 1.0])
    assert optimizer.learning_rate_multipliers == pytest.approx(expected)
    assert set(expected) == {v.path for v in clf.trainable_variables}

    # And the optimizer applies them: Adam's first step moves each weight by
    # lr * multiplier (m / sqrt(v) = sign(g)).
    optimizer.epsilon = 1e-14  # so that tiny gradients still give m / sqrt(v) = sign(g)
    clf.compile(optimizer=optimizer)
    steps = _one_adam_step_sizes(clf, ["a good film", "a bad film"], [1, 0])
    for path, multiplier in expected.items():
        if "position_embeddings" in path or "segment" in path or "word_embeddings" in path:
            continue  # most rows get no gradient; the embedding LayerNorm checks depth 0
        if path.endswith("key/bias"):
            continue  # softmax ignores a key bias: its gradient is zero up to rounding
        assert steps[path] == pytest.approx(rate * multiplier, rel=1e-3), path


def test_pooler_counts_as_a_layer(vocabulary):
    config = {**SMALL, "family": "bert", "pooler": True, "embedding_size": 32, "generator_size": None}
    clf = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, sequence_length=16,
                                     config_overrides=config)
    assert clf.uses_pooler
    depths = layer_depths(clf)
    assert {depths[p] for p in depths if p.startswith("backbone/pooler")} == {(3, 4)}
    multipliers = finetune_adamw(clf, layer_decay=0.8, total_steps=None).learning_rate_multipliers
    assert multipliers["classifier/kernel"] == 1.0
    assert multipliers["backbone/pooler/kernel"] == pytest.approx(0.8)
    assert multipliers["embeddings/word_embeddings/embeddings"] == pytest.approx(0.8 ** 4)


def test_from_pretrained_reads_runs_keras_and_transformers_folders(tmp_path, vocabulary):
    from electra_keras.convert import to_huggingface
    from electra_keras.models import ElectraDiscriminator

    config = ModelConfig.from_preset("tiny", vocab_size=30522, **SMALL)
    discriminator = ElectraDiscriminator(config)
    discriminator.save(tmp_path / "discriminator.keras")
    folder = to_huggingface(discriminator, tmp_path / "huggingface" / "discriminator")
    (folder / "vocab.txt").write_bytes(open(vocabulary, "rb").read())
    inputs = {"token_ids": tf.constant([[101, 2204, 3185, 102]])}
    reference = discriminator.encoder(inputs)["sequence_output"].numpy()
    for source in (tmp_path / "discriminator", tmp_path / "discriminator.keras", folder):
        clf = TextClassifier.from_pretrained(source, num_classes=3, sequence_length=32)
        assert clf.num_classes == 3 and len(clf.vocabulary) == 30522
        np.testing.assert_allclose(clf.backbone(inputs)["sequence_output"].numpy(), reference, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="not a pretrained model"):
        TextClassifier.from_pretrained(tmp_path / "nothing-here", num_classes=2)


def test_best_dev_epoch_is_kept_and_patience_stops_training():
    from electra_keras.training.finetune_log import BestEpoch

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.stop_training = False  # as fit sets it
    callback = BestEpoch(patience=2)
    callback.set_model(model)
    kernel = model.weights[0]
    for epoch, val_loss in enumerate([3.0, 2.0, 2.5, 2.6, 2.7]):
        if model.stop_training:
            break
        kernel.assign(np.full((2, 1), float(epoch), "float32"))  # this epoch's weights
        callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
    callback.on_train_end()
    # Two epochs without a better dev loss after epoch 2: stopped after epoch 4, epoch 2's weights back.
    assert model.stop_training and callback.summary(4) == {
        "selected_by": "val_loss", "best_epoch": 2, "best_value": 2.0, "epochs_run": 4, "stopped_early": True}
    np.testing.assert_array_equal(kernel.numpy(), np.full((2, 1), 1.0))
    with pytest.raises(ValueError, match="patience=0"):
        BestEpoch(patience=0)
