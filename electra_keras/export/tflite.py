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

`raw_text=True` (single-text classifiers) instead puts the tokenizer inside:
TF-Text's `FastBertNormalizer` and `FastWordpieceTokenizer`, which have TFLite
kernels, as custom ops; the model takes one string (`text`, shape [1]) and
LiteRT runs it with TF-Text's op registrar
(`tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`, which `LiteRTModel`
passes). Its ids equal the SavedModel tokenizer's on ordinary text; they
differ where the fast tokenizer does: literal special tokens ("[MASK]" in
the text) are read as plain text, and words over 100 bytes become [UNK].

Quantization (`quantize=`):

* "none": float32.
* "dynamic": dynamic-range int8: int8 weights, float activations.
* "float16": float16 weights, float32 compute.
* "int8": weights and activations int8, calibrated on a representative
  dataset (raw texts of the task, `representative_texts`); ops without an
  int8 kernel stay float. The inputs (token ids) and outputs stay as they are.
* "int16x8": int8 weights and int16 activations, calibrated like "int8"
  (LayerNorm's squared difference stays float: LiteRT has no int16 kernel
  for it). LiteRT runs it in reference kernels: accurate, not fast.

The calibrated variants trace attention with `bounded_attention_masking`
(layers/transformer.py): Keras masks padded keys with -1e9, which would give
a calibrated activation a range of 1e9 and round every real score alike. On
the demo's fine-tuned MiniLM sentiment model (benchmarks/RESULTS.md,
export_quality) that took full int8 from -18.7 to -6.4 points of accuracy
and int16x8 from -28.0 to -1.1; "dynamic" loses 0.1. Prefer "dynamic", or
"int16x8" where the app needs integer activations.

`mediapipe=True` (single-text classifiers with a lowercasing WordPiece
vocabulary) writes MediaPipe's model metadata into the file: the vocabulary
(BERT tokenizer), the label names and the roles of the three inputs, written
with MediaPipe's own metadata writer, so MediaPipe Tasks' `TextClassifier`
(Android, iOS, web, Python) runs the file on raw text. Its one output is
`probabilities`: MediaPipe reports the output as the class scores and
applies no softmax (its score calibration is per-class sigmoid only), and the
softmax keeps Keras' argmax, so the top category is `predict_labels`' label.
MediaPipe's tokenizer lowercases ASCII only and strips no accents: its ids
equal ours on ASCII text; text with accented or other non-ASCII letters, or
literal special tokens ("[MASK]"), may get other pieces.

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
import types
from pathlib import Path

import numpy as np

QUANTIZATIONS = ("none", "dynamic", "float16", "int8", "int16x8")
CALIBRATED = ("int8", "int16x8")
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
    raw_text: bool = False,
    mediapipe: bool = False,
    isolate: bool = False,
) -> Path:
    """Writes `model` as a `.tflite` file (TFLite builtins only) with its side files.

    Args:
        model: a `TextClassifier`, `TokenClassifier`, `Encoder` or
            `ElectraDiscriminator`.
        path: the `.tflite` file to write; `vocab.txt`, `labels.txt` (task
            models) and `model.json` go in the same folder.
        quantize: one of "none", "dynamic", "float16", "int8", "int16x8".
        representative_texts: for "int8" and "int16x8": raw inputs of the task (texts, or a
            (texts, texts_b) pair of lists); a seeded sample of 200 calibrates.
        vocabulary, lowercase, sequence_length: the tokenizer of a bare
            encoder (task models bring their own).
        pair: a bare encoder's inputs are text pairs (recorded in model.json).
        raw_text: tokenize inside the model (single-text `TextClassifier`s;
            TF-Text custom ops, see the module docstring).
        mediapipe: write MediaPipe's metadata into the model (single-text
            `TextClassifier`s, lowercasing WordPiece; one output,
            `probabilities`; see the module docstring).
        isolate: convert in a child process (the converter leaks memory).

    Returns:
        The path of the `.tflite` file.

    Example:
        export_tflite(clf, "saved_models/sentiment-tflite/model.tflite", quantize="dynamic")
        LiteRTModel("saved_models/sentiment-tflite/model.tflite").predict(["a gripping film"])
        # MediaPipe Tasks on raw text (pip install mediapipe):
        export_tflite(clf, "saved_models/sentiment-mediapipe/model.tflite", mediapipe=True)
    """
    from electra_keras.export.saved_model import servable_for
    from electra_keras.layers.transformer import additive_attention_masking, bounded_attention_masking

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize={quantize!r}: expected one of {QUANTIZATIONS}")
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"path: a .tflite file expected, got {path}")
    servable = servable_for(model, vocabulary, lowercase, sequence_length, pair)
    if raw_text:
        _check_raw_text_model(model)
        if quantize in CALIBRATED:
            raise ValueError(
                f"quantize={quantize!r} with raw_text=True: the converter's calibration cannot run TF-Text's "
                "custom tokenizer ops; use 'dynamic' or 'float16', or full int8 on the token-id model"
            )
    if mediapipe:
        _check_mediapipe_model(model, raw_text)
    representative = None
    if quantize in CALIBRATED:
        if representative_texts is None:
            raise ValueError(f"quantize={quantize!r} needs representative_texts: raw inputs of the task")
        representative = servable.tokenized(representative_texts, REPRESENTATIVE_EXAMPLES)

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        saved_model = Path(work) / "for_tflite"
        # Calibrated activations need every score within a real range (see
        # bounded_attention_masking); float graphs add the mask as a bias,
        # which XNNPACK runs in one partition (additive_attention_masking).
        with bounded_attention_masking() if quantize in CALIBRATED else additive_attention_masking():
            if raw_text:
                _write_raw_text_model(servable, saved_model)
            elif mediapipe:
                _write_probabilities_model(servable, saved_model)
            else:
                servable.write_fixed_length(saved_model)
        data = None
        if representative is not None:
            data = Path(work) / "representative.npz"
            np.savez(data, **representative)
        if isolate:
            # A fresh interpreter, not multiprocessing: spawn would re-run the
            # caller's main module, fork would copy TensorFlow's threads.
            command = [sys.executable, "-m", "electra_keras.export.tflite",
                       str(saved_model), str(path), quantize, str(data or ""), str(int(raw_text))]
            child = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if child.returncode != 0:
                raise RuntimeError(f"TFLite conversion of {path} failed in its child process "
                                   f"(exit code {child.returncode}):\n{child.stdout[-3000:]}")
        else:
            _convert(str(saved_model), str(path), quantize, data and str(data), raw_text)
        if mediapipe:
            _write_mediapipe_metadata(path, servable, Path(work))
    extra = {"quantize": quantize, "file": path.name, "raw_text": raw_text, "mediapipe": mediapipe}
    if raw_text:
        extra["inputs"] = ["text"]
    if mediapipe:
        extra["outputs"] = {"probabilities": [len(servable.label_names)]}
    servable.write_side_files(path.parent, extra=extra)
    return path


def _check_raw_text_model(model) -> None:
    from electra_keras.tasks.classifier import TextClassifier

    if not isinstance(model, TextClassifier) or model.pair:
        raise ValueError(
            "raw_text=True: only single-text TextClassifiers get the tokenizer inside the TFLite "
            f"model; export this {type(model).__name__} as a token-id model (raw_text=False)"
        )
    if isinstance(model.vocabulary, dict):
        # tensorflow_text's FastSentencepieceTokenizer runs in LiteRT, but ALBERT's
        # lowercasing and accent stripping (NormalizeUTF8, regex ops) would need Flex.
        raise ValueError(
            "raw_text=True: the in-model tokenizer is WordPiece only; this model uses a "
            "SentencePiece model, whose ALBERT preprocessing has no LiteRT kernels. Export "
            "token ids (raw_text=False) and tokenize with the spiece.model written beside it"
        )


def _write_raw_text_model(servable, path: Path) -> None:
    """A SavedModel: one string [1] -> fast TF-Text tokenizer -> packed ids -> outputs."""
    import keras
    import tensorflow as tf
    import tensorflow_text as tf_text

    tokenizer = servable.tokenizer
    length = tokenizer.sequence_length
    normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=tokenizer.lowercase)
    wordpiece = tf_text.FastWordpieceTokenizer(
        tokenizer.vocabulary, suffix_indicator="##", max_bytes_per_word=100, token_out_type=tf.int32,
        unknown_token="[UNK]", no_pretokenization=False, support_detokenization=False,
    )
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id

    def raw(text):
        pieces = wordpiece.tokenize(normalizer.normalize(text)).flat_values[: length - 2]
        count = tf.shape(pieces)[0]
        padding = tf.fill([length - 2 - count], tf.constant(tokenizer.pad_token_id, tf.int32))
        token_ids = tf.concat([[cls], pieces, [sep], padding], axis=0)[None, :]
        padding_mask = tf.cast(tf.range(length) < count + 2, tf.int32)[None, :]
        return servable.numeric_outputs(
            {"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids), "padding_mask": padding_mask})

    archive = keras.export.ExportArchive()
    archive.add_endpoint("serving_default", raw, input_signature=[tf.TensorSpec([1], tf.string, name="text")])
    archive.write_out(str(path), verbose=False)


def _check_mediapipe_model(model, raw_text: bool) -> None:
    from electra_keras.tasks.classifier import TextClassifier

    if not isinstance(model, TextClassifier) or model.pair or model.regression:
        raise ValueError(
            "mediapipe=True: MediaPipe's TextClassifier classifies one text; export this "
            f"{'pair or regression ' if isinstance(model, TextClassifier) else ''}{type(model).__name__} "
            "without mediapipe=True"
        )
    if raw_text:
        raise ValueError("mediapipe=True with raw_text=True: MediaPipe tokenizes itself and feeds token ids; "
                         "drop raw_text")
    if isinstance(model.vocabulary, dict) or not model.lowercase:
        # MediaPipe's BERT preprocessor always lowercases (ASCII) before its
        # WordPiece; its SentencePiece path lacks ALBERT's lowercasing and
        # accent stripping. Either would feed the model other ids than ours.
        raise ValueError(
            "mediapipe=True: MediaPipe's text classifier tokenizes as an uncased WordPiece (BERT) model; "
            f"this model's tokenizer is {'SentencePiece' if isinstance(model.vocabulary, dict) else 'cased'}. "
            "Export token ids (mediapipe=False) and tokenize in the app"
        )


def _write_probabilities_model(servable, path: Path) -> None:
    """A SavedModel: [batch, sequence_length] token ids -> `probabilities` alone.

    MediaPipe's text classifier metadata describes one output, the class
    scores, and its writer refuses a model with more outputs than metadata.
    """
    servable.write_fixed_length(path, outputs=("probabilities",))


def _write_mediapipe_metadata(path: Path, servable, work: Path) -> None:
    """Rewrites the `.tflite` file with MediaPipe's text classifier metadata and files inside."""
    metadata_writer, text_classifier = _mediapipe_metadata_writers()

    bad = [name for name in servable.label_names if "\n" in name or "\r" in name]
    if bad:
        raise ValueError(f"label names {bad}: a label name cannot hold a line break")
    vocabulary = servable.tokenizer.write_vocabulary_file(work)
    model = bytearray(path.read_bytes())
    # The converter names a signature's input tensors "<signature>_<input>:0".
    tensors = {name: f"serving_default_{name}:0" for name in INPUT_NAMES}
    writer = text_classifier.MetadataWriter.create_for_bert_model(
        model,
        metadata_writer.BertTokenizer(vocab_file_path=str(vocabulary)),
        metadata_writer.Labels().add(list(servable.label_names)),
        ids_name=tensors["input_ids"], mask_name=tensors["input_mask"], segment_name=tensors["segment_ids"],
    )
    with_metadata, _ = writer.populate()
    path.write_bytes(with_metadata)


def _mediapipe_metadata_writers():
    """MediaPipe's `metadata_writer` and `text_classifier` writer modules.

    The mediapipe wheels since the move of their Python API onto the C
    library (0.10.3x up to 1.2.3 at least) ship `metadata.py`, which imports
    the pybind module `mediapipe.tasks.cc.metadata.python._pywrap_metadata_version`,
    but not that module. It has one function, the minimum metadata parser
    version; `_minimum_parser_version` stands in for it while the writers
    import, and the rest of MediaPipe's writer runs unchanged.
    """
    try:
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, text_classifier
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("mediapipe.tasks.cc"):
            raise
        package = "mediapipe.tasks.cc.metadata.python"
        stand_in = types.ModuleType(package)
        stand_in._pywrap_metadata_version = types.SimpleNamespace(
            GetMinimumMetadataParserVersion=_minimum_parser_version)
        sys.modules[package] = stand_in
        try:
            from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, text_classifier
        finally:
            del sys.modules[package]
    return metadata_writer, text_classifier


def _minimum_parser_version(metadata: bytes) -> str:
    """The oldest metadata parser that reads every field `metadata` uses (a "major.minor.patch" string).

    As MediaPipe's `GetMinimumMetadataParserVersion`
    (mediapipe/tasks/cc/metadata/metadata_version.cc): each schema member added
    after 1.0.0 raises the version to the one that introduced it.
    """
    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema

    root = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAs(bytes(metadata), 0))
    tokenizers = {schema.ProcessUnitOptions.BertTokenizerOptions: (1, 1, 0),
                  schema.ProcessUnitOptions.SentencePieceTokenizerOptions: (1, 1, 0),
                  schema.ProcessUnitOptions.RegexTokenizerOptions: (1, 2, 1)}
    versions = [(1, 0, 0)]

    def files(entries):
        for entry in entries or []:
            if entry.type == schema.AssociatedFileType.VOCABULARY:
                versions.append((1, 0, 1))
            if entry.type == schema.AssociatedFileType.SCANN_INDEX_FILE:
                versions.append((1, 4, 0))
            if entry.version is not None:
                versions.append((1, 4, 1))

    def units(entries):
        versions.extend(tokenizers.get(unit.optionsType, (1, 0, 0)) for unit in entries or [])

    for subgraph in root.subgraphMetadata or []:
        for tensor in (subgraph.inputTensorMetadata or []) + (subgraph.outputTensorMetadata or []):
            files(tensor.associatedFiles)
            units(tensor.processUnits)
            if tensor.content is not None and (
                    tensor.content.contentPropertiesType == schema.ContentProperties.AudioProperties):
                versions.append((1, 3, 0))
        files(subgraph.associatedFiles)
        for process_units in (subgraph.inputProcessUnits, subgraph.outputProcessUnits):
            if process_units is not None:
                versions.append((1, 1, 0))
                units(process_units)
        if subgraph.inputTensorGroups is not None or subgraph.outputTensorGroups is not None:
            versions.append((1, 2, 0))
        if subgraph.customMetadata is not None:
            versions.append((1, 5, 0))
    files(root.associatedFiles)
    return ".".join(str(number) for number in max(versions))


def _convert(saved_model: str, out: str, quantize: str, representative: str | None, raw_text: bool = False) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # The fast TF-Text tokenizer ops come as custom ops with TFLite kernels.
    converter.allow_custom_ops = raw_text
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int16x8":
        # int16 activations, int8 weights; ops without such a kernel stay float.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    if quantize in CALIBRATED:
        arrays = dict(np.load(representative))
        count = len(next(iter(arrays.values())))

        def examples():
            for i in range(count):
                yield {name: values[i : i + 1] for name, values in arrays.items()}

        converter.representative_dataset = examples
    Path(out).write_bytes(converter.convert())


class LiteRTModel:
    """Runs an exported `.tflite` file on raw text with `ai_edge_litert`.

    Args:
        path: the `.tflite` file; its `model.json` and `vocab.txt` (or
            `spiece.model`) must be beside it.
        num_threads: interpreter threads (None: LiteRT's default).

    Example:
        model = LiteRTModel("saved_models/sentiment-tflite/model.tflite")
        model.predict(["a gripping film"])["label"]   # ['positive']
    """

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from electra_keras.data.tokenizer import make_tokenizer

        path = Path(path)
        info_file = path.parent / "model.json"
        if not info_file.is_file():
            raise FileNotFoundError(f"{info_file}: missing; export_tflite writes it beside {path.name}")
        self.info = json.loads(info_file.read_text())
        self.labels = self.info.get("labels")
        if self.raw_text:
            from ai_edge_litert.interpreter import InterpreterWithCustomOps
            from tensorflow_text import tflite_registrar

            self.tokenizer = None
            self.interpreter = InterpreterWithCustomOps(
                model_path=str(path), num_threads=num_threads,
                custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS,
            )
        else:
            vocabulary = next((path.parent / name for name in ("vocab.txt", "spiece.model")
                               if (path.parent / name).is_file()), path.parent / "vocab.txt")
            self.tokenizer = make_tokenizer(
                str(vocabulary), lowercase=self.info["lowercase"],
                sequence_length=self.info["sequence_length"],
            )
            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner()

    @property
    def raw_text(self) -> bool:
        return bool(self.info.get("raw_text"))

    @property
    def pair(self) -> bool:
        return bool(self.info.get("pair"))

    def run(self, input_ids, input_mask, segment_ids) -> dict[str, np.ndarray]:
        """The model's outputs on packed token ids ([batch, sequence_length] int32)."""
        if self.raw_text:
            raise ValueError("run: this model takes raw text; use predict")
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
        elif self.raw_text:  # one string per call: the model's input is [1]
            rows = [self.runner(text=np.array([_utf8(text)], dtype=object)) for text in texts]
            outputs = {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}
        else:
            inputs = self.tokenizer(texts, None if texts_b is None else list(texts_b))
            outputs = self.run(inputs["token_ids"], inputs["padding_mask"], inputs["segment_ids"])
        scores = outputs.get("logits", outputs.get("probabilities"))  # a MediaPipe model has probabilities only
        if self.labels is not None and scores is not None and scores.ndim == 2:
            outputs["label"] = [self.labels[i] for i in np.argmax(scores, axis=-1)]
        return outputs


def _utf8(text) -> bytes:
    return text if isinstance(text, bytes) else str(text).encode("utf-8")


if __name__ == "__main__":  # the child of export_tflite(isolate=True)
    _convert(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None, sys.argv[5] == "1")
