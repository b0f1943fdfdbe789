"""SavedModels that TF Serving loads: raw text in, named answers out.

`export_saved_model(model, "saved_models/sentiment")` writes the next numeric
version folder (`saved_models/sentiment/1/`, then `2/`, ...), TF Serving's
layout, with two signatures:

* `serving_default` takes raw strings, `text` (and `text_b` for pair tasks),
  shape [batch]; tokenization, truncation and packing run inside the graph.
  A batch is padded to its longest sequence rounded up to a multiple of
  `length_bucket` (16 tokens by default), not to the full sequence length:
  a short sentence costs a short forward pass.
* `token_ids` takes int32 `input_ids`, `input_mask` and `segment_ids`, shape
  [batch, length] with both dimensions dynamic (length up to the encoder's
  positions), for clients that tokenize themselves.

Outputs by model:

| model | outputs |
|---|---|
| TextClassifier | `logits`, `probabilities`, `label_id`, `label` (regression: `score`) |
| TokenClassifier | `tags`, `tag_ids`, `words`, `num_words` (token_ids: `logits`, `tag_ids` per piece) |
| SpanQuestionAnswerer | inputs `question`, `context`; `answer`, `start`, `end`, `score`, `num_windows`, v2.0: `answerable_probability` (token_ids: `start_logits`, `end_logits`, ...) |
| Encoder, ElectraDiscriminator | `sequence_output`, `padding_mask` (+ `pooled_output`; `replaced_logits`) |

The vocabulary (`assets/vocab.txt`) and the label names (`assets/labels.txt`)
travel as SavedModel assets and are read by lookup tables at load time.

The graph uses only core TensorFlow ops and the long-standing TF-Text ops
(`NormalizeUTF8`, `WordpieceTokenizeWithOffsets`) that TF Serving's model
server registers; `serving_ops.txt` beside this file is the allow-list the
tests hold every export to. Loading needs `import tensorflow_text` (for those
two ops) and nothing from this package.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from electra_keras.data.tokenizer import Tokenizer, WordPieceTokenizer, make_tokenizer
from electra_keras.layers.transformer import additive_attention_masking, plain_matmul_attention

RAW_SIGNATURE = "serving_default"
TOKEN_IDS_SIGNATURE = "token_ids"
ALLOWED_OPS_FILE = Path(__file__).with_name("serving_ops.txt")


def next_version_dir(base: str | os.PathLike) -> Path:
    """`base/N` for the next free version N (1 when `base` holds no versions)."""
    base = Path(base)
    if base.exists() and not base.is_dir():
        raise NotADirectoryError(f"{base}: exists and is not a folder")
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name)] if base.exists() else []
    return base / str(max(versions, default=0) + 1)


def export_saved_model(
    model,
    base_dir: str | os.PathLike,
    *,
    vocabulary=None,
    lowercase: bool | None = None,
    sequence_length: int | None = None,
    pair: bool = False,
    version: int | None = None,
    length_bucket: int | None = 16,
) -> Path:
    """Writes `model` as a servable SavedModel under `base_dir/<version>/`.

    Args:
        model: a `TextClassifier`, `TokenClassifier` or
            `SpanQuestionAnswerer` (they carry their tokenizer), or a bare
            `Encoder` / `ElectraDiscriminator`, which need `vocabulary`.
        base_dir: the model's folder in the server's model base path.
        vocabulary, lowercase, sequence_length: the tokenizer of a bare
            encoder (a task model's own by default).
        pair: a bare encoder's raw signature takes `text` and `text_b`.
        version: the version folder; default the next free number. An
            existing version is never overwritten.
        length_bucket: raw-text requests are padded to their longest
            sequence rounded up to a multiple of this (at most the sequence
            length); None pads every request to the full sequence length.
            Outputs per word or per class do not depend on it; a bare
            encoder's `sequence_output` and `padding_mask` are as long as the
            padded batch. Question answering always packs full windows.

    Returns:
        The version folder written.

    Example:
        path = export_saved_model(clf, "saved_models/sentiment")   # .../1
        served = tf.saved_model.load(str(path))
        served.signatures["serving_default"](text=tf.constant(["a gripping film"]))["label"]
    """
    target = Path(base_dir) / str(version) if version is not None else next_version_dir(base_dir)
    if target.exists():
        raise FileExistsError(f"{target}: this version exists; pick another or leave `version` out")
    if length_bucket is not None and (isinstance(length_bucket, bool) or not isinstance(length_bucket, int)
                                      or length_bucket < 1):
        raise ValueError(f"length_bucket: expected a positive int or None; got {length_bucket!r}")
    with tempfile.TemporaryDirectory() as assets:
        servable = servable_for(model, vocabulary, lowercase, sequence_length, pair, assets=assets)
        servable.length_bucket = length_bucket
        # The same attention as Keras', as fewer and cheaper ops (layers/transformer.py).
        with plain_matmul_attention(), additive_attention_masking():
            servable.write(target)
    unknown = unservable_ops(target)
    if unknown:
        # Exported all the same: a newer server may have them; say so clearly.
        warnings.warn(
            f"{target}: uses ops outside the TF Serving allow-list ({ALLOWED_OPS_FILE.name}): "
            f"{sorted(unknown)}; check that your model server registers them",
            stacklevel=2,
        )
    return target


def servable_for(model, vocabulary=None, lowercase=None, sequence_length=None, pair=False, assets=None):
    """The `_Servable` of any exportable model.

    With `assets` (a folder), the vocabulary and label names are written
    there and read through text-file tables (the SavedModel way); without,
    the servable only computes the numeric outputs (the TFLite way).
    """
    from electra_keras.tasks.classifier import TextClassifier
    from electra_keras.tasks.pretrained import encoder_of
    from electra_keras.tasks.question_answering import SpanQuestionAnswerer
    from electra_keras.tasks.token_classifier import TokenClassifier

    kinds = {TextClassifier: _ClassifierServable, TokenClassifier: _TaggerServable,
             SpanQuestionAnswerer: _QuestionAnswererServable}
    for task, kind in kinds.items():
        if isinstance(model, task):
            tokenizer = _tokenizer(model.vocabulary if vocabulary is None else vocabulary,
                                   model.lowercase, model.sequence_length, assets)
            return kind(model, tokenizer, assets)
    encoder = encoder_of(model)
    if vocabulary is None:
        raise ValueError(
            f"vocabulary: a bare {type(model).__name__} has no tokenizer; pass the "
            "vocab.txt it was trained with"
        )
    tokenizer = _tokenizer(
        vocabulary,
        True if lowercase is None else lowercase,
        sequence_length or min(128, encoder.config.max_position_embeddings),
        assets,
    )
    return _EncoderServable(model, encoder, tokenizer, pair)


def _tokenizer(vocabulary, lowercase, sequence_length, folder=None):
    tokenizer = make_tokenizer(vocabulary, lowercase=lowercase, sequence_length=sequence_length)
    if folder is None:
        return tokenizer
    # vocab.txt is read by a text-file table at load time; a SentencePiece
    # model stays inside its op (spiece.model is a copy for clients).
    path = tokenizer.write_vocabulary_file(folder)
    if isinstance(tokenizer, WordPieceTokenizer):
        tokenizer.read_vocabulary_from(path)
    return tokenizer


def write_lines(path: Path, lines: list[str]) -> Path:
    """One entry per line, UTF-8, "\n"-terminated: how vocab.txt and labels.txt are written."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _labels_table(names: list[str], folder) -> tf.lookup.StaticHashTable:
    bad = [name for name in names if "\n" in name or "\r" in name]
    if bad:
        raise ValueError(f"label names {bad}: a label name cannot hold a line break")
    path = write_lines(Path(folder) / "labels.txt", names)
    return tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            str(path),
            key_dtype=tf.int64,
            key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            value_dtype=tf.string,
            value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        ),
        default_value="",
    )


_TEXT = tf.TensorSpec([None], tf.string, name="text")
_TEXT_B = tf.TensorSpec([None], tf.string, name="text_b")
_IDS = [
    tf.TensorSpec([None, None], tf.int32, name="input_ids"),
    tf.TensorSpec([None, None], tf.int32, name="input_mask"),
    tf.TensorSpec([None, None], tf.int32, name="segment_ids"),
]


def bucketed(inputs: dict[str, tf.Tensor], bucket: int | None) -> dict[str, tf.Tensor]:
    """Packed inputs cut to the batch's longest sequence, rounded up to a multiple of `bucket`.

    Positions past every sequence's end are padding in every row, and padding
    changes nothing that a real token sees, so the outputs at real positions
    are those of the full length. Rounding to buckets keeps the number of
    distinct shapes small (oneDNN caches its kernels per shape).

    >>> packed = {"token_ids": tf.constant([[2, 5, 3, 0, 0, 0]]), "padding_mask": tf.constant([[1, 1, 1, 0, 0, 0]])}
    >>> bucketed(packed, 2)["token_ids"].numpy().tolist()
    [[2, 5, 3, 0]]
    """
    if bucket is None:
        return inputs
    full = tf.shape(inputs["padding_mask"])[1]
    lengths = tf.reduce_sum(tf.cast(inputs["padding_mask"], tf.int32), axis=1)
    longest = tf.reduce_max(tf.concat([lengths, [1]], axis=0))  # an empty batch keeps one position
    width = tf.minimum(full, (longest + bucket - 1) // bucket * bucket)
    return {name: value[:, :width] for name, value in inputs.items()}


def _as_text(value) -> str:
    """A text, or a tagger's word list joined at spaces (the same pieces)."""
    return " ".join(value) if isinstance(value, (list, tuple)) else value


def _token_inputs(input_ids, input_mask, segment_ids) -> dict[str, tf.Tensor]:
    return {"token_ids": input_ids, "segment_ids": segment_ids, "padding_mask": input_mask}


class _Servable:
    """One exported model: its tokenizer, its outputs and its signatures.

    `numeric_outputs` are the float/int tensors a TFLite model can compute;
    `outputs` adds what needs the SavedModel's lookup tables (label names).
    """

    def __init__(self, model, tokenizer: Tokenizer, pair: bool):
        self.model = model
        self.tokenizer = tokenizer
        self.pair = pair
        self.tables = list(tokenizer.resources)
        self.label_names: list[str] | None = None
        self.length_bucket: int | None = None  # set by export_saved_model; TFLite keeps fixed shapes

    def numeric_outputs(self, inputs) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def outputs(self, inputs) -> dict[str, tf.Tensor]:
        return self.numeric_outputs(inputs)

    def raw_outputs(self, text, text_b=None) -> dict[str, tf.Tensor]:
        return self.outputs(bucketed(self.tokenizer(text, text_b), self.length_bucket))

    def raw_endpoint(self):
        """(function, input signature) of `serving_default`."""
        if self.pair:
            return (lambda text, text_b: self.raw_outputs(text, text_b)), [_TEXT, _TEXT_B]
        return (lambda text: self.raw_outputs(text)), [_TEXT]

    def token_id_outputs(self, input_ids, input_mask, segment_ids) -> dict[str, tf.Tensor]:
        return self.outputs(_token_inputs(input_ids, input_mask, segment_ids))

    def write(self, path: Path) -> None:
        """The SavedModel with both signatures."""
        # The endpoints' variables are tracked from the functions; tracking the
        # model too would also save its tokenizer's constant-vocabulary table.
        archive = keras.export.ExportArchive()
        for table in self.tables:
            archive.track(table)
        archive.add_endpoint(RAW_SIGNATURE, *self.raw_endpoint())
        archive.add_endpoint(TOKEN_IDS_SIGNATURE, self.token_id_outputs, input_signature=_IDS)
        path.parent.mkdir(parents=True, exist_ok=True)
        archive.write_out(str(path), verbose=False)
        if not isinstance(self.tokenizer, WordPieceTokenizer):
            # A SentencePiece model lives inside its op; a copy in assets/ lets
            # clients tokenize for the token_ids signature.
            (path / "assets").mkdir(exist_ok=True)
            self.tokenizer.write_vocabulary_file(path / "assets")

    # -- the TFLite side -----------------------------------------------------------

    def write_fixed_length(self, path: Path, batch: int | None = None, outputs=None) -> None:
        """A SavedModel of `numeric_outputs` on [batch, sequence_length] token ids.

        TFLite's converter reads variables from a SavedModel (its concrete-
        function path leaves Keras variables as uninitialized resources), and
        a fixed length lets every op become a builtin. `batch` fixes the batch
        size too (None: resizable); `outputs` keeps only those output names.
        """
        length = self.tokenizer.sequence_length
        signature = [tf.TensorSpec([batch, length], tf.int32, name=spec.name) for spec in _IDS]

        def numeric(input_ids, input_mask, segment_ids):
            values = self.numeric_outputs(_token_inputs(input_ids, input_mask, segment_ids))
            return values if outputs is None else {name: values[name] for name in outputs}

        archive = keras.export.ExportArchive()
        archive.add_endpoint(RAW_SIGNATURE, numeric, input_signature=signature)
        archive.write_out(str(path), verbose=False)

    def tokenized(self, texts, count: int) -> dict[str, np.ndarray]:
        """A seeded sample of `count` raw inputs, packed as the TFLite inputs."""
        first = [_as_text(t) for t in (texts[0] if self.pair else texts)]
        if not first:
            raise ValueError("representative_texts: empty")
        chosen = np.random.default_rng(0).permutation(len(first))[:count]
        if self.pair:
            second = [_as_text(t) for t in texts[1]]
            inputs = self.tokenizer([first[i] for i in chosen], [second[i] for i in chosen])
        else:
            inputs = self.tokenizer([first[i] for i in chosen])
        return {name: inputs[key].numpy() for name, key in zip(
            ("input_ids", "input_mask", "segment_ids"), ("token_ids", "padding_mask", "segment_ids"))}

    def write_side_files(self, folder: Path, extra: dict) -> None:
        """vocab.txt (or spiece.model), labels.txt and model.json: what a client needs to feed the model."""
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.write_vocabulary_file(folder)
        if self.label_names is not None:
            write_lines(folder / "labels.txt", self.label_names)
        length = self.tokenizer.sequence_length
        probe = {"token_ids": tf.zeros([1, length], tf.int32), "segment_ids": tf.zeros([1, length], tf.int32),
                 "padding_mask": tf.ones([1, length], tf.int32)}
        shapes = {name: list(value.shape[1:]) for name, value in self.numeric_outputs(probe).items()}
        info = {
            "lowercase": self.tokenizer.lowercase,
            "sequence_length": length,
            "pair": self.pair,
            "labels": self.label_names,
            "inputs": ["input_ids", "input_mask", "segment_ids"],
            "outputs": shapes,
            **extra,
        }
        (folder / "model.json").write_text(json.dumps(info, indent=2) + "\n")


class _ClassifierServable(_Servable):
    def __init__(self, model, tokenizer, assets):
        super().__init__(model, tokenizer, model.pair)
        if not model.regression:
            self.label_names = model.label_names or [str(i) for i in range(model.num_classes)]
            if assets is not None:
                self.labels = _labels_table(self.label_names, assets)
                self.tables.append(self.labels)

    def numeric_outputs(self, inputs):
        logits = self.model(inputs, training=False)
        if self.model.regression:
            return {"score": logits}
        return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    def outputs(self, inputs):
        outputs = self.numeric_outputs(inputs)
        if not self.model.regression:
            label_id = tf.argmax(outputs["logits"], axis=-1, output_type=tf.int32)
            outputs["label_id"] = label_id
            outputs["label"] = self.labels.lookup(tf.cast(label_id, tf.int64))
        return outputs


class _TaggerServable(_Servable):
    """Raw text is split into words as `TokenClassifier.predict_tags` splits it
    (`split_words`: whitespace, and each punctuation mark or CJK ideograph a
    word of its own); every word gets a tag.

    Words beyond the sequence length (or that tokenize to nothing) get "O",
    as `TokenClassifier.predict_tags` gives them.
    """

    def __init__(self, model, tokenizer, assets):
        super().__init__(model, tokenizer, pair=False)
        self.label_names = list(model.tag_names)
        if assets is not None:
            self.tags = _labels_table(model.tag_names, assets)
            self.tables.append(self.tags)
        self.outside = model.tag_names.index("O") if "O" in model.tag_names else 0

    def numeric_outputs(self, inputs):
        return {"logits": self.model(inputs, training=False)}

    def outputs(self, inputs):
        logits = self.numeric_outputs(inputs)["logits"]
        return {"logits": logits, "tag_ids": tf.argmax(logits, axis=-1, output_type=tf.int32)}

    def raw_outputs(self, text, text_b=None):
        # Invalid UTF-8 becomes U+FFFD first, so the `words` output is valid text.
        text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        from electra_keras.export.question_answering import basic_tokens

        words = basic_tokens(text)[0]
        features, word_index, first_piece = self.model.word_pieces(words, tokenizer=self.tokenizer)
        # Cut to the batch's pieces: every first piece lies inside the bucket.
        piece_tags = self.outputs(bucketed(features, self.length_bucket))["tag_ids"]
        num_words = tf.cast(words.row_lengths(), tf.int32)
        width = tf.reduce_max(tf.concat([num_words, [0]], axis=0))
        batch = tf.shape(num_words)[0]
        # Scatter each first piece's tag onto its word; the rest stay "O".
        where = tf.where(first_piece > 0)
        rows = tf.cast(where[:, 0], tf.int32)
        word = tf.gather_nd(word_index, where)
        tag_ids = tf.tensor_scatter_nd_update(
            tf.fill([batch, width], tf.constant(self.outside, tf.int32)),
            tf.stack([rows, word], axis=1),
            tf.gather_nd(piece_tags, where),
        )
        real = tf.sequence_mask(num_words, width)
        tag_ids = tf.where(real, tag_ids, -1)
        tags = tf.where(real, self.tags.lookup(tf.cast(tf.maximum(tag_ids, 0), tf.int64)), "")
        return {
            "tags": tags,
            "tag_ids": tag_ids,
            "words": words.to_tensor(default_value="", shape=[None, None]),
            "num_words": num_words,
        }


class _QuestionAnswererServable(_Servable):
    """`question` and `context` in; `answer`, `start`, `end` (character offsets
    in the context, -1 for no answer), `score`, `num_windows` and, for SQuAD
    v2.0 models, `answerable_probability` out. See export/question_answering.py."""

    def __init__(self, model, tokenizer, assets):
        super().__init__(model, tokenizer, pair=True)

    def numeric_outputs(self, inputs):
        return dict(self.model(inputs, training=False))

    def raw_endpoint(self):
        from electra_keras.export.question_answering import answer_spans

        question = tf.TensorSpec([None], tf.string, name="question")
        context = tf.TensorSpec([None], tf.string, name="context")

        def answer(question, context):
            checked = self.tokenizer._check_same_batch(question, context)
            return answer_spans(self.model, self.tokenizer, question, checked)

        return answer, [question, context]


class _EncoderServable(_Servable):
    def __init__(self, model, encoder, tokenizer, pair):
        super().__init__(model, tokenizer, pair)
        self.encoder = encoder

    def numeric_outputs(self, inputs):
        encoded = self.encoder(inputs, training=False)
        outputs = {"sequence_output": tf.cast(encoded["sequence_output"], tf.float32)}
        if "pooled_output" in encoded:
            outputs["pooled_output"] = tf.cast(encoded["pooled_output"], tf.float32)
        if self.model is not self.encoder and hasattr(self.model, "head"):
            # ElectraDiscriminator: one replaced-token logit per position.
            outputs["replaced_logits"] = tf.cast(self.model.head(encoded["sequence_output"]), tf.float32)
        return outputs

    def outputs(self, inputs):
        return {**self.numeric_outputs(inputs), "padding_mask": inputs["padding_mask"]}


def allowed_ops() -> dict[str, set[str]]:
    """The sections of `serving_ops.txt`: "core", "tensorflow_text", "denied"."""
    sections: dict[str, set[str]] = {}
    current = None
    for number, line in enumerate(ALLOWED_OPS_FILE.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), set())
        elif current is None:
            raise ValueError(f"{ALLOWED_OPS_FILE}:{number}: an op before any [section]")
        else:
            current.add(line)
    return sections


def graph_ops(saved_model_dir: str | os.PathLike) -> set[str]:
    """Every op type in a SavedModel: its graph and all functions of its library."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    ops = set()
    for meta_graph in saved.meta_graphs:
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in meta_graph.graph_def.library.function:
            ops |= {node.op for node in function.node_def}
    return ops


def unservable_ops(saved_model_dir: str | os.PathLike) -> set[str]:
    """The ops of a SavedModel that the allow-list does not vouch for."""
    sections = allowed_ops()
    return graph_ops(saved_model_dir) - sections["core"] - sections["tensorflow_text"]
