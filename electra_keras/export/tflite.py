"""TFLite models that run in LiteRT (`ai_edge_litert`), TFLite builtins only.

The model takes the packed token ids (int32 `input_ids`, `input_mask`,
`segment_ids`, shape [batch, sequence_length], batch resizable) and returns
the task's tensors (`logits` and `probabilities`, `score`, or
`sequence_output`). Tokenization stays outside: `vocab.txt`, `labels.txt` and
`model.json` (casing, length, input/output names) are written beside the
`.tflite` file so an app can tokenize the same way, and `LiteRTModel` runs the
file on raw text from Python with this package's tokenizer.

No Flex (Select TF) ops: ai-edge-litert cannot run them, so the string ops of
the in-graph tokenizer cannot come along.

Quantization (`quantize=`):

* "none": float32.
* "dynamic": dynamic-range int8: int8 weights, float activations.
* "float16": float16 weights, float32 compute.
* "int8": weights and activations int8, calibrated on a representative
  dataset (raw texts of the task, `representative_texts`); ops without an
  int8 kernel stay float. The inputs (token ids) and outputs stay as they are.

The TFLite converter leaks memory on every `convert()`
(tensorflow/tensorflow#122598): `isolate=True` converts in a child process,
which a run converting many models should use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
REPRESENTATIVE_EXAMPLES = 200


def export_tflite(
    model,
    path: str | os.PathLike,
    *,
    quantize: str = "none",
    representative_texts=None,
    vocabulary=None,
    lowercase: bool | None = None,
    sequence_length: int | None = None,
    pair: bool = False,
    isolate: bool = False,
) -> Path:
    """Writes `model` as a `.tflite` file (TFLite builtins only) with its side files.

    Args:
        model: a `TextClassifier`, `TokenClassifier`, `Encoder` or
            `ElectraDiscriminator`.
        path: the `.tflite` file to write; `vocab.txt`, `labels.txt` (task
            models) and `model.json` go in the same folder.
        quantize: one of "none", "dynamic", "float16", "int8".
        representative_texts: for "int8": raw inputs of the task (texts, or a
            (texts, texts_b) pair of lists); a seeded sample of 200 calibrates.
        vocabulary, lowercase, sequence_length: the tokenizer of a bare
            encoder (task models bring their own).
        pair: a bare encoder's inputs are text pairs (recorded in model.json).
        isolate: convert in a child process (the converter leaks memory).

    Returns:
        The path of the `.tflite` file.

    Example:
        export_tflite(clf, "saved_models/sentiment-tflite/model.tflite", quantize="dynamic")
        LiteRTModel("saved_models/sentiment-tflite/model.tflite").predict(["a gripping film"])
    """
    from electra_keras.export.saved_model import servable_for

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize={quantize!r}: expected one of {QUANTIZATIONS}")
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"path: a .tflite file expected, got {path}")
    servable = servable_for(model, vocabulary, lowercase, sequence_length, pair)
    representative = None
    if quantize == "int8":
        if representative_texts is None:
            raise ValueError("quantize='int8' needs representative_texts: raw inputs of the task")
        representative = servable.tokenized(representative_texts, REPRESENTATIVE_EXAMPLES)

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        saved_model = Path(work) / "token_ids"
        servable.write_fixed_length(saved_model)
        data = None
        if representative is not None:
            data = Path(work) / "representative.npz"
            np.savez(data, **representative)
        if isolate:
            # A fresh interpreter, not multiprocessing: spawn would re-run the
            # caller's main module, fork would copy TensorFlow's threads.
            command = [sys.executable, "-m", "electra_keras.export.tflite",
                       str(saved_model), str(path), quantize, str(data or "")]
            child = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if child.returncode != 0:
                raise RuntimeError(f"TFLite conversion of {path} failed in its child process "
                                   f"(exit code {child.returncode}):\n{child.stdout[-3000:]}")
        else:
            _convert(str(saved_model), str(path), quantize, data and str(data))
    servable.write_side_files(path.parent, extra={"quantize": quantize, "file": path.name})
    return path


def _convert(saved_model: str, out: str, quantize: str, representative: str | None) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        arrays = dict(np.load(representative))
        count = len(arrays[INPUT_NAMES[0]])

        def examples():
            for i in range(count):
                yield {name: arrays[name][i : i + 1] for name in INPUT_NAMES}

        converter.representative_dataset = examples
    Path(out).write_bytes(converter.convert())


class LiteRTModel:
    """Runs an exported `.tflite` file on raw text with `ai_edge_litert`.

    Args:
        path: the `.tflite` file; its `model.json` and `vocab.txt` must be beside it.
        num_threads: interpreter threads (None: LiteRT's default).

    Example:
        model = LiteRTModel("saved_models/sentiment-tflite/model.tflite")
        model.predict(["a gripping film"])["label"]   # ['positive']
    """

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from electra_keras.data.tokenizer import WordPieceTokenizer

        path = Path(path)
        info_file = path.parent / "model.json"
        if not info_file.is_file():
            raise FileNotFoundError(f"{info_file}: missing; export_tflite writes it beside {path.name}")
        self.info = json.loads(info_file.read_text())
        self.tokenizer = WordPieceTokenizer(
            str(path.parent / "vocab.txt"), lowercase=self.info["lowercase"],
            sequence_length=self.info["sequence_length"],
        )
        self.labels = self.info.get("labels")
        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner()

    @property
    def pair(self) -> bool:
        return bool(self.info.get("pair"))

    def run(self, input_ids, input_mask, segment_ids) -> dict[str, np.ndarray]:
        """The model's outputs on packed token ids ([batch, sequence_length] int32)."""
        return self.runner(
            input_ids=np.asarray(input_ids, np.int32),
            input_mask=np.asarray(input_mask, np.int32),
            segment_ids=np.asarray(segment_ids, np.int32),
        )

    def predict(self, texts, texts_b=None) -> dict[str, np.ndarray | list]:
        """The outputs on raw texts (and `label` names for classifiers).

        Raises:
            ValueError: `texts_b` given to a single-text model or missing for
                a pair model, or of a different length than `texts`.
        """
        texts = list(texts)
        if self.pair != (texts_b is not None):
            raise ValueError("texts_b: a pair model needs it" if self.pair else
                             "texts_b: this model takes one text per example")
        if texts_b is not None and len(list(texts_b)) != len(texts):
            raise ValueError(f"texts has {len(texts)} entries but texts_b has {len(list(texts_b))}")
        if not texts:  # LiteRT cannot resize to an empty batch
            outputs = {name: np.zeros((0, *shape), np.float32) for name, shape in self.info["outputs"].items()}
            if self.labels is not None and "logits" in outputs and outputs["logits"].ndim == 2:
                outputs["label"] = []
            return outputs
        inputs = self.tokenizer(texts, None if texts_b is None else list(texts_b))
        outputs = self.run(inputs["token_ids"], inputs["padding_mask"], inputs["segment_ids"])
        if self.labels is not None and "logits" in outputs and outputs["logits"].ndim == 2:
            outputs["label"] = [self.labels[i] for i in np.argmax(outputs["logits"], axis=-1)]
        return outputs


if __name__ == "__main__":  # the child of export_tflite(isolate=True)
    _convert(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None)
