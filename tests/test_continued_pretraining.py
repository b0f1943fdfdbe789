"""Continued pretraining: ELECTRA starting from an existing encoder
(`ElectraPretrainer.from_pretrained`, `electra-keras pretrain --init`)."""

import json

import numpy as np
import pytest
import torch
import transformers

import electra_keras as ek
from electra_keras.cli import main

WORDS = "the film was good bad a story of long night and day what who where is".split()


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    """A random transformers BERT (with pooler) and its vocab.txt, as a released checkpoint looks."""
    folder = tmp_path_factory.mktemp("bert")
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, ".", *[f"w{i}" for i in range(40)]]
    config = transformers.BertConfig(vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=48, max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.BertModel(config).eval().save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    return folder


def test_from_pretrained_discriminator_encoder_is_the_checkpoint(bert_folder):
    model = ek.ElectraPretrainer.from_pretrained(bert_folder, generator_size=0.5)
    reference = transformers.BertModel.from_pretrained(bert_folder).eval()
    token_ids = np.array([[2, 5, 6, 7, 8, 21, 3]], "int32")
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor(token_ids, dtype=torch.long)).last_hidden_state.numpy()
    hidden = model.discriminator.encoder({"token_ids": token_ids})["sequence_output"].numpy()
    np.testing.assert_allclose(hidden, expected, atol=1e-5)
    assert model.discriminator.encoder.pooler is None  # BERT's pooler is not trained by ELECTRA
    # A new generator, half as wide, on the shared (pretrained) embeddings.
    assert model.generator.config.hidden_size == 16
    assert model.generator.encoder.embeddings is model.discriminator.encoder.embeddings
    assert model.masking.mask_token_id == 4 and model.config.vocab_size == 62

    gdes = ek.ElectraPretrainer.from_pretrained(bert_folder, weight_tying="gdes")
    np.testing.assert_allclose(gdes.discriminator.encoder({"token_ids": token_ids})["sequence_output"],
                               expected, atol=1e-5)
    np.testing.assert_array_equal(gdes.discriminator.encoder.embeddings.word_embeddings.embeddings.numpy(), 0)


def test_pretrain_init_continues_from_the_checkpoint(bert_folder, tmp_path):
    corpus = tmp_path / "corpus.txt"
    rng = np.random.default_rng(0)
    corpus.write_text("\n\n".join("\n".join(" ".join(rng.choice(WORDS, 8)) + " ." for _ in range(3))
                                  for _ in range(40)) + "\n")
    out = tmp_path / "run"
    assert main(["pretrain", "--init", str(bert_folder), "--out", str(out), "--corpus", str(corpus),
                 "--sequence-length", "32", "--batch-size", "8", "--steps", "3", "--checkpoint-every", "3",
                 "--learning-rate", "1e-4", "--config", "generator_size=0.5"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["init"] == str(bert_folder) and run["vocabulary"] == str(bert_folder / "vocab.txt")
    assert (out / "huggingface" / "discriminator" / "config.json").is_file()
    discriminator = ek.TextClassifier.from_pretrained(out, label_names=["a", "b"], sequence_length=16)
    source = ek.TextClassifier.from_pretrained(bert_folder, label_names=["a", "b"], sequence_length=16)
    for moved, start in zip(discriminator.backbone.weights, source.backbone.weights[:-2], strict=True):
        assert moved.shape == start.shape
    # Three small steps moved the weights a little away from the checkpoint, not to somewhere else.
    table, start = (m.backbone.embeddings.word_embeddings.embeddings.numpy() for m in (discriminator, source))
    assert 0 < np.abs(table - start).max() < 0.01
    with pytest.raises(ValueError, match=r"init .* is for objective='electra' \(or its variants\), not 'mlm'"):
        main(["--debug", "pretrain", "--init", str(bert_folder), "--out", str(tmp_path / "x"), "--objective", "mlm"])
