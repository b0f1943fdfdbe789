"""Fine-tuned models back out to transformers: `save_pretrained` on the
classifier, the token classifier and the QA model writes folders that
transformers' own {Family}For{Task} classes load, with the labels in
config.json, and their logits match ours."""

import numpy as np
import pytest
import torch
import transformers

import electra_keras as ek
from electra_keras.convert.huggingface import UnsupportedArchitectureError
from electra_keras.data import packages
from electra_keras.tasks.question_answering import SpanQuestionAnswerer
from electra_keras.tasks.token_classifier import TokenClassifier

TEXTS = ["a gripping, beautifully shot film", "two hours i will never get back", "ok"]
TOLERANCE = 1e-5
SMALL = {"max_position_embeddings": 64}
FAMILIES = {
    "electra": dict(SMALL),
    "bert": dict(SMALL, family="bert", generator_size=None, embedding_size=32, pooler=True),
    "albert": dict(SMALL, family="albert", generator_size=None, pooler=True, embedding_projection=True,
                   share="all", hidden_act="gelu_new"),
}


@pytest.fixture(scope="module")
def vocabulary():
    return packages.bert_uncased_vocab()


def perturbed(model):
    """Distinct non-zero values everywhere (biases, LayerNorm shifts), so a swapped name cannot pass."""
    rng = np.random.RandomState(0)
    for weight in model.weights:
        weight.assign(weight.numpy() + rng.normal(0, 0.02, weight.shape).astype("float32"))
    return model


def torch_inputs(model, texts):
    packed = model.tokenizer(texts)
    return {"input_ids": torch.from_numpy(packed["token_ids"].numpy()).long(),
            "attention_mask": torch.from_numpy(packed["padding_mask"].numpy()).long(),
            "token_type_ids": torch.from_numpy(packed["segment_ids"].numpy()).long()}, packed


def max_diff(ours, theirs) -> float:
    return float(np.max(np.abs(np.asarray(ours) - theirs.detach().numpy())))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_classifiers_match_transformers_with_their_labels(family, vocabulary, tmp_path):
    head = "transformers" if family == "electra" else "electra"
    model = perturbed(ek.TextClassifier.from_preset(
        "tiny", vocabulary, label_names=["negative", "neutral", "positive"], sequence_length=16,
        config_overrides=FAMILIES[family], head=head))
    folder = model.save_pretrained(tmp_path / family)
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert type(theirs).__name__ == f"{family.capitalize()}ForSequenceClassification"
    assert theirs.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert theirs.config.problem_type == "single_label_classification"
    inputs, packed = torch_inputs(model, TEXTS)
    with torch.no_grad():
        logits = theirs(**inputs).logits
    assert max_diff(model(packed), logits) <= TOLERANCE
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert tokenizer(TEXTS[0])["input_ids"] == packed["token_ids"].numpy()[0][: len(tokenizer(TEXTS[0])["input_ids"])].tolist()


def test_regression_and_the_heads_transformers_lacks(vocabulary, tmp_path):
    scorer = perturbed(ek.TextClassifier.from_preset("tiny", vocabulary, regression=True, sequence_length=16,
                                                     config_overrides=SMALL, head="transformers"))
    theirs = transformers.ElectraForSequenceClassification.from_pretrained(scorer.save_pretrained(tmp_path / "r"))
    assert theirs.config.problem_type == "regression" and theirs.config.num_labels == 1
    inputs, packed = torch_inputs(scorer, TEXTS)
    with torch.no_grad():
        assert max_diff(scorer(packed), theirs.eval()(**inputs).logits[:, 0]) <= TOLERANCE

    official = ek.TextClassifier.from_preset("tiny", vocabulary, num_classes=2, config_overrides=SMALL)
    with pytest.raises(UnsupportedArchitectureError, match="head='transformers'"):
        official.save_pretrained(tmp_path / "official")
    assert not (tmp_path / "official").exists()  # nothing half-written
    qa = SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=SMALL, sequence_length=32,
                                      max_query_length=8, doc_stride=4)
    with pytest.raises(UnsupportedArchitectureError, match="head='electra'"):
        qa.save_pretrained(tmp_path / "qa")


@pytest.mark.parametrize("family", ["electra", "albert"])
def test_token_classifier_and_question_answerer_match_transformers(family, vocabulary, tmp_path):
    tags = ["O", "B-loc", "I-loc", "B-person"]
    tagger = perturbed(TokenClassifier.from_preset("tiny", vocabulary, tag_names=tags, sequence_length=16,
                                                   config_overrides=FAMILIES[family]))
    theirs = transformers.AutoModelForTokenClassification.from_pretrained(
        tagger.save_pretrained(tmp_path / "tagger")).eval()
    assert type(theirs).__name__ == f"{family.capitalize()}ForTokenClassification"
    assert [theirs.config.id2label[i] for i in range(len(tags))] == tags
    inputs, packed = torch_inputs(tagger, TEXTS)
    with torch.no_grad():
        assert max_diff(tagger(packed), theirs(**inputs).logits) <= TOLERANCE

    qa = perturbed(SpanQuestionAnswerer.from_preset("tiny", vocabulary, config_overrides=FAMILIES[family],
                                                    sequence_length=32, max_query_length=8, doc_stride=4, head="bert"))
    theirs = transformers.AutoModelForQuestionAnswering.from_pretrained(qa.save_pretrained(tmp_path / "qa")).eval()
    packed = qa.tokenizer(["who wrote it?"] * 2, ["ada wrote the first program.", "nobody"])
    inputs = {"input_ids": torch.from_numpy(packed["token_ids"].numpy()).long(),
              "attention_mask": torch.from_numpy(packed["padding_mask"].numpy()).long(),
              "token_type_ids": torch.from_numpy(packed["segment_ids"].numpy()).long()}
    ours = qa(packed)
    with torch.no_grad():
        outputs = theirs(**inputs)
    assert max_diff(ours["start_logits"], outputs.start_logits) <= TOLERANCE
    assert max_diff(ours["end_logits"], outputs.end_logits) <= TOLERANCE


def test_preset_folders_round_trip(vocabulary, tmp_path):
    """keras-hub's habit: save_to_preset writes config, weights and tokenizer assets; from_preset(folder) reloads."""
    model = perturbed(ek.TextClassifier.from_preset("tiny", vocabulary, label_names=["neg", "pos"], pair=True,
                                                    sequence_length=16, config_overrides=SMALL))
    folder = model.save_to_preset(tmp_path / "sentiment")
    assert (folder / "assets" / "tokenizer" / "vocab.txt").read_text(encoding="utf-8").splitlines() == model.vocabulary
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.weights.h5", "assets", "metadata.json"}
    reloaded = ek.TextClassifier.from_preset(folder)
    pairs = (TEXTS, list(reversed(TEXTS)))
    np.testing.assert_array_equal(reloaded.predict(pairs, verbose=0), model.predict(pairs, verbose=0))
    assert reloaded.label_names == ["neg", "pos"] and reloaded.pair and reloaded.sequence_length == 16

    with pytest.raises(ValueError, match="a TextClassifier preset, not a TokenClassifier"):
        TokenClassifier.from_preset(folder)
    hf = perturbed(ek.TextClassifier.from_preset("tiny", vocabulary, num_classes=2, config_overrides=SMALL,
                                                 head="transformers")).save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match="not a preset of ours .* use from_pretrained"):
        ek.TextClassifier.from_preset(hf)
