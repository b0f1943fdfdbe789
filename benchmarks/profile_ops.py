"""Where the milliseconds go: TensorFlow profiler op statistics of our
pretraining step and our serving forward pass, summed by op type and by part
of the model.

Run (from the repository root):

    .venv/bin/python benchmarks/profile_ops.py                        # train step and serving, electra-small
    .venv/bin/python benchmarks/profile_ops.py --target serve --batch-size 1
    .venv/bin/python benchmarks/profile_ops.py --target train --dtype-policy mixed_bfloat16
    .venv/bin/python benchmarks/profile_ops.py --quick                # a smoke test (2 layers, batch 2)

What is profiled:

* `train`: the compiled `train_function` of `ElectraPretrainer` on pre-masked
  batches, exactly the step that benchmarks/pretraining_throughput.py times
  (generator, Gumbel sampling, discriminator, losses, metrics, AdamW);
* `serve`: the `token_ids` signature of the exported classifier SavedModel
  (the graph TF Serving runs, no XLA) at `--serve-batch` sequences.

The profiler's "framework_op_stats" tool gives every op's self time; the
script sums it per op type (MatMul, Transpose, Mul, ...) and per part (the
name scope: attention, feed-forward, embeddings, dropout, optimizer, ...),
and prints milliseconds per step and shares of the total. Self times of ops
that ran in parallel add up, so the total can exceed the wall time of a step
on several cores; the shares are what to read. Profiling slows a step by a
few percent and is never used for the speed tables.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import format_machine, machine_description, print_tables  # noqa: E402

# Checked in this order against the lower-cased op name (its scopes); the first hit names the part.
PARTS = (
    ("tokenizer", ("tokeniz", "wordpiece", "normalizeutf8", "lookuptable", "hash_table")),
    ("optimizer", ("adam", "lamb", "optimizer", "clip", "global_norm", "/assign", "iteration")),
    ("metrics", ("metric", "auc", "accuracy", "mean/", "/total", "/count")),
    ("dropout", ("dropout",)),
    ("attention", ("attention",)),
    ("feed-forward", ("feedforward", "feed_forward", "intermediate", "ffn")),
    ("embeddings", ("embedding",)),
    ("generator head", ("generator_head", "mlm_head", "masked_lm", "vocab")),
    ("sampling", ("gumbel", "sample", "random", "corrupt")),
    ("heads and losses", ("head", "classifier", "loss", "logit", "sigmoid", "softmax_cross")),
)


def part_of(name: str) -> str:
    # Grappler names its rewrites ".../ArithmeticOptimizer/..."; that is no optimizer step.
    lowered = re.sub(r"[a-z]+optimizer/", "", name.lower())
    for part, needles in PARTS:
        if any(needle in lowered for needle in needles):
            return part
    return "other"


def op_rows(xplane: str) -> list[dict]:
    """Every op of the trace: type, name, occurrences and total self time (us)."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    data, ok = plugin.xspace_to_tools_data([xplane], "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"the profiler could not read {xplane}: {data[:200]!r}")
    table = json.loads(data)
    table = table[0] if isinstance(table, list) else table
    columns = [column["id"] for column in table["cols"]]
    rows = []
    for row in table["rows"]:
        values = dict(zip(columns, [cell.get("v") for cell in row["c"]]))
        if values["type"] == "IDLE":
            continue
        rows.append({"type": values["type"], "name": values["operation"],
                     "occurrences": int(values["occurrences"]), "self_us": float(values["total_self_time"])})
    return rows


def profile(run_step, steps: int, logdir: str) -> tuple[list[dict], float]:
    """Op rows of `steps` calls of `run_step` (already warm) and the wall seconds per step."""
    import tensorflow as tf

    tf.profiler.experimental.start(logdir)
    started = time.perf_counter()
    for _ in range(steps):
        run_step()
    wall = (time.perf_counter() - started) / steps
    tf.profiler.experimental.stop()
    (xplane,) = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1:]
    return op_rows(xplane), wall


def summary(rows: list[dict], steps: int, key) -> list[dict]:
    total = sum(row["self_us"] for row in rows) or 1.0
    sums, counts = collections.Counter(), collections.Counter()
    for row in rows:
        sums[key(row)] += row["self_us"]
        counts[key(row)] += row["occurrences"]
    return [{"name": name, "ms_per_step": us / steps / 1000, "share": us / total,
             "ops_per_step": counts[name] / steps} for name, us in sums.most_common()]


def train_step(args):
    """The warm train function of pretraining_throughput.py's Keras step."""
    from pretraining_throughput import KerasElectraStep, synthetic_batches

    from electra_keras.data import packages
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.pretraining import MaskingConfig

    vocabulary = str(packages.bert_uncased_vocab())
    tokenizer = WordPieceTokenizer(vocabulary, lowercase=True, sequence_length=128)
    masking = MaskingConfig.for_tokenizer(tokenizer, "electra")
    batches = synthetic_batches(tokenizer, masking, args.batch_size, 2)
    step = KerasElectraStep(args.preset, vocabulary, batches, args.dtype_policy, args.overrides)
    return lambda: step.run(1)


def serve_step(args):
    """The warm `token_ids` signature of the exported classifier."""
    import numpy as np
    import tensorflow as tf

    from electra_keras.data import packages
    from electra_keras.export import export_saved_model
    from electra_keras.tasks import TextClassifier

    model = TextClassifier.from_preset(args.preset, vocabulary=str(packages.bert_uncased_vocab()),
                                       num_classes=2, sequence_length=args.sequence_length,
                                       config_overrides=args.overrides)
    folder = tempfile.mkdtemp(prefix="profile_ops_")
    path = export_saved_model(model, folder)
    served = tf.saved_model.load(str(path)).signatures["token_ids"]
    rng = np.random.default_rng(0)
    shape = (args.serve_batch, args.sequence_length)
    inputs = {"input_ids": tf.constant(rng.integers(1000, 5000, shape), tf.int32),
              "input_mask": tf.ones(shape, tf.int32), "segment_ids": tf.zeros(shape, tf.int32)}
    return lambda: served(**inputs)["logits"].numpy()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--target", default="train,serve", help="comma-separated, of: train, serve")
    parser.add_argument("--preset", default="electra-small", help="an ELECTRA preset")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per train step")
    parser.add_argument("--serve-batch", type=int, default=1, help="sequences per serving call")
    parser.add_argument("--sequence-length", type=int, default=128, help="serving sequence length")
    parser.add_argument("--dtype-policy", default="float32", choices=("float32", "mixed_bfloat16"),
                        help="Keras dtype policy of the train step")
    parser.add_argument("--steps", type=int, default=5, help="profiled steps (after 3 warm-up steps)")
    parser.add_argument("--top", type=int, default=15, help="op types listed")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables for RESULTS.md")
    parser.add_argument("--json", metavar="OUT", help="write the summaries to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 2 layers, batch 2, 2 steps")
    args = parser.parse_args(argv)
    args.targets = [name.strip() for name in args.target.split(",") if name.strip()]
    unknown = sorted(set(args.targets) - {"train", "serve"})
    if unknown or not args.targets:
        parser.error(f"--target: unknown {unknown}; expected some of train, serve")
    args.overrides = {}
    if args.quick:
        args.overrides = {"num_layers": 2}
        args.batch_size, args.steps, args.sequence_length = 2, 2, 32
    for name in ("batch_size", "serve_batch", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    machine = machine_description()
    print("Machine:\n" + format_machine(machine), flush=True)
    builders = {"train": train_step, "serve": serve_step}
    report = {"machine": machine, "preset": args.preset, "dtype_policy": args.dtype_policy,
              "quick": args.quick, "targets": {}}
    for target in args.targets:
        run_step = builders[target](args)
        for _ in range(3):
            run_step()
        with tempfile.TemporaryDirectory() as logdir:
            rows, wall = profile(run_step, args.steps, logdir)
        by_type = summary(rows, args.steps, key=lambda row: row["type"])
        by_part = summary(rows, args.steps, key=lambda row: part_of(row["name"]))
        policy = f", {args.dtype_policy}" if target == "train" else ""
        label = (f"{target}: {args.preset}{policy}, batch {args.batch_size if target == 'train' else args.serve_batch}, "
                 f"{args.steps} steps, {wall * 1000:.1f} ms per step (profiled)")
        for title, summed in ((f"{label}, by op type", by_type[:args.top]), (f"{label}, by part", by_part)):
            print_tables(title, ["name", "ms/step", "share %", "ops/step"],
                         [[row["name"], f"{row['ms_per_step']:.2f}", f"{100 * row['share']:.1f}",
                           f"{row['ops_per_step']:.0f}"] for row in summed], args.markdown)
        report["targets"][target] = {"wall_ms_per_step": wall * 1000, "by_type": by_type, "by_part": by_part}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
