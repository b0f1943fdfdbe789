"""Where XLA's time goes on CPU: the ELECTRA train step with and without dropout,
with our step random numbers and with Keras' own.

With Keras' random numbers (TensorFlow's Philox), the XLA-compiled step was
6-9x slower than the plain one on CPU. This probe times one 4-layer
electra-small step (batch 16, seq 128, pre-masked batches as the runner
feeds them) in six variants: {no XLA, XLA} x {dropout and Gumbel noise from
`layers.random.step_random` (the default), from Keras' RNG, no dropout}. If
the gap closes without dropout, the cost is XLA's CPU random-number
generation; the step RNG (a counter-based hash XLA fuses) should close it
with dropout on.

Run: .venv/bin/python benchmarks/xla_random_ops.py   (about 6 minutes)
     .venv/bin/python benchmarks/xla_random_ops.py --quick   (a smoke test: the tiny preset, batch 2, 1 timed run, two variants)
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pretraining_throughput as throughput  # noqa: E402
from common import format_machine, machine_description  # noqa: E402

NO_DROPOUT = {"dropout_rate": 0.0, "attention_dropout_rate": 0.0}
# (label, pretraining_throughput variant, config overrides, Keras' RNG instead of the step RNG)
VARIANTS = [
    ("no XLA, dropout 0.1", "float32", {}, False),
    ("XLA, dropout 0.1", "xla", {}, False),
    ("no XLA, dropout 0.1, Keras RNG", "float32", {}, True),
    ("XLA, dropout 0.1, Keras RNG", "xla", {}, True),
    ("no XLA, dropout 0", "float32", NO_DROPOUT, False),
    ("XLA, dropout 0", "xla", NO_DROPOUT, False),
]
QUICK_VARIANTS = ("no XLA, dropout 0.1", "XLA, dropout 0.1, Keras RNG")  # both RNGs, both compilers


@contextlib.contextmanager
def keras_rng(enabled: bool):
    """The train step without a step_random block: dropout and sampling fall back to Keras' RNG."""
    from electra_keras.pretraining import base

    if not enabled:
        yield
        return
    original = base.step_random
    base.step_random = lambda seed, step: contextlib.nullcontext()
    try:
        yield
    finally:
        base.step_random = original


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="OUT", help="also write the step times to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a smoke test: the tiny preset, batch 2, 1 timed run")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from electra_keras.data import packages
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.pretraining import MaskingConfig

    args = parse_args(argv)
    preset = "tiny" if args.quick else "electra-small"
    layers, batch_size, runs, steps = (2, 2, 1, 1) if args.quick else (4, 16, 5, 2)
    machine = machine_description()
    print(format_machine(machine))
    vocabulary = str(packages.bert_uncased_vocab())
    if args.quick:  # a 2,000-piece prefix of it: the output layers, and so the compile, stay small
        scratch = tempfile.TemporaryDirectory()
        vocabulary = str(Path(scratch.name) / "vocab.txt")
        Path(vocabulary).write_text("".join(open(packages.bert_uncased_vocab(), encoding="utf-8").readlines()[:2000]))
    tokenizer = WordPieceTokenizer(vocabulary)
    masking = MaskingConfig.for_tokenizer(tokenizer, "electra")
    batches = throughput.synthetic_batches(tokenizer, masking, batch_size=batch_size, count=4)
    results = []
    for label, variant, overrides, old_rng in VARIANTS:
        if args.quick and label not in QUICK_VARIANTS:
            continue
        step = throughput.KerasElectraStep(
            preset, vocabulary, batches, variant, {"num_layers": layers, **overrides}
        )
        with keras_rng(old_rng):
            step.run(steps)  # tracing and compilation: the train step is traced here
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            step.run(steps)
            times.append((time.perf_counter() - start) / steps)
        print(f"{label}: median step {statistics.median(times) * 1000:.0f} ms "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in times)})", flush=True)
        results.append({"variant": label, "median_step_s": statistics.median(times), "step_s": times})
        step.close()
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "preset": preset, "layers": layers, "batch_size": batch_size,
                                               "quick": args.quick, "rows": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
