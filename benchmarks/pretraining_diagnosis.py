"""Why does a short ELECTRA run fine-tune worse than random weights?

Reads the checkpoints of one pretraining run (`electra-keras pretrain ...
--keep-checkpoints N`) and, for each, measures on fixed held-out batches:

- collapse of the representations: the mean cosine between the
  discriminator's hidden states of different tokens, between the [CLS]
  vectors of unrelated sequences and between their mean-pooled vectors
  (step 0 is the same architecture at random init, seeded as the run);
- the tug of war on the shared embeddings: the gradient norms of the
  generator's MLM loss and of lambda x the discriminator's RTD loss, split
  into shared embeddings / generator-only / discriminator-only weights, the
  global norm and the factor that clipping at 1.0 multiplies every gradient
  by;
- what the weights actually moved: relative change of each group between
  checkpoints, and the spread of the generator's output bias (a unigram
  distribution needs logits spread over many nats);
- the generator against a unigram model: its held-out MLM cross-entropy
  next to that of the training data's token frequencies;
- the vocabulary: how many rows of the word table the training data ever
  uses.

    .venv/bin/python benchmarks/pretraining_diagnosis.py --run ~/runs/diag/base --markdown
    .venv/bin/python benchmarks/pretraining_diagnosis.py --quick    # a tiny run, seconds

Writes the table to stdout and, with --json, the figures to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from common import format_machine, machine_description, print_tables  # noqa: E402

GROUPS = ("shared", "generator", "discriminator")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a pretraining run folder with several checkpoints")
    parser.add_argument("--batches", type=int, default=4, help="held-out batches per measurement")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="pretrain a tiny model for a few steps and diagnose it (a smoke test)")
    return parser.parse_args(argv)


def load_run(run_dir: Path):
    """(options, model, vocabulary) of a run, the model built as the run built it."""
    from electra_keras.training.pretrain import PretrainingOptions, _build_model

    options = PretrainingOptions(**json.loads((run_dir / "run.json").read_text()))
    if options.objective != "electra":
        raise SystemExit(f"{run_dir}: objective {options.objective!r}; this diagnosis is for ELECTRA runs")
    vocabulary = options.vocabulary_path()
    import keras

    keras.utils.set_random_seed(options.seed)
    model = _build_model(options, vocabulary)
    return options, model, vocabulary


def checkpoint_steps(run_dir: Path) -> list[tuple[int, str]]:
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run_dir / "checkpoints"))
    if state is None:
        raise SystemExit(f"{run_dir}: no checkpoints")
    return sorted((int(path.rsplit("-", 1)[1]), path) for path in state.all_model_checkpoint_paths)


def variable_groups(model) -> dict[str, list]:
    shared = {id(v) for v in model.embeddings.trainable_variables}
    return {
        "shared": list(model.embeddings.trainable_variables),
        "generator": [v for v in model.generator.trainable_variables if id(v) not in shared],
        "discriminator": [v for v in model.discriminator.trainable_variables if id(v) not in shared],
    }


def held_out_batches(model, options, run_dir: Path, count: int) -> list[dict]:
    from electra_keras.data.pretraining_data import pretraining_dataset

    folder = Path(options.eval_data) if options.eval_data else run_dir / "eval-data"
    if not (folder / "metadata.json").exists():
        folder = Path(options.data) if options.data else run_dir / "data"
    dataset = pretraining_dataset(folder, batch_size=options.batch_size, shuffle=False, repeat=True)
    dataset = model.masked_dataset(dataset.take(count), seed=options.seed + 1)
    return list(dataset)


def norm(tensors) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(t))) for t in tensors if t is not None)))


def gradient_norms(model, batches) -> dict:
    """Per group, the gradient norm of the MLM loss and of lambda x RTD loss (mean over batches)."""
    import tensorflow as tf

    from electra_keras.pretraining.base import global_mean

    groups = variable_groups(model)
    variables = [v for group in GROUPS for v in groups[group]]
    sums: dict[str, list[float]] = {}
    for batch in batches:
        with tf.GradientTape(persistent=True) as tape:
            _, values = model.objective(batch, training=False)
            mlm_loss = global_mean(*values["mlm_loss"])
            rtd_loss = model.rtd_weight * global_mean(*values["rtd_loss"])
        # None (unconnected, e.g. the generator under the RTD loss) counts as zero.
        by_loss = {
            name: [tf.zeros(v.shape) if g is None else tf.convert_to_tensor(g)
                   for g, v in zip(tape.gradient(loss, variables), variables)]
            for name, loss in (("mlm", mlm_loss), ("rtd", rtd_loss))
        }
        del tape
        total = [a + b for a, b in zip(by_loss["mlm"], by_loss["rtd"])]
        start = 0
        for group in GROUPS:
            end = start + len(groups[group])
            for loss, gradients in by_loss.items():
                sums.setdefault(f"{group}_{loss}", []).append(norm(g.numpy() for g in gradients[start:end]))
            start = end
        global_norm = norm(g.numpy() for g in total)
        clip = min(1.0, 1.0 / global_norm)
        sums.setdefault("global", []).append(global_norm)
        sums.setdefault("clip_factor", []).append(clip)
        # What Adam sees: the root-mean-square entry of each clipped gradient,
        # to set against its epsilon (1e-6), below which updates shrink.
        owners = [group for group in GROUPS for _ in groups[group]]
        for owner, variable, gradient in zip(owners, variables, total):
            rms = float(np.sqrt(np.mean(np.square(gradient.numpy())))) * clip
            sums.setdefault(f"rms/{owner}/{variable.path}", []).append(rms)
    return {name: float(np.mean(values)) for name, values in sums.items()}


def mean_off_diagonal_cosine(vectors: np.ndarray) -> float:
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = vectors @ vectors.T
    n = len(vectors)
    return float((similarity.sum() - np.trace(similarity)) / (n * (n - 1)))


def layer_outputs(encoder, inputs) -> list:
    """The hidden states after the embeddings and after every sublayer, in order."""
    import tensorflow as tf

    x = encoder.embeddings(inputs["token_ids"], inputs["segment_ids"])
    outputs = [x]
    if encoder.embedding_projection is not None:
        x = encoder.embedding_projection(x)
    mask = tf.cast(inputs["padding_mask"], tf.bool)
    attention_mask = mask[:, None, :] & tf.ones((1, mask.shape[1], 1), tf.bool)
    for attention, feedforward in encoder.schedule:
        x = encoder.attention_sublayers[attention](x, attention_mask)
        outputs.append(x)
        x = encoder.feedforward_sublayers[feedforward](x)
        outputs.append(x)
    return outputs


def representation_similarity(model, batches, special_ids, rng) -> dict:
    """Mean cosines of the discriminator's hidden states on original text:
    between tokens after every sublayer, and between sequences' [CLS] and
    mean-pooled last states."""
    tokens, cls, pooled = [], [], []
    per_layer = []
    for batch in batches:
        inputs = {key: batch[key] for key in ("token_ids", "segment_ids", "padding_mask")}
        layers = [layer.numpy() for layer in layer_outputs(model.discriminator.encoder, inputs)]
        hidden = layers[-1]
        token_ids = batch["token_ids"].numpy()
        mask = batch["padding_mask"].numpy().astype(bool)
        ordinary = mask & ~np.isin(token_ids, special_ids)
        per_layer.append([mean_off_diagonal_cosine(layer[ordinary][:500]) for layer in layers])
        tokens.append(hidden[ordinary])
        cls.append(hidden[:, 0])
        weights = mask[..., None].astype(np.float32)
        pooled.append((hidden * weights).sum(1) / weights.sum(1))
    tokens = np.concatenate(tokens)
    sample = tokens[rng.choice(len(tokens), size=min(2000, len(tokens)), replace=False)]
    return {
        "token_cosine_by_layer": np.mean(per_layer, axis=0).tolist(),
        "token_cosine": mean_off_diagonal_cosine(sample),
        "cls_cosine": mean_off_diagonal_cosine(np.concatenate(cls)),
        "mean_pooled_cosine": mean_off_diagonal_cosine(np.concatenate(pooled)),
    }


def generator_terms(model, batches, unigram_log_probs: np.ndarray) -> dict:
    """Held-out MLM cross-entropy and accuracy of the generator, and of the unigram model."""
    model_ce, unigram_ce, correct, weight = 0.0, 0.0, 0.0, 0.0
    for batch in batches:
        logits = model.generator(
            {"token_ids": batch["masked_token_ids"], "segment_ids": batch["segment_ids"],
             "padding_mask": batch["padding_mask"]},
            masked_positions=batch["masked_positions"], training=False,
        ).numpy()
        labels = batch["masked_ids"].numpy()
        weights = batch["masked_weights"].numpy()
        log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        picked = np.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
        model_ce -= float((picked * weights).sum())
        unigram_ce -= float((unigram_log_probs[labels] * weights).sum())
        correct += float(((logits.argmax(-1) == labels) * weights).sum())
        weight += float(weights.sum())
    bias = model.generator.head.bias.numpy()
    return {
        "generator_mlm_loss": model_ce / weight,
        "unigram_mlm_loss": unigram_ce / weight,
        "generator_mlm_accuracy": correct / weight,
        "unigram_accuracy": float(np.exp(unigram_log_probs).max()),
        "generator_bias_spread": float(bias.max() - bias.min()),
    }


def discriminator_terms(model, batches) -> dict:
    """Held-out RTD AUC (with the generator's samples, as in training)."""
    import keras

    from electra_keras.pretraining.electra import gumbel_max_sample, replace_tokens

    auc = keras.metrics.AUC(from_logits=True)
    for index, batch in enumerate(batches):
        import tensorflow as tf

        tf.random.set_seed(index)
        logits = model.generator(
            {"token_ids": batch["masked_token_ids"], "segment_ids": batch["segment_ids"],
             "padding_mask": batch["padding_mask"]},
            masked_positions=batch["masked_positions"], training=False,
        )
        corrupted, replaced = replace_tokens(batch, gumbel_max_sample(logits))
        rtd_logits = model.discriminator(
            {"token_ids": corrupted, "segment_ids": batch["segment_ids"], "padding_mask": batch["padding_mask"]},
            training=False,
        )
        auc.update_state(replaced, rtd_logits, sample_weight=batch["padding_mask"])
    return {"rtd_auc": float(auc.result())}


def word_table_terms(model, used: np.ndarray) -> dict:
    """How much of the word table is one common direction: ||mean row||^2 / mean ||row||^2
    (about 1/rows for random rows, 1 when every row is the same vector), over the
    rows the training data uses and over those it never uses."""
    table = model.embeddings.word_embeddings.embeddings.numpy()
    terms = {}
    for name, rows in (("used", table[used]), ("unused", table[~used])):
        if len(rows):
            mean = rows.mean(0)
            terms[f"{name}_rows_common"] = float(mean @ mean / np.mean(np.sum(rows * rows, axis=1)))
            terms[f"{name}_rows_norm"] = float(np.mean(np.linalg.norm(rows, axis=1)))
    return terms


def snapshot(model) -> dict[str, list[np.ndarray]]:
    return {group: [v.numpy().copy() for v in variables] for group, variables in variable_groups(model).items()}


def relative_change(before, after) -> dict:
    return {
        f"{group}_moved": norm(a - b for a, b in zip(after[group], before[group])) / max(norm(before[group]), 1e-12)
        for group in GROUPS
    }


def diagnose(run_dir: Path, batches_count: int) -> dict:
    options, model, vocabulary = load_run(run_dir)
    from electra_keras.data.pretraining_data import token_counts
    from electra_keras.data.tokenizer import make_tokenizer

    tokenizer = make_tokenizer(vocabulary, lowercase=options.lowercase)
    special_ids = np.array(model.masking.special_token_ids)
    batches = held_out_batches(model, options, run_dir, batches_count)
    data_dir = Path(options.data) if options.data else run_dir / "data"
    counts = token_counts(data_dir, tokenizer.vocabulary_size)  # padding excluded, specials kept
    unigram = np.log((counts + 1) / (counts.sum() + len(counts)))
    vocabulary_report = {
        "vocab_size": int(len(counts)),
        "rows_used": int((counts > 0).sum()),
        "rows_used_10_times": int((counts >= 10).sum()),
        "training_tokens": int(counts.sum()),
    }
    from electra_keras.training.pretrain import restore_checkpoint

    rows = []
    previous = snapshot(model)
    entries = [(0, None)] + checkpoint_steps(run_dir)
    for step, path in entries:
        if path is not None:
            restore_checkpoint(model, path)
        current = snapshot(model)
        row = {"step": step}
        row.update(representation_similarity(model, batches, special_ids, np.random.default_rng(0)))
        row.update(discriminator_terms(model, batches))
        row.update(generator_terms(model, batches, unigram))
        row.update(word_table_terms(model, counts > 0))
        row.update(gradient_norms(model, batches))
        row.update(relative_change(previous, current))
        previous = current
        rows.append(row)
        print(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()
                                           if isinstance(v, float) and not k.startswith("rms/")), flush=True)
    return {"run": str(run_dir), "options": json.loads((run_dir / "run.json").read_text()),
            "vocabulary": vocabulary_report, "checkpoints": rows}


def quick_run(folder: Path) -> Path:
    """A tiny ELECTRA run with a few checkpoints, for the --quick smoke test."""
    from electra_keras.training.pretrain import PretrainingOptions, pretrain

    corpus = folder / "corpus.txt"
    rng = np.random.default_rng(0)
    words = ["the", "film", "was", "good", "bad", "a", "story", "of", "long", "night", "and", "day"]
    documents = []
    for _ in range(60):
        documents.append("\n".join(" ".join(rng.choice(words, 12)) + "." for _ in range(4)))
    corpus.write_text("\n\n".join(documents) + "\n")
    run = folder / "run"
    pretrain(PretrainingOptions(
        out=str(run), preset="tiny", corpus=[str(corpus)], eval_corpus=[str(corpus)], sequence_length=32,
        batch_size=8, total_steps=4, checkpoint_every=2, keep_checkpoints=5, log_every=2, eval_batches=1,
        export=False,
    ))
    return run


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            run_dir, batches = quick_run(Path(scratch)), 1
        elif args.run:
            run_dir, batches = Path(args.run).expanduser(), args.batches
        else:
            raise SystemExit("pass --run RUN_FOLDER (or --quick)")
        report = diagnose(run_dir, batches)
    report["machine"] = machine_description()
    rows = report["checkpoints"]
    print(format_machine(report["machine"]))
    vocabulary = report["vocabulary"]
    print(f"vocabulary: {vocabulary['rows_used']:,} of {vocabulary['vocab_size']:,} rows occur in the "
          f"{vocabulary['training_tokens']:,} training tokens ({vocabulary['rows_used_10_times']:,} at least 10 times)")
    print_tables(
        "Representations and the two players (held-out, fixed masks)",
        ["step", "token cos", "[CLS] cos", "mean-pooled cos", "RTD AUC", "MLM loss", "unigram loss",
         "MLM acc", "bias spread", "used rows: common / norm", "unused rows: common / norm"],
        [[r["step"], f"{r['token_cosine']:.3f}", f"{r['cls_cosine']:.3f}", f"{r['mean_pooled_cosine']:.3f}",
          f"{r['rtd_auc']:.3f}", f"{r['generator_mlm_loss']:.2f}", f"{r['unigram_mlm_loss']:.2f}",
          f"{r['generator_mlm_accuracy']:.3f}", f"{r['generator_bias_spread']:.3f}",
          f"{r['used_rows_common']:.3f} / {r['used_rows_norm']:.2f}",
          f"{r.get('unused_rows_common', float('nan')):.3f} / {r.get('unused_rows_norm', float('nan')):.2f}"]
         for r in rows],
        args.markdown,
    )
    print_tables(
        "Gradient norms (MLM loss / lambda x RTD loss), clipping and relative weight change since the last row",
        ["step", "shared MLM", "shared RTD", "generator MLM", "discriminator RTD", "global", "clip factor",
         "shared moved", "generator moved", "discriminator moved"],
        [[r["step"], f"{r['shared_mlm']:.3g}", f"{r['shared_rtd']:.3g}", f"{r['generator_mlm']:.3g}",
          f"{r['discriminator_rtd']:.3g}", f"{r['global']:.3g}", f"{r['clip_factor']:.3g}",
          f"{r['shared_moved']:.3g}", f"{r['generator_moved']:.3g}", f"{r['discriminator_moved']:.3g}"]
         for r in rows],
        args.markdown,
    )
    depth = len(rows[0]["token_cosine_by_layer"])
    print_tables(
        "Collapse layer by layer: mean cosine between the discriminator's token states after the "
        "embeddings (e) and each attention (a) and feed-forward (f) sublayer",
        ["step", "e", *[f"{kind}{i // 2}" for i, kind in zip(range(depth - 1), "af" * depth)]],
        [[r["step"], *[f"{c:.3f}" for c in r["token_cosine_by_layer"]]] for r in rows],
        args.markdown,
    )
    kinds = ["query/kernel", "key/kernel", "value/kernel", "attention_output/kernel", "intermediate/kernel",
             "output/kernel", "word_embeddings"]
    print_tables(
        "What Adam sees: RMS entry of the clipped gradient, median over the discriminator's weights "
        "of each kind (Adam's epsilon: 1e-6)",
        ["step", *[kind.split("/")[0] for kind in kinds]],
        [[r["step"], *[f"{kind_rms(r, 'discriminator', kind):.2e}" for kind in kinds]] for r in rows],
        args.markdown,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def kind_rms(row: dict, network: str, kind: str) -> float:
    values = [v for k, v in row.items() if k.startswith(f"rms/{network}/") and kind in k
              and not (kind == "output/kernel" and "attention_output" in k)]
    if kind == "word_embeddings":  # the generator's table, shared or not
        values = [v for k, v in row.items() if k.startswith("rms/shared/") and "word_embeddings" in k]
    return float(np.median(values)) if values else float("nan")


if __name__ == "__main__":
    sys.exit(main())
