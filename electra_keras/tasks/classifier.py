"""Sequence classification and regression, on one text or a pair of texts."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.tasks.base import TaskModel

CLASSIFIER_HEADS = ("electra", "transformers")


@keras.saving.register_keras_serializable(package="electra_keras")
class TextClassifier(TaskModel):
    """Classifies (or scores) a text or a text pair from its [CLS] vector.

    The head is ELECTRA's: dropout, then one linear layer on the final [CLS]
    hidden state, with no pooler. For BERT/ALBERT checkpoints that come with
    a pretrained pooler, `use_pooler=True` (the default when the encoder has
    one) reads tanh(Dense([CLS])) instead, as those models were fine-tuned.
    `head="transformers"` uses transformers' ELECTRA head instead: dropout,
    Dense(hidden) + GELU, dropout, Dense(classes), the head that
    `save_pretrained` can write as `ElectraForSequenceClassification`.

    Outputs are logits `[batch, num_classes]`, or `[batch]` scores for
    regression. Loss by default: sparse categorical cross-entropy on logits,
    or mean squared error.

    Args:
        backbone, vocabulary, lowercase, sequence_length, dropout_rate: see
            `TaskModel`.
        num_classes: number of classes (ignored for regression).
        label_names: names of the classes, index = class id; `predict_labels`
            returns them, and `fit` accepts them as labels.
        regression: predict one real number (e.g. STS-B similarity).
        pair: inputs are (text, text_b) pairs, packed as [CLS] A [SEP] B [SEP].
        use_pooler: read the encoder's pooler; None: when the encoder has one.
        head: "electra" (one linear layer, the official fine-tuning head) or
            "transformers" (transformers' two-layer ELECTRA head).

    Example:
        clf = TextClassifier.from_pretrained("runs/small", num_classes=2, label_names=["neg", "pos"])
        clf.compile(optimizer=finetune_adamw(clf, learning_rate=1e-4, total_steps=1000))
        clf.fit(["a gripping film", "a dull film"], [1, 0], epochs=3)
        clf.predict_labels(["two hours I will never get back"])
    """

    def __init__(
        self,
        backbone,
        vocabulary,
        num_classes: int | None = None,
        label_names: list[str] | None = None,
        regression: bool = False,
        pair: bool = False,
        use_pooler: bool | None = None,
        head: str = "electra",
        **kwargs,
    ):
        super().__init__(backbone, vocabulary, **kwargs)
        if head not in CLASSIFIER_HEADS:
            raise ValueError(f"head={head!r}: expected one of {CLASSIFIER_HEADS}")
        # === Config ===
        if label_names is not None:
            label_names = [str(name) for name in label_names]
            if len(set(label_names)) != len(label_names):
                raise ValueError(f"label_names: repeated names in {label_names}")
            if num_classes is not None and num_classes != len(label_names):
                raise ValueError(
                    f"num_classes={num_classes} but {len(label_names)} label_names were given"
                )
            num_classes = len(label_names)
        if regression:
            num_classes = 1
        elif num_classes is None or num_classes < 2:
            raise ValueError(f"num_classes={num_classes}: a classifier needs at least 2 classes")
        if use_pooler is None:
            use_pooler = self.backbone.pooler is not None
        elif use_pooler and self.backbone.pooler is None:
            raise ValueError("use_pooler=True, but this encoder has no pooler (ELECTRA has none)")
        self.num_classes = int(num_classes)
        self.label_names = label_names
        self.regression = bool(regression)
        self.pair = bool(pair)
        self.uses_pooler = bool(use_pooler)
        self.head_kind = head

        # === Layers ===
        self.head_dense = None
        if head == "transformers":
            self.head_dense = keras.layers.Dense(
                self.config.hidden_size,
                activation=get_activation("gelu"),
                kernel_initializer=truncated_normal(self.config.initializer_range),
                dtype=self.dtype_policy,
                name="classifier_dense",
            )
            self.head_dense.build((None, self.config.hidden_size))
        self.head = keras.layers.Dense(
            self.num_classes,
            kernel_initializer=truncated_normal(self.config.initializer_range),
            dtype=self.dtype_policy,
            name="classifier",
        )
        self.head.build((None, self.config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        encoded = self.encode(inputs, training=training)
        if self.uses_pooler:
            features = encoded["pooled_output"]
        else:
            features = encoded["sequence_output"][:, 0, :]
        features = self.dropout(features, training=training)
        if self.head_dense is not None:
            features = self.dropout(self.head_dense(features), training=training)
        logits = self.head(features)
        # Float32 outputs under mixed precision, for a stable loss.
        logits = keras.ops.cast(logits, "float32")
        return logits[:, 0] if self.regression else logits

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "label_names": self.label_names,
            "regression": self.regression,
            "pair": self.pair,
            "use_pooler": self.uses_pooler,
            "head": self.head_kind,
        }

    # -- data ---------------------------------------------------------------------

    def raw_inputs(self, x):
        """A list of texts, or for pairs a (texts, texts_b) tuple of two lists."""
        if self.pair:
            if not (isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[0], str)):
                raise ValueError(
                    "x: a pair classifier takes (texts, texts_b), two lists of equal length"
                )
            texts, texts_b = _texts(x[0], "x[0]"), _texts(x[1], "x[1]")
            if len(texts) != len(texts_b):
                raise ValueError(f"x: {len(texts)} first texts but {len(texts_b)} second texts")
            return (texts, texts_b)
        return _texts(x, "x")

    def raw_labels(self, y):
        if self.regression:
            try:
                return np.asarray(y, dtype="float32")
            except ValueError as error:
                raise ValueError(f"y: regression labels must be numbers ({error})") from None
        y = list(y) if not isinstance(y, np.ndarray) else y
        if self.label_names is not None and len(y) and isinstance(y[0], str):
            index = {name: i for i, name in enumerate(self.label_names)}
            unknown = sorted({label for label in y if label not in index})
            if unknown:
                raise ValueError(f"y: unknown labels {unknown[:5]}; known: {self.label_names}")
            return np.asarray([index[label] for label in y], dtype="int32")
        labels = np.asarray(y)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"y: class ids (integers) or label names expected, got {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"y: class ids must be in 0..{self.num_classes - 1}, got {labels.min()}..{labels.max()}"
            )
        return labels.astype("int32")

    def preprocess(self, inputs, labels=None):
        if self.pair:
            features = self.tokenizer(inputs[0], inputs[1])
        else:
            features = self.tokenizer(inputs)
        return features, labels

    def default_loss(self):
        if self.regression:
            return keras.losses.MeanSquaredError()
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        if self.regression:
            return [keras.metrics.MeanAbsoluteError(name="mae")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # -- predictions ----------------------------------------------------------------

    def predict_labels(self, x, batch_size=None):
        """Label names (or class ids without names, or scores for regression).

        Example:
            clf.predict_labels(["a gripping film"])  # ['pos']
        """
        outputs = self.predict(x, batch_size=batch_size, verbose=0)
        if self.regression:
            return [float(score) for score in outputs]
        ids = np.argmax(outputs, axis=-1)
        if self.label_names is None:
            return [int(i) for i in ids]
        return [self.label_names[i] for i in ids]

    def predict_probabilities(self, x, batch_size=None) -> np.ndarray:
        """Class probabilities `[batch, num_classes]` (softmax of the logits)."""
        if self.regression:
            raise ValueError("predict_probabilities: a regression model gives scores, use predict")
        logits = self.predict(x, batch_size=batch_size, verbose=0)
        return tf.nn.softmax(logits).numpy()


def _texts(values, name: str) -> np.ndarray:
    if isinstance(values, str):
        raise ValueError(f"{name}: a list of texts expected, got one string; wrap it in a list")
    texts = np.asarray(values, dtype=object)
    if texts.ndim != 1:
        raise ValueError(f"{name}: a flat list of texts expected, got shape {texts.shape}")
    for index, text in enumerate(texts):
        if not isinstance(text, (str, bytes)):
            raise ValueError(f"{name}[{index}]: a text expected, got {type(text).__name__}")
    return texts.astype(str) if len(texts) else np.asarray([], dtype=str)
