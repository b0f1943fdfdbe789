"""ALBERT: what cross-layer sharing saves, for one pretraining step.

ALBERT's promise (Lan et al. 2019, Table 1) is memory: one set of layer
weights used at all 12 depths cuts ALBERT-Base to about 12M parameters where
the same architecture unshared has about 89M. This script measures what that
buys when training `AlbertPretrainer` (MLM + sentence-order prediction):

- `albert-base`: share="all", factorized embeddings (128 -> 768);
- `albert-base-unshared`: the same preset with share="none" (BERT-Base-like,
  still factorized);
- `bert-base`: the BERT-Base preset (unshared, embeddings 768, dropout 0.1
  where the ALBERT presets have none), trained with the same objective.

All three use the BERT-uncased vocabulary (30,522 word pieces), so the
vocabulary is the same in every row. Each configuration runs in a fresh
child process (this script, called with `--child NAME`), so every peak
resident set size is its own. The child reports:

1. parameters: each variable counted once however many layers use it
   (`electra_keras.pretraining.sizes.part_size`, what a checkpoint stores);
2. on disk: `tf.train.Checkpoint(model=..., optimizer=...)` written after the
   timed steps (weights + AdamW's two slots: what a pretraining run keeps),
   and the `.keras` file of the model alone. Keras 3 puts a compiled
   model's optimizer variables into `.keras` (and `save_weights`) files, so
   the model is saved from an uncompiled copy with the same weights;
3. resident memory (VmRSS): right after the imports, after building the
   model, after building the optimizer's variables, and the peak
   (ru_maxrss) once the timed steps are done, before anything is saved;
   "step adds" = peak - RSS after the optimizer: activations, gradients and
   TensorFlow's workspace for one step;
4. throughput: the step is Keras' compiled `train_function` called on an
   iterator over a distributed tf.data dataset, as `model.fit` calls it and
   as `pretraining_throughput.py` times it. `--warmup` untimed steps, then
   `--repeats` timed runs of `--steps` steps; the median and its spread,
   (max - min) / median. Float32, no XLA. Compute does not depend on
   sharing, but the children run one after another on a machine whose speed
   may drift (a shared VM), so the parent measures the float32 matmul peak
   (`common.tensorflow_matmul_peak`, in its own process, so no child's
   memory is touched) before each child and after the last, and the table
   gives each child's model FLOPs utilization against the mean of the two
   readings around it: MFU compares configurations fairly when seq/s cannot.
   Model FLOPs are analytic, matmuls only (`electra_keras.pretraining.flops`,
   as in `pretraining_throughput.py`): 3 x forward, where forward =
   the encoder + the MLM head at the P masked slots (2 P H E + 2 P E V) +
   pooler and SOP head (2 H^2 + 4 H).

Batches: `--distinct-batches` full-length sequences `[CLS] A [SEP] B [SEP]`
of random word pieces (pretraining packs examples to the full length),
swapped and n-gram masked beforehand by `model.mask` (the runner masks in
tf.data, so masking is not in the step). Optimizer: `electra_adamw` with
learning rate 1e-4 over 1,000 steps (AdamW, weight decay 0.01 except
LayerNorm and biases, global-norm clipping at 1.0, warmup + linear decay),
not ALBERT's LAMB: the memory is the same, two slots per weight.

Run from the repository root:

    .venv/bin/python benchmarks/albert_memory.py --markdown
    .venv/bin/python benchmarks/albert_memory.py --quick     # a smoke test: 2 layers, 1 step per run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import (  # noqa: E402
    Timing,
    format_machine,
    machine_description,
    print_tables,
    random_pairs,
    seconds,
    tensorflow_matmul_peak,
)

# name -> (preset, ModelConfig overrides)
CONFIGURATIONS = {
    "albert-base": ("albert-base", {"share": "all"}),
    "albert-base-unshared": ("albert-base", {"share": "none"}),
    "bert-base": ("bert-base", {}),
}
# The child prints its measurements on one stdout line after this marker.
RESULT_MARKER = "ALBERT_MEMORY_RESULT "


# --- the child: one configuration ---------------------------------------------------


def resident_mib() -> float:
    """This process's resident set size now (VmRSS), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_resident_mib() -> float:
    """The peak resident set size of this process so far (ru_maxrss: KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def training_flops_per_sequence(config, length: int, num_predictions: int) -> int:
    """Matmul FLOPs of one sequence through one AlbertPretrainer training step (the library's count)."""
    from electra_keras.pretraining.flops import training_flops_per_sequence as count

    return count(config, "albert", length, num_predictions)


def measure(name: str, args) -> dict:
    """Everything about one configuration, measured in this (fresh) process."""
    import keras
    import numpy as np
    import tensorflow as tf

    from electra_keras.data import packages
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.pretraining import AlbertPretrainer
    from electra_keras.pretraining.sizes import part_size
    from electra_keras.training.optimizers import electra_adamw

    result = {"name": name, "rss_after_import_mib": resident_mib()}
    preset, overrides = CONFIGURATIONS[name]
    if args.quick:
        overrides = {**overrides, "num_layers": 2}
    vocabulary = str(packages.bert_uncased_vocab())
    tokenizer = WordPieceTokenizer(vocabulary, lowercase=True)

    keras.utils.set_random_seed(0)
    model = AlbertPretrainer.from_preset(preset, vocabulary=vocabulary, **overrides)
    config = model.config
    size = part_size(name, model)
    result.update(
        preset=preset, share=config.share, num_layers=config.num_layers,
        embedding_size=config.embedding_size, hidden_size=config.hidden_size,
        dropout_rate=config.dropout_rate, vocab_size=config.vocab_size,
        parameters=size.parameters, weight_bytes=size.bytes,
        flops_per_sequence=training_flops_per_sequence(
            config, args.sequence_length, model.masking.num_predictions(args.sequence_length)),
        rss_after_build_mib=resident_mib(),
    )

    model.compile(optimizer=electra_adamw(learning_rate=1e-4, total_steps=1000))
    # As the pretraining runner does: optimizer variables before the first step.
    model.optimizer.build(model.trainable_variables)
    result["rss_after_optimizer_mib"] = resident_mib()
    model.make_train_function()

    batches = [
        model.mask(random_pairs(tokenizer, args.batch_size, args.sequence_length, np.random.default_rng(index)),
                   seed=tf.constant([0, index], tf.int64))
        for index in range(args.distinct_batches)
    ]
    stacked = {key: np.stack([np.asarray(batch[key]) for batch in batches]) for key in batches[0]}
    dataset = tf.data.Dataset.from_tensor_slices(stacked).repeat().prefetch(2)
    iterator = iter(model.distribute_strategy.experimental_distribute_dataset(dataset))

    def run(steps: int) -> float:
        for _ in range(steps):
            logs = model.train_function(iterator)
        return float(logs["loss"])  # reading a result waits for the steps

    started = time.perf_counter()
    run(args.warmup)
    result["warmup_s"] = time.perf_counter() - started
    timing = Timing(tuple(seconds(lambda: run(args.steps)) / args.steps for _ in range(args.repeats)))
    result.update(step=timing.as_dict(), sequences_per_s=args.batch_size / timing.median,
                  peak_rss_mib=peak_resident_mib())

    work = Path(tempfile.mkdtemp(prefix="albert_memory_"))
    try:
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        checkpoint.write(str(work / "checkpoint" / "ckpt"))
        result["checkpoint_bytes"] = size_of(work / "checkpoint")
        # An uncompiled copy: a compiled model's .keras file holds the optimizer too.
        alone = AlbertPretrainer.from_config(model.get_config())
        alone.set_weights(model.get_weights())
        alone.save(work / "model.keras")
        result["keras_file_bytes"] = size_of(work / "model.keras")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["peak_rss_after_saving_mib"] = peak_resident_mib()
    return result


# --- the parent: one child per configuration, then the table ----------------------------


def run_child(name: str, args) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name,
               "--batch-size", str(args.batch_size), "--sequence-length", str(args.sequence_length),
               "--steps", str(args.steps), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
               "--distinct-batches", str(args.distinct_batches)] + (["--quick"] if args.quick else [])
    # The child's log (stderr) passes through; its result is the marked stdout line.
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    return {"name": name, "error": f"child exited with status {completed.returncode} and no result"}


HEADERS = ("model", "share", "parameters", "checkpoint MiB (weights + Adam)", ".keras MiB",
           "RSS after import MiB", "after build MiB", "after optimizer MiB", "peak RSS MiB",
           "step adds MiB", "seq/s", "step ms", "spread", "GFLOP/seq", "matmul peak TFLOP/s", "MFU %")


def table_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], "failed"] + [""] * (len(HEADERS) - 2))
            continue
        rows.append([
            r["name"], r["share"], f"{r['parameters'] / 1e6:.1f}M",
            f"{r['checkpoint_bytes'] / 2**20:.0f}", f"{r['keras_file_bytes'] / 2**20:.0f}",
            f"{r['rss_after_import_mib']:.0f}", f"{r['rss_after_build_mib']:.0f}",
            f"{r['rss_after_optimizer_mib']:.0f}", f"{r['peak_rss_mib']:.0f}",
            f"{r['peak_rss_mib'] - r['rss_after_optimizer_mib']:.0f}",
            f"{r['sequences_per_s']:.2f}", f"{r['step']['median_s'] * 1e3:.0f}",
            f"{r['step']['spread']:.1%}", f"{r['flops_per_sequence'] / 1e9:.1f}",
            f"{r['matmul_peak_flops_per_s'] / 1e12:.3f}", f"{r['mfu'] * 100:.1f}",
        ])
    return rows


def ratios(results: list[dict], reference: str = "albert-base") -> list[str]:
    """How each other configuration compares with ALBERT, from this run."""
    by_name = {r["name"]: r for r in results if "error" not in r}
    if reference not in by_name:
        return []
    base = by_name[reference]
    lines = []
    for name, r in by_name.items():
        if name == reference:
            continue
        step_adds = (r["peak_rss_mib"] - r["rss_after_optimizer_mib"]) / (
            base["peak_rss_mib"] - base["rss_after_optimizer_mib"]
        )
        lines.append(
            f"{name} / {reference}: parameters {r['parameters'] / base['parameters']:.1f}x, "
            f"checkpoint {r['checkpoint_bytes'] / base['checkpoint_bytes']:.1f}x, "
            f".keras {r['keras_file_bytes'] / base['keras_file_bytes']:.1f}x, "
            f"peak RSS {r['peak_rss_mib'] / base['peak_rss_mib']:.2f}x, "
            f"step adds {step_adds:.2f}x, "
            f"throughput {r['sequences_per_s'] / base['sequences_per_s']:.2f}x, "
            f"MFU {r['mfu'] / base['mfu']:.2f}x"
        )
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--models", default=",".join(CONFIGURATIONS),
                        help=f"comma-separated, from {', '.join(CONFIGURATIONS)}")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per step")
    parser.add_argument("--sequence-length", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--steps", type=int, default=2, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; medians are reported")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing)")
    parser.add_argument("--distinct-batches", type=int, default=4, help="pre-masked batches, cycled")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 2-layer models, batch 2 x 32 tokens, 1 step per run")
    parser.add_argument("--markdown", action="store_true", help="also print the table as markdown for RESULTS.md")
    parser.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in args.models + ([args.child] if args.child else []) if name not in CONFIGURATIONS]
    if unknown:
        parser.error(f"--models: unknown {unknown}; expected some of {', '.join(CONFIGURATIONS)}")
    if args.quick:
        args.steps, args.repeats, args.warmup = 1, 2, 1
        args.batch_size, args.sequence_length = 2, 32
    for name in ("batch_size", "sequence_length", "steps", "repeats", "distinct_batches"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        result = measure(args.child, args)
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return 0

    machine = machine_description()
    print("Machine:\n" + format_machine(machine), flush=True)
    # How fast this (possibly shared) machine is right now, before and after
    # the children: absolute seq/s from different days compare only through it.
    matmul_size = 512 if args.quick else 2048
    peaks = []
    started = time.perf_counter()
    results = []
    for name in args.models:
        peaks.append(tensorflow_matmul_peak("float32", matmul_size))
        print(f"\n== {name} (fresh process; matmul peak now {peaks[-1] / 1e12:.3f} TFLOP/s)", flush=True)
        results.append(run_child(name, args))
        result = results[-1]
        if "error" in result:
            print(f"   FAILED: {result['error']}", flush=True)
        else:
            print(f"   {result['parameters']:,} parameters, {result['sequences_per_s']:.2f} seq/s, "
                  f"peak RSS {result['peak_rss_mib']:.0f} MiB (warm-up {result['warmup_s']:.0f} s)", flush=True)
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    peaks.append(tensorflow_matmul_peak("float32", matmul_size))
    for index, result in enumerate(results):
        if "error" not in result:
            result["matmul_peak_flops_per_s"] = (peaks[index] + peaks[index + 1]) / 2
            result["mfu"] = (result["flops_per_sequence"] * result["sequences_per_s"]
                             / result["matmul_peak_flops_per_s"])
    settings = (f"batch {args.batch_size} x {args.sequence_length} tokens, float32, electra_adamw(1e-4); "
                f"{args.warmup} warm-up steps, then {args.repeats} timed runs of {args.steps} steps; medians; "
                f"spread = (max - min) / median; each model in a fresh process"
                + ("; QUICK: 2-layer models" if args.quick else ""))
    print(f"\n{len(results)} configurations in {(time.perf_counter() - started) / 60:.1f} min; "
          f"load average (1 min) at the end {machine['load_average_1m_at_end']}; "
          f"matmul peak (float32, {matmul_size}x{matmul_size}) before each child and at the end: "
          + " / ".join(f"{peak / 1e12:.3f}" for peak in peaks) + " TFLOP/s")
    print_tables(f"AlbertPretrainer, one training step ({settings}):", HEADERS, table_rows(results), args.markdown)
    for line in ratios(results):
        print(line)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": machine, "settings": settings, "matmul_peak_flops_per_s": peaks,
                       "results": results}, out, indent=2)
        print(f"\nWrote {args.json}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
