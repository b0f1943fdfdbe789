"""Serving latency and throughput of an ELECTRA-Small sentiment classifier, every way it ships.

One run, one machine, the same weights everywhere:

* Keras, eager (`model(inputs)`) and compiled (`tf.function` of the call);
* the exported SavedModel reloaded with `tf.saved_model.load`, both
  signatures: `token_ids` (the model alone) and `serving_default` (raw text:
  tokenization in the graph, what TF Serving runs);
* TFLite in LiteRT (`ai_edge_litert`, all usable CPU threads): float32,
  dynamic-range int8, float16, full int8 and int16x8 (int16 activations)
  (the model alone; tokenization happens in the app);
* transformers' PyTorch `ElectraForSequenceClassification` with the same
  encoder weights (converted by `to_huggingface`; its head is transformers'
  two-layer one, random: a 256x256 dense layer more, no measurable cost).

Latency: batch 1, median of --repeats calls. Throughput: batch 32, median of
5 calls. Both are timed in 5 rounds that take every variant in turn
(`common.interleaved_timings`): this VM's speed drifts by tens of percent
within minutes, and timed one after another the ratios to PyTorch carried it. Sequence length 128: the request is a review longer than that, cut
to it, so every variant does the full work (the raw-text signature's bucket
is the full length). Also the size of each artifact on disk.

A second table runs the real length distribution: sentences of the shipped
sentiment test set (a seeded sample), one per batch-1 call and 32 per batch,
each variant padding as it would in production: the raw-text SavedModel to
the batch's longest sequence rounded up to 16 (`length_bucket`), the
token-id SavedModel and PyTorch to the batch's longest sequence (what a
client that tokenizes itself sends, and what transformers' tokenizer does
with padding=True), TFLite to its fixed length.

Run from the repository root (after `make test` set up .venv):

    .venv/bin/python benchmarks/serving_latency.py --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import (  # noqa: E402
    format_machine,
    interleaved_timings,
    machine_description,
    print_tables,
    record_performance,
    usable_cpus,
)

SENTENCE = "a gripping, beautifully shot film with a superb cast, though the plot is thin"
# The first table's request: a review longer than the sequence, so that every
# variant (the raw-text signature pads to its bucket) does the full length's work.
FULL_LENGTH_TEXT = "; ".join([SENTENCE] * 12)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="electra-small")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=30, help="batch-1 calls timed per variant")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="OUT", help="also write the rows to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: the tiny preset, length 16, batch 4, 2 repeats, two TFLite variants")
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.sequence_length, args.batch_size, args.repeats = "tiny", 16, 4, 2
    return args


def size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv=None) -> int:
    import numpy as np
    import tensorflow as tf

    from electra_keras.data import packages
    from electra_keras.export import export_saved_model
    from electra_keras.export.tflite import LiteRTModel, export_tflite
    from electra_keras.tasks.classifier import TextClassifier

    args = parse_args(argv)
    threads = usable_cpus()
    print(format_machine(machine_description()))
    length = args.sequence_length
    model = TextClassifier.from_preset(args.preset, packages.bert_uncased_vocab(), label_names=["neg", "pos"],
                                       sequence_length=length)
    work = Path(tempfile.mkdtemp(prefix="serving-latency-"))
    model.save(work / "model.keras")

    texts = {1: [FULL_LENGTH_TEXT], args.batch_size: [FULL_LENGTH_TEXT] * args.batch_size}
    packed = {n: model.tokenizer(t) for n, t in texts.items()}
    ids = {n: {"input_ids": p["token_ids"], "input_mask": p["padding_mask"], "segment_ids": p["segment_ids"]}
           for n, p in packed.items()}
    as_numpy = {n: {k: v.numpy() for k, v in d.items()} for n, d in ids.items()}

    start = time.perf_counter()
    saved_model = export_saved_model(model, work / "saved_model")
    print(f"SavedModel export: {time.perf_counter() - start:.1f} s")
    lite_files = {}
    representative = [SENTENCE, "two hours I will never get back", "a tedious, joyless mess"] * 70
    # --quick converts in this process (the converter's leak does not matter for two models).
    for quantize in ("none", "dynamic") if args.quick else ("none", "dynamic", "float16", "int8", "int16x8"):
        start = time.perf_counter()
        lite_files[quantize] = export_tflite(model, work / f"tflite-{quantize}" / "model.tflite", quantize=quantize,
                                             representative_texts=representative, isolate=not args.quick)
        print(f"TFLite {quantize} conversion: {time.perf_counter() - start:.1f} s", flush=True)

    compiled = tf.function(lambda inputs: model(inputs, training=False))
    reloaded = tf.saved_model.load(str(saved_model))
    token_signature = reloaded.signatures["token_ids"]
    raw_signature = reloaded.signatures["serving_default"]
    lite_models = {q: LiteRTModel(path, num_threads=threads) for q, path in lite_files.items()}

    variants = {
        "Keras eager": (lambda n: model(packed[n], training=False).numpy(), work / "model.keras"),
        "Keras tf.function": (lambda n: compiled(packed[n]).numpy(), work / "model.keras"),
        "SavedModel, token ids": (lambda n: token_signature(**ids[n])["logits"].numpy(), saved_model),
        "SavedModel, raw text (TF Serving's path)":
            (lambda n: raw_signature(text=tf.constant(texts[n]))["logits"].numpy(), saved_model),
    }
    names = {"none": "float32", "dynamic": "dynamic-range int8", "float16": "float16", "int8": "full int8",
             "int16x8": "int16x8"}
    for quantize, lite in lite_models.items():
        variants[f"TFLite {names[quantize]}"] = (
            lambda n, lite=lite: lite.run(**as_numpy[n])["logits"], lite_files[quantize])

    torch_model = _pytorch_classifier(model, work, threads)
    if torch_model is not None:
        torch_classifier, torch_file = torch_model
        torch_runs = {n: _torch_runner(torch_classifier, as_numpy[n]) for n in as_numpy}
        # transformers' head differs (see the module docstring): its logit diff is no parity figure.
        variants["PyTorch ElectraForSequenceClassification"] = (lambda n: torch_runs[n](), torch_file)

    reference = model(packed[1], training=False).numpy()
    # PyTorch has transformers' own (random) head: no parity figure for it.
    differences = {name: None if name.startswith("PyTorch") else float(np.max(np.abs(run(1) - reference)))
                   for name, (run, _) in variants.items()}
    # In rounds over all variants, so that the VM's drift does not enter their ratios.
    latencies = interleaved_timings({name: (lambda run=run: run(1)) for name, (run, _) in variants.items()},
                                    repeats=args.repeats, warmup=1 if args.quick else 3, progress="batch 1")
    batches = interleaved_timings({name: (lambda run=run: run(args.batch_size)) for name, (run, _) in variants.items()},
                                  repeats=2 if args.quick else 5, progress=f"batch {args.batch_size}")
    rows, measured = [], []
    for name, (run, artifact) in variants.items():
        latency, batch, difference = latencies[name], batches[name], differences[name]
        measured.append({"variant": name, "batch1_latency": latency.as_dict(), "batch_throughput_seq_per_s":
                         args.batch_size / batch.median, "size_bytes": size_of(artifact),
                         "max_abs_logit_diff": difference})
        rows.append([name, f"{latency.median * 1e3:.1f}", f"{args.batch_size / batch.median:.1f}",
                     f"{size_of(artifact) / 2**20:.1f}", "other head" if difference is None else f"{difference:.1e}"])
    headers = ["variant", "batch 1 latency ms (median)", f"batch {args.batch_size} seq/s",
               "size MiB", "max abs logit diff vs Keras"]
    title = f"{args.preset} sentiment classifier, sequence length {length}, {threads} threads:"
    print_tables(title, headers, rows, args.markdown)
    real_rows, real_measured, lengths = real_length_rows(
        args, model, raw_signature, token_signature, lite_models,
        None if torch_model is None else torch_model[0], threads)
    print_tables(f"The same models on sentiment test sentences (length in tokens: median {lengths['median_tokens']:.0f}, "
                 f"90th percentile {lengths['p90_tokens']:.0f}, max {lengths['max_tokens']}; at most {length}):",
                 ["variant", "batch 1 latency ms (median)", f"batch {args.batch_size} seq/s"], real_rows, args.markdown)
    by_name = {row["variant"]: row for row in measured}
    torch_row = by_name.get("PyTorch ElectraForSequenceClassification")
    if torch_row is not None and not args.quick and args.preset == "electra-small":
        saved = by_name["SavedModel, raw text (TF Serving's path)"]
        ratios = {
            "savedmodel_b1_vs_pytorch": saved["batch1_latency"]["median_s"] / torch_row["batch1_latency"]["median_s"],
            "savedmodel_b32_vs_pytorch": saved["batch_throughput_seq_per_s"] / torch_row["batch_throughput_seq_per_s"],
        }
        if "TFLite dynamic-range int8" in by_name:
            ratios["tflite_int8_b1_vs_pytorch"] = (by_name["TFLite dynamic-range int8"]["batch1_latency"]["median_s"]
                                                  / torch_row["batch1_latency"]["median_s"])
        record_performance(ratios, "benchmarks/serving_latency.py", machine_description())
        print("Ratios to PyTorch (latency: lower is better; throughput: higher):",
              ", ".join(f"{key} {value:.2f}" for key, value in ratios.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine_description(), "preset": args.preset, "sequence_length": length,
            "batch_size": args.batch_size, "threads": threads, "quick": args.quick, "rows": measured,
            "request_tokens": int(packed[1]["padding_mask"].numpy().sum()),
            "real_lengths": {**lengths, "rows": real_measured}}, indent=2))
    return 0


def _pytorch_classifier(model, work: Path, threads: int):
    """transformers' ElectraForSequenceClassification with our encoder's weights, or None."""
    try:
        import torch
        import transformers
    except ImportError:
        print("transformers/torch not installed (make test installs them): no PyTorch row")
        return None
    from electra_keras.convert import to_huggingface

    torch.set_num_threads(threads)
    folder = to_huggingface(model.backbone, work / "huggingface")
    classifier = transformers.ElectraForSequenceClassification.from_pretrained(folder, num_labels=2).eval()
    classifier.save_pretrained(folder)
    return classifier, folder / "model.safetensors"


def _torch_runner(classifier, ids: dict):
    """Logits of `classifier` on our packed numpy inputs."""
    import torch

    inputs = dict(input_ids=torch.from_numpy(ids["input_ids"]).long(),
                  attention_mask=torch.from_numpy(ids["input_mask"]).long(),
                  token_type_ids=torch.from_numpy(ids["segment_ids"]).long())

    def run():
        with torch.inference_mode():
            return classifier(**inputs).logits.numpy()

    return run


def _to_longest(packed) -> dict:
    """Numpy token-id inputs cut to the batch's longest sequence (a client padding to the longest)."""
    width = int(packed["padding_mask"].numpy().sum(axis=1).max())
    return {"input_ids": packed["token_ids"].numpy()[:, :width], "input_mask": packed["padding_mask"].numpy()[:, :width],
            "segment_ids": packed["segment_ids"].numpy()[:, :width]}


def real_length_rows(args, model, raw_signature, token_signature, lite_models, torch_model, threads):
    """Batch-1 latency and batch throughput on sentences of the sentiment test set."""
    import numpy as np
    import tensorflow as tf

    from electra_keras.data import tasks

    test = list(tasks.sentiment().test.texts)
    sample = [test[i] for i in np.random.default_rng(0).permutation(len(test))]
    singles = sample[: args.repeats + 3]
    batches = [sample[i * args.batch_size:(i + 1) * args.batch_size] for i in range(5 + 1)]
    lengths = model.tokenizer(sample[: 32 * 6])["padding_mask"].numpy().sum(axis=1)

    def cycling(calls):
        state = {"i": 0}

        def run():
            call = calls[state["i"] % len(calls)]
            state["i"] += 1
            return call()
        return run

    def raw(texts):
        return lambda: raw_signature(text=tf.constant(texts))["logits"].numpy()

    def ids_longest(texts):
        ids = {k: tf.constant(v) for k, v in _to_longest(model.tokenizer(texts)).items()}
        return lambda: token_signature(**ids)["logits"].numpy()

    def lite(runner):
        def build(texts):
            packed = model.tokenizer(texts)
            ids = {"input_ids": packed["token_ids"].numpy(), "input_mask": packed["padding_mask"].numpy(),
                   "segment_ids": packed["segment_ids"].numpy()}
            return lambda: runner.run(**ids)["logits"]
        return build

    builders = {"SavedModel, raw text (bucketed padding)": raw,
                "SavedModel, token ids (padded to the longest)": ids_longest}
    for quantize, label in (("none", "TFLite float32 (fixed length)"), ("dynamic", "TFLite dynamic-range int8 (fixed length)")):
        if quantize in lite_models:
            builders[label] = lite(lite_models[quantize])
    if torch_model is not None:
        builders["PyTorch (padded to the longest)"] = (
            lambda texts: _torch_runner(torch_model, _to_longest(model.tokenizer(texts))))
    latencies = interleaved_timings({name: cycling([build([t]) for t in singles]) for name, build in builders.items()},
                                    repeats=args.repeats, warmup=1 if args.quick else 3, progress="real lengths, batch 1")
    throughputs = interleaved_timings({name: cycling([build(b) for b in batches]) for name, build in builders.items()},
                                      repeats=2 if args.quick else 5, progress=f"real lengths, batch {args.batch_size}")
    rows, measured = [], []
    for name in builders:
        latency, batch = latencies[name], throughputs[name]
        measured.append({"variant": name, "batch1_latency": latency.as_dict(),
                         "batch_throughput_seq_per_s": args.batch_size / batch.median})
        rows.append([name, f"{latency.median * 1e3:.1f}", f"{args.batch_size / batch.median:.1f}"])
    summary = {"median_tokens": float(np.median(lengths)), "p90_tokens": float(np.percentile(lengths, 90)),
               "max_tokens": int(lengths.max())}
    return rows, measured, summary


if __name__ == "__main__":
    sys.exit(main())
