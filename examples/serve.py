"""Answers from exported models, in a process that never saw the Keras model.

    python examples/serve.py --saved-model saved_models/sentiment/1 \
        --tflite saved_models/sentiment-tflite/model.tflite "a gripping film" ...

The SavedModel is loaded as TF Serving loads it: plain TensorFlow plus the
TF-Text kernels, raw strings in. The TFLite model runs in LiteRT
(ai_edge_litert); its tokenization runs in Python (`LiteRTModel`), with the
vocab.txt exported beside it.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's oneDNN kernels on every x86 CPU (on its own it uses them only with
# AVX512_VNNI/BF16 or AMX); TF Serving reads the same variable.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (the tokenizer's ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved-model", required=True, help="a version folder, e.g. saved_models/sentiment/1")
    parser.add_argument("--tflite", help="a .tflite file written by electra-keras export")
    parser.add_argument("texts", nargs="+")
    args = parser.parse_args()

    served = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    answers = served(text=tf.constant(args.texts))
    rows = [[label.decode(), f"{p.max():.2f}"] for label, p in zip(answers["label"].numpy(),
                                                                  answers["probabilities"].numpy())]
    header = f"{'SavedModel':<16}"
    if args.tflite:
        from electra_keras.export.tflite import LiteRTModel

        lite = LiteRTModel(args.tflite).predict(args.texts)
        for row, label, p in zip(rows, lite["label"], lite["probabilities"]):
            row += [label, f"{np.max(p):.2f}"]
        header += f"{'TFLite':<16}"
    print(header + "text")
    for row, text in zip(rows, args.texts):
        cells = "".join(f"{f'{row[i]} {row[i + 1]}':<16}" for i in range(0, len(row), 2))
        print(cells + text)


if __name__ == "__main__":
    main()
