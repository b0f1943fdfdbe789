"""Throughput of the pretraining input pipeline (`pretraining_dataset`).

Prepares WikiText-2 raw train into TFRecord shards (BERT-uncased vocabulary,
unless --data names a folder written earlier), then reads shuffled,
repeated batches and reports examples per second: the median of --runs runs
of --batches batches each, after a warm-up that fills the shuffle buffer.
Also reports the time to the first batch, fresh and when resuming with
--skip batches skipped.

    .venv/bin/python benchmarks/input_pipeline.py
    .venv/bin/python benchmarks/input_pipeline.py --data runs/wikitext2-128 --runs 7
    .venv/bin/python benchmarks/input_pipeline.py --quick    # a smoke test: 2,000 lines, a few batches

The model trains at tens of sequences per second on a CPU; the reader must
be far faster than that so that it is never the bottleneck.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as electra_keras sets it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402

from common import format_machine, machine_description  # noqa: E402
from electra_keras.data import packages  # noqa: E402
from electra_keras.data.corpus import wikitext2_corpus  # noqa: E402
from electra_keras.data.pretraining_data import (  # noqa: E402
    load_metadata,
    prepare_pretraining_data,
    pretraining_dataset,
)


def time_batches(dataset: tf.data.Dataset, count: int, warmup: int = 0) -> float:
    """Seconds to read `count` batches, after reading `warmup` untimed ones."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(count):
        batch = next(iterator)
    batch["token_ids"].numpy()  # the last batch is really there
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", help="a folder from prepare_pretraining_data (default: prepare WikiText-2)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batches", type=int, default=300, help="batches timed per run")
    parser.add_argument("--warmup", type=int, default=100, help="batches read before timing")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip", type=int, default=1000, help="skip_batches for the resume timing")
    parser.add_argument("--workers", type=int, default=2, help="processes for preparing the data")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: the first 2,000 lines of WikiText-2, batch 16, a few batches")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.batches, args.warmup, args.runs, args.skip, args.workers = 16, 10, 5, 2, 5, 1

    machine = machine_description()
    print(format_machine(machine))
    with tempfile.TemporaryDirectory() as scratch:
        results: dict = {"machine": machine, "batch_size": args.batch_size, "quick": args.quick}
        data = args.data
        if data is None:
            corpus = None
            if args.quick:
                corpus = [os.path.join(scratch, "wikitext2-head.txt")]
                source_path = wikitext2_corpus()
                opener = gzip.open if source_path.suffix == ".gz" else open
                with opener(source_path, "rt", encoding="utf-8") as source:
                    head = [line for _, line in zip(range(2000), source)]
                Path(corpus[0]).write_text("".join(head), encoding="utf-8")
            data = os.path.join(scratch, "wikitext2")
            stats = prepare_pretraining_data(
                corpus, packages.bert_uncased_vocab(), data, args.sequence_length,
                workers=args.workers, verbose=True,
            )
            results.update(prepare_seconds=round(stats.seconds, 2), prepare_workers=stats.workers)
        metadata = load_metadata(data)
        results.update(
            sequence_length=metadata["sequence_length"],
            examples=metadata["counts"]["examples"],
            shards=len(metadata["shards"]),
        )

        def dataset(skip: int = 0) -> tf.data.Dataset:
            return pretraining_dataset(
                data, args.batch_size, args.sequence_length, skip_batches=skip
            )

        first = time_batches(dataset(), 1)
        resumed = time_batches(dataset(args.skip), 1)
        rates = [
            args.batches * args.batch_size / time_batches(dataset(), args.batches, args.warmup)
            for _ in range(args.runs)
        ]
        results.update(
            examples_per_second_median=round(statistics.median(rates)),
            examples_per_second_runs=[round(r) for r in rates],
            first_batch_seconds=round(first, 3),
            first_batch_after_skip_seconds=round(resumed, 3),
            skip_batches=args.skip,
        )
    print(
        f"{results['examples']:,} examples of length {results['sequence_length']} in "
        f"{results['shards']} shard(s), batch {args.batch_size}:\n"
        f"  {results['examples_per_second_median']:,} examples/s (median of {args.runs} runs of "
        f"{args.batches} batches; runs: {results['examples_per_second_runs']})\n"
        f"  first batch {first:.2f} s; first batch after skip_batches={args.skip}: {resumed:.2f} s"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
