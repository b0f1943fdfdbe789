"""Pretraining recipes (`pretrain --recipe`), a vocabulary learned by the run,
and exporting an intermediate checkpoint to fine-tune it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from electra_keras.cli import main
from electra_keras.data.tokenizer import make_tokenizer
from electra_keras.training.pretrain import PretrainingOptions, _build_model, export_checkpoint
from electra_keras.training.recipes import RECIPES, recipe


def test_recipe_values_and_overrides():
    options, finetuning = recipe("electra-cpu", out="runs/x", total_steps=10, config={"num_layers": 2})
    assert options.preset == "electra-mini" and options.total_steps == 10
    assert options.corpus == ["wikitext-2", "news-articles", "movie-dialogs"]
    assert options.eval_corpus == ["wikitext-2-valid"]  # held out: not in the training corpus
    # A config override merges with the recipe's, it does not replace it.
    assert options.config == {"generator_size": 1.0, "dropout_rate": 0.0, "attention_dropout_rate": 0.0,
                              "num_layers": 2}
    assert options.weight_tying == "all" and options.prior_init
    assert set(finetuning) == {"sentiment", "question-type"}
    for name in RECIPES:  # every recipe builds valid options
        assert recipe(name, out="runs/x")[0].out == "runs/x"
        quick = RECIPES[name].get("quick")
        if quick is not None:  # a toy twin runs the same code path
            full, toy = recipe(name, out="q")[0], recipe(quick, out="q")[0]
            assert (toy.objective, toy.weight_tying, toy.prior_init, toy.config.get("share")) == (
                full.objective, full.weight_tying, full.prior_init, full.config.get("share"))
    albert, albert_finetuning = recipe("albert-cpu", out="runs/a")
    assert albert.objective == "albert" and albert.prior_init and albert.corpus == options.corpus
    assert albert.config["family"] == "albert" and albert.config["share"] == "all"
    assert albert.vocabulary_size == options.vocabulary_size and albert_finetuning == finetuning
    with pytest.raises(ValueError, match="Unknown recipe 'fast'; known recipes: albert-cpu"):
        recipe("fast", out="runs/x")
    with pytest.raises(ValueError, match="vocabulary .* or vocabulary_size"):
        PretrainingOptions(out="x", vocabulary="vocab.txt", vocabulary_size=1000)


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    """`electra-keras pretrain --recipe tiny-quick` on a small corpus: 8 steps, checkpoints at 4 and 8."""
    folder = tmp_path_factory.mktemp("recipe")
    corpus = folder / "corpus.txt"
    words = "the film was good bad a story of long night and day what who where is".split()
    rng = np.random.default_rng(0)
    corpus.write_text("\n\n".join("\n".join(" ".join(rng.choice(words, 10)) + "." for _ in range(4))
                                  for _ in range(60)) + "\n")
    out = folder / "run"
    assert main(["pretrain", "--recipe", "tiny-quick", "--out", str(out), "--corpus", str(corpus),
                 "--eval-corpus", str(corpus), "--keep-checkpoints", "5"]) == 0
    return out


def test_recipe_run_learns_its_vocabulary_from_the_corpus(recipe_run):
    run = json.loads((recipe_run / "run.json").read_text())
    assert run["preset"] == "tiny" and run["total_steps"] == 8 and run["vocabulary_size"] == 300
    assert run["keep_checkpoints"] == 5  # the flag overrode the recipe
    tokens = (recipe_run / "vocab.txt").read_text().splitlines()
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "film" in tokens and "story" in tokens and len(tokens) <= 300
    tokenizer = make_tokenizer(str(recipe_run / "vocab.txt"))
    assert keras.saving.load_model(recipe_run / "discriminator.keras").config.vocab_size == tokenizer.vocabulary_size
    # Every log line reports the training compute so far (tests/test_flops.py checks the count).
    model = _build_model(PretrainingOptions(**run), str(recipe_run / "vocab.txt"))
    per_step = model.training_flops_per_step(batch_size=8, sequence_length=32)
    assert per_step > 0
    logged = [json.loads(line) for line in (recipe_run / "metrics.jsonl").read_text().splitlines()]
    logged = [record for record in logged if not record.get("evaluation")]
    assert [record["step"] for record in logged] == [2, 4, 6, 8]
    assert [record["flops"] for record in logged] == [step * per_step for step in (2, 4, 6, 8)]
    # A resumed (here: finished) run reuses the vocabulary instead of learning it again.
    written = (recipe_run / "vocab.txt").stat().st_mtime_ns
    assert main(["pretrain", "--recipe", "tiny-quick", "--out", str(recipe_run),
                 "--corpus", *run["corpus"], "--eval-corpus", *run["eval_corpus"], "--keep-checkpoints", "5"]) == 0
    assert (recipe_run / "vocab.txt").stat().st_mtime_ns == written


def test_export_checkpoint_writes_a_fine_tunable_run_of_that_step(recipe_run):
    folder = export_checkpoint(recipe_run, step=4)
    assert folder == recipe_run / "step-4"
    snapshot = json.loads((folder / "run.json").read_text())
    assert snapshot["total_steps"] == 4 and snapshot["vocabulary"] == str(recipe_run / "vocab.txt")

    # The exported discriminator holds the weights of checkpoint 4, not the final ones.
    options = PretrainingOptions(**json.loads((recipe_run / "run.json").read_text()))
    reader = tf.train.load_checkpoint(str(recipe_run / "checkpoints" / "ckpt-4"))
    stored = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
              if name.startswith("optimizer/_trainable_variables/") and "OPTIMIZER_SLOT" not in name}
    model = _build_model(options, options.vocabulary_path())
    assert len(stored) == len(model.trainable_variables)
    exported = keras.saving.load_model(folder / "discriminator.keras")
    table = exported.encoder.embeddings.word_embeddings.embeddings.numpy()
    assert sum(np.array_equal(value, table) for value in stored.values()) == 1
    final = keras.saving.load_model(recipe_run / "discriminator.keras")
    inputs = {"token_ids": tf.constant([[2, 10, 11, 12, 3]])}
    assert not np.allclose(exported(inputs), final(inputs), atol=1e-4)
    # The last checkpoint exported equals what the finished run wrote.
    last = keras.saving.load_model(export_checkpoint(recipe_run, step=8) / "discriminator.keras")
    for a, b in zip(last.weights, final.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)

    classifier = ek.TextClassifier.from_pretrained(folder, label_names=["neg", "pos"], sequence_length=16)
    np.testing.assert_array_equal(
        classifier.backbone.embeddings.word_embeddings.embeddings.numpy(),
        exported.encoder.embeddings.word_embeddings.embeddings.numpy())
    with pytest.raises(FileNotFoundError, match=r"no checkpoint of step 3; kept: \[4, 8\]"):
        export_checkpoint(recipe_run, step=3)
