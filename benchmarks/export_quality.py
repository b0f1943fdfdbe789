"""Does shipping cost accuracy? A fine-tuned sentiment model, every export, the test set.

Exports one fine-tuned sentiment classifier (a run folder of `electra-keras
finetune --task sentiment`) as the reloaded SavedModel (raw text in) and as
TFLite float32, dynamic-range int8, float16, full int8 (calibrated on 200
training texts) and the raw-text TFLite variant, then runs every one on the
1,040 test sentences and prints, next to Keras: the max |logit difference|,
the accuracy, and the accuracy change in points.

    .venv/bin/python benchmarks/export_quality.py --model runs/sentiment-minilm --markdown
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--model", required=True, help="a sentiment fine-tuning run folder (model.keras)")
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    import keras
    import numpy as np
    import tensorflow as tf

    import electra_keras  # noqa: F401
    from electra_keras.data import tasks
    from electra_keras.export import export_saved_model
    from electra_keras.export.tflite import LiteRTModel, export_tflite

    args = parse_args(argv)
    print(format_machine(machine_description()))
    model = keras.saving.load_model(Path(args.model) / "model.keras")
    data = tasks.sentiment()
    texts, labels = data.test.texts, np.asarray(data.test.labels)
    work = Path(tempfile.mkdtemp(prefix="export-quality-"))

    def batched(run, size=64):
        return np.concatenate([run(texts[i:i + size]) for i in range(0, len(texts), size)])

    keras_logits = model.predict(texts, batch_size=64, verbose=0)
    served = tf.saved_model.load(str(export_saved_model(model, work / "saved_model"))).signatures["serving_default"]
    results = {"Keras": keras_logits,
               "SavedModel (raw text)": batched(lambda t: served(text=tf.constant(t))["logits"].numpy())}
    variants = {"TFLite float32": dict(quantize="none"), "TFLite dynamic-range int8": dict(quantize="dynamic"),
                "TFLite float16": dict(quantize="float16"),
                "TFLite full int8": dict(quantize="int8", representative_texts=data.train.texts),
                "TFLite raw text, float32": dict(raw_text=True),
                "TFLite raw text, dynamic int8": dict(raw_text=True, quantize="dynamic")}
    for name, options in variants.items():
        path = export_tflite(model, work / name.replace(" ", "_").replace(",", "") / "model.tflite",
                             isolate=True, **options)
        lite = LiteRTModel(path)
        results[name] = batched(lambda t, lite=lite: lite.predict(t)["logits"])
        print(name, "done", flush=True)

    base = np.mean(keras_logits.argmax(-1) == labels)
    rows = []
    for name, logits in results.items():
        accuracy = np.mean(logits.argmax(-1) == labels)
        rows.append([name, f"{np.max(np.abs(logits - keras_logits)):.1e}", f"{accuracy:.4f}",
                     f"{100 * (accuracy - base):+.2f}"])
    headers = ["model", "max abs logit diff vs Keras", "test accuracy", "points vs Keras"]
    title = f"sentiment test set, {len(labels):,} sentences, model {args.model}:"
    print_tables(title, headers, rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
