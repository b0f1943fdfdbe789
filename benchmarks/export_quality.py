"""Does shipping cost accuracy? A fine-tuned sentiment model, every export, the test set.

Exports one fine-tuned sentiment classifier (a run folder of `electra-keras
finetune --task sentiment`) as the reloaded SavedModel (raw text in) and as
TFLite float32, dynamic-range int8, float16, full int8 and int16x8 (both
calibrated on 200 training texts) and the raw-text TFLite variant, then runs every one on the
1,040 test sentences and prints, next to Keras: the max |logit difference|,
the accuracy, and the accuracy change in points.

    .venv/bin/python benchmarks/export_quality.py --model runs/sentiment-minilm --markdown
    .venv/bin/python benchmarks/export_quality.py --quick   # a smoke test

`--quick` fine-tunes a tiny model on 64 examples (unless --model is given),
scores the first 64 test sentences and exports two TFLite variants (one
model-only, one raw-text) in this process.
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

from common import format_machine, machine_description, print_tables  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a sentiment fine-tuning run folder (model.keras)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="OUT", help="also write the rows to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a smoke test (see the module docstring)")
    args = parser.parse_args(argv)
    if args.model is None and not args.quick:
        parser.error("--model is required (a run folder of `electra-keras finetune --task sentiment`)")
    return args


def tiny_sentiment_model(folder: Path) -> Path:
    """A tiny classifier fine-tuned on 64 sentiment examples, for --quick."""
    from electra_keras.training.finetune import FinetuningOptions, finetune

    finetune(FinetuningOptions(out=str(folder), task="sentiment", preset="tiny", epochs=1, batch_size=16,
                               sequence_length=16, learning_rate=1e-3, max_train_examples=64), verbose=0)
    return folder


def main(argv=None) -> int:
    import keras
    import numpy as np
    import tensorflow as tf

    import electra_keras  # noqa: F401
    from electra_keras.data import tasks
    from electra_keras.export import export_saved_model
    from electra_keras.export.tflite import LiteRTModel, export_tflite

    args = parse_args(argv)
    machine = machine_description()
    print(format_machine(machine))
    scratch = tempfile.TemporaryDirectory(prefix="export-quality-")
    work = Path(scratch.name)
    folder = Path(args.model) if args.model else tiny_sentiment_model(work / "tiny-sentiment")
    model = keras.saving.load_model(folder / "model.keras")
    data = tasks.sentiment()
    texts, labels = data.test.texts, np.asarray(data.test.labels)
    if args.quick:
        texts, labels = texts[:64], labels[:64]

    def batched(run, size=64):
        return np.concatenate([run(texts[i:i + size]) for i in range(0, len(texts), size)])

    keras_logits = model.predict(texts, batch_size=64, verbose=0)
    served = tf.saved_model.load(str(export_saved_model(model, work / "saved_model"))).signatures["serving_default"]
    results = {"Keras": keras_logits,
               "SavedModel (raw text)": batched(lambda t: served(text=tf.constant(t))["logits"].numpy())}
    variants = {"TFLite float32": dict(quantize="none"), "TFLite dynamic-range int8": dict(quantize="dynamic"),
                "TFLite float16": dict(quantize="float16"),
                "TFLite full int8": dict(quantize="int8", representative_texts=data.train.texts),
                "TFLite int16x8 (int16 activations)": dict(quantize="int16x8", representative_texts=data.train.texts),
                "TFLite raw text, float32": dict(raw_text=True),
                "TFLite raw text, dynamic int8": dict(raw_text=True, quantize="dynamic")}
    if args.quick:
        variants = {name: variants[name] for name in ("TFLite dynamic-range int8", "TFLite raw text, float32")}
    for name, options in variants.items():
        path = export_tflite(model, work / name.replace(" ", "_").replace(",", "") / "model.tflite",
                             isolate=not args.quick, **options)
        lite = LiteRTModel(path)
        results[name] = batched(lambda t, lite=lite: lite.predict(t)["logits"])
        print(name, "done", flush=True)

    base = np.mean(keras_logits.argmax(-1) == labels)
    rows, measured = [], []
    for name, logits in results.items():
        accuracy = float(np.mean(logits.argmax(-1) == labels))
        difference = float(np.max(np.abs(logits - keras_logits)))
        measured.append({"model": name, "max_abs_logit_diff": difference, "accuracy": accuracy})
        rows.append([name, f"{difference:.1e}", f"{accuracy:.4f}", f"{100 * (accuracy - base):+.2f}"])
    headers = ["model", "max abs logit diff vs Keras", "test accuracy", "points vs Keras"]
    title = f"sentiment test set, {len(labels):,} sentences, model {folder}:"
    print_tables(title, headers, rows, args.markdown)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "model": str(folder), "sentences": len(labels),
                                               "quick": args.quick, "rows": measured}, indent=2))
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
