"""Time a fine-tune spends outside its training steps.

A short fine-tune on a CPU can spend as long tracing and opening datasets as
it spends training. This script measures those costs on the shipped
sentiment data (raw text in, as users call `fit`):

- building the tokenizer from its vocab.txt, which every task model, export
  and pretraining run pays (it was 74 ms while Keras' attribute tracker
  looked at each of the 30,522 tokens);
- tracing the tokenizer (single texts and pairs), which every dataset map,
  export and raw-text prediction pays once;
- tracing the optimizer's update for the model's variables, part of every
  first train step: Keras' AdamW against electra_keras' (which builds each
  step's scalars once instead of once per variable);
- opening one iterator of a raw-text dataset: tf.data instantiates the
  tokenizer's graph for every new iterator;
- a whole `fit` three ways, on fresh models with the same weights: our
  `TaskModel.fit` on Python lists (optimizer built before the trace, one
  repeated dataset for all epochs, tf.data's autotuning thread off); the
  same with that thread on, as tf.data has it by default; and plain Keras
  `Model.fit` on the same model and dataset with tf.data's defaults
  (optimizer variables created inside the trace, two new iterators per
  epoch). All run the same train steps, so the differences are overhead
  alone. "returns after the last step" is the time `fit` takes to return
  once its last step ended: deleting an iterator waits for the autotuning
  thread, which can sleep out its re-tuning interval (up to a minute;
  electra_keras/data/pipeline.py).

    .venv/bin/python benchmarks/fit_overhead.py --markdown
    .venv/bin/python benchmarks/fit_overhead.py --preset electra-base --examples 256
    .venv/bin/python benchmarks/fit_overhead.py --quick    # a smoke test: tiny preset, 16 texts
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as electra_keras sets it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import format_machine, machine_description, print_tables  # noqa: E402
from electra_keras.data import packages, tasks  # noqa: E402
from electra_keras.data.tokenizer import make_tokenizer  # noqa: E402
from electra_keras.tasks.classifier import TextClassifier  # noqa: E402
from electra_keras.training.optimizers import NO_DECAY, electra_adamw, finetune_adamw  # noqa: E402

VARIANTS = ("electra_keras fit on lists", "electra_keras fit on lists, autotune thread on",
            "Keras Model.fit on the dataset, tf.data defaults")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="electra-small")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--examples", type=int, default=128, help="sentiment training texts")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="fits per variant (alternated); medians")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="OUT", help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: tiny preset, length 32, 16 texts, batch 8, 2 epochs, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.sequence_length, args.examples, args.batch_size, args.epochs, args.repeats = \
            "tiny", 32, 16, 8, 2, 1
    for name in ("sequence_length", "examples", "batch_size", "epochs", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


class StepClock(keras.callbacks.Callback):
    """Wall-clock time at the end of every train batch, from `start`."""

    def __init__(self, start: float):
        super().__init__()
        self.start, self.ends = start, []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter() - self.start)


class IteratorCount:
    """Counts the tf.data iterators opened inside the block."""

    def __enter__(self):
        self.count, self._original = 0, tf.data.Dataset.__iter__

        def counting(dataset):
            self.count += 1
            return self._original(dataset)

        tf.data.Dataset.__iter__ = counting
        return self

    def __exit__(self, *exc):
        tf.data.Dataset.__iter__ = self._original


def new_classifier(args, vocabulary):
    keras.utils.set_random_seed(0)  # the same weights for every fit
    model = TextClassifier.from_preset(args.preset, vocabulary, num_classes=2,
                                       sequence_length=args.sequence_length)
    steps = -(-args.examples // args.batch_size) * args.epochs
    model.compile(optimizer=finetune_adamw(model, learning_rate=1e-4, total_steps=steps))
    return model


def with_autotune_thread(dataset):
    """`dataset` with tf.data's autotuning model on, as tf.data has it by default."""
    options = tf.data.Options()
    options.autotune.enabled = True
    return dataset.with_options(options)


def one_fit(variant: str, args, vocabulary, texts, labels) -> dict:
    model = new_classifier(args, vocabulary)
    start = time.perf_counter()
    clock = StepClock(start)
    with IteratorCount() as iterators:
        if variant == VARIANTS[0]:
            model.fit(texts, labels, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                      callbacks=[clock])
        elif variant == VARIANTS[1]:
            dataset = with_autotune_thread(model.as_dataset(texts, labels, batch_size=args.batch_size,
                                                            shuffle=True))
            model.fit(dataset.repeat(), steps_per_epoch=-(-len(texts) // args.batch_size),
                      epochs=args.epochs, verbose=0, callbacks=[clock])
            del dataset
        else:
            dataset = with_autotune_thread(model.as_dataset(texts, labels, batch_size=args.batch_size,
                                                            shuffle=True))
            keras.Model.fit(model, dataset, epochs=args.epochs, shuffle=False, verbose=0, callbacks=[clock])
            del dataset
    total = time.perf_counter() - start
    steps = [b - a for a, b in zip(clock.ends, clock.ends[1:])]
    # The step itself: the median gap between batch ends (the epoch boundaries and the first step are outliers).
    step = statistics.median(steps) if steps else clock.ends[0]
    return {"variant": variant, "first_step_s": clock.ends[0], "total_s": total, "steps": len(clock.ends),
            "median_step_s": step, "outside_steps_s": total - step * len(clock.ends),
            "iterators_opened": iterators.count, "step_ends_s": clock.ends,
            "after_last_step_s": total - clock.ends[-1]}


def keras_adamw():
    """Keras' own AdamW with electra_adamw's settings."""
    optimizer = keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01, beta_1=0.9, beta_2=0.999,
                                       epsilon=1e-6, global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer


def median_seconds(work, repeats: int) -> float:
    """Median seconds of `work()` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def trace_seconds(function, signature, repeats: int) -> float:
    """Median seconds to trace `function` into a new graph."""
    return median_seconds(lambda: tf.function(function).get_concrete_function(*signature), repeats)


def main(argv=None) -> int:
    args = parse_args(argv)
    machine = machine_description()
    print(format_machine(machine))
    vocabulary = packages.bert_uncased_vocab()
    train = tasks.sentiment().train
    texts, labels = train.texts[:args.examples], list(train.labels[:args.examples])

    model = new_classifier(args, vocabulary)
    tokenizer = model.tokenizer
    text = tf.TensorSpec([None], tf.string)
    repeats = max(3, args.repeats)
    costs = {
        "build the tokenizer from vocab.txt": median_seconds(
            lambda: make_tokenizer(vocabulary, sequence_length=args.sequence_length), repeats),
        "trace the tokenizer, single texts": trace_seconds(tokenizer, [text], repeats),
        "trace the tokenizer, pairs": trace_seconds(lambda a, b: tokenizer(a, b), [text, text], repeats),
    }
    # The optimizer's update inside the train step's trace, for the model's variables:
    # Keras' AdamW against ours (each step's scalars built once, not per variable).
    variables = model.trainable_variables
    gradients = [tf.zeros_like(variable) for variable in variables]
    for name, optimizer in (("keras.optimizers.AdamW", keras_adamw()), ("electra_keras AdamW", electra_adamw())):
        optimizer.build(variables)
        costs[f"trace {name}'s update ({len(variables)} variables)"] = trace_seconds(
            lambda optimizer=optimizer: optimizer.apply(gradients, variables), [], args.repeats)
    dataset = model.as_dataset(texts, labels, batch_size=args.batch_size)
    iter(dataset)  # the first one also loads kernels
    costs["open an iterator of a raw-text dataset"] = median_seconds(lambda: iter(dataset), repeats)
    print_tables(f"one-off costs ({args.preset}, length {args.sequence_length}), median of {repeats}:",
                 ["what", "seconds"], [[name, f"{value:.3f}"] for name, value in costs.items()], args.markdown)

    fits = {variant: [] for variant in VARIANTS}
    for index in range(args.repeats):
        for variant in VARIANTS:
            fits[variant].append(one_fit(variant, args, vocabulary, texts, labels))
            print(f"fit {index + 1}/{args.repeats}: {variant}: {fits[variant][-1]['total_s']:.1f} s", flush=True)
    rows, measured = [], []
    for variant, runs in fits.items():
        summary = {"variant": variant, "runs": runs}
        for key in ("first_step_s", "total_s", "median_step_s", "outside_steps_s", "after_last_step_s"):
            summary[key] = statistics.median(run[key] for run in runs)
        summary["iterators_opened"] = runs[0]["iterators_opened"]
        summary["steps"] = runs[0]["steps"]
        measured.append(summary)
        rows.append([variant, f"{summary['first_step_s']:.2f}", f"{summary['total_s']:.2f}",
                     f"{1000 * summary['median_step_s']:.0f}", f"{summary['outside_steps_s']:.2f}",
                     ", ".join(f"{run['after_last_step_s']:.1f}" for run in runs), summary["iterators_opened"]])
    ours, _, plain = measured
    print_tables(
        f"fit: {args.preset}, {args.examples} sentiment texts, batch {args.batch_size}, length "
        f"{args.sequence_length}, {args.epochs} epochs ({ours['steps']} steps); median of {args.repeats}:",
        ["variant", "first step ends (s)", "fit (s)", "median step (ms)", "outside the steps (s)",
         "returns after the last step (s, each run)", "iterators opened"], rows, args.markdown)
    saved = plain["total_s"] - ours["total_s"]
    print(f"\nours saves {saved:.2f} s of {plain['total_s']:.2f} s "
          f"({saved / args.epochs:.2f} s per epoch with the first step's trace spread in)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine, "quick": args.quick,
            "settings": {k: getattr(args, k) for k in ("preset", "sequence_length", "examples", "batch_size",
                                                         "epochs", "repeats")},
            "one_off_s": costs, "fits": measured}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
