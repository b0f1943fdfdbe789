"""Where XLA's time goes on CPU: the ELECTRA train step with and without dropout.

The full benchmark (`pretraining_throughput.py`) finds the XLA-compiled step
6-9x slower than the plain one on CPU. This probe times four variants of one
4-layer electra-small step (batch 16, seq 128, pre-masked batches as the
runner feeds them): {no XLA, XLA} x {dropout 0.1, dropout 0}. If the gap
closes without dropout, the cost is XLA's CPU random-number generation.

Run: .venv/bin/python benchmarks/xla_random_ops.py   (about 4 minutes)
"""

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pretraining_throughput as throughput  # noqa: E402
from common import format_machine, machine_description  # noqa: E402

NO_DROPOUT = {"dropout_rate": 0.0, "attention_dropout_rate": 0.0}
VARIANTS = [
    ("no XLA, dropout 0.1", "float32", {}),
    ("XLA, dropout 0.1", "xla", {}),
    ("no XLA, dropout 0", "float32", NO_DROPOUT),
    ("XLA, dropout 0", "xla", NO_DROPOUT),
]


def main() -> int:
    from electra_keras.data import packages
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.pretraining import MaskingConfig

    print(format_machine(machine_description()))
    vocabulary = packages.bert_uncased_vocab()
    tokenizer = WordPieceTokenizer(vocabulary)
    masking = MaskingConfig.for_tokenizer(tokenizer, "electra")
    batches = throughput.synthetic_batches(tokenizer, masking, batch_size=16, count=4)
    for label, variant, overrides in VARIANTS:
        step = throughput.KerasElectraStep(
            "electra-small", vocabulary, batches, variant, {"num_layers": 4, **overrides}
        )
        step.run(2)  # tracing and compilation
        times = []
        for _ in range(5):
            start = time.perf_counter()
            step.run(2)
            times.append((time.perf_counter() - start) / 2)
        print(f"{label}: median step {statistics.median(times) * 1000:.0f} ms "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in times)})", flush=True)
        step.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
