"""What every fine-tuning task model shares: an encoder, its tokenizer, raw text in.

A task model is a `keras.Model` whose `call` takes the packed token inputs
(`token_ids`, `segment_ids`, `padding_mask`), so it compiles, distributes and
exports like any Keras model. Its `preprocess` (tokenization in TensorFlow
ops) runs inside tf.data: `fit`, `evaluate` and `predict` accept raw inputs
(strings, word lists) or tf.data datasets of them and map `preprocess` over
them in parallel; already tokenized dicts and datasets pass through untouched.

`from_pretrained` starts from any pretrained model `load_pretrained` reads;
`from_preset` builds the same architecture with random weights (the baseline
that shows what pretraining buys).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from electra_keras.base import plain_python, set_untracked
from electra_keras.config import PRESETS, ModelConfig, published_weights
from electra_keras.data.pipeline import without_autotune_thread
from electra_keras.data.tokenizer import make_tokenizer
from electra_keras.encoder import Encoder
from electra_keras.tasks.pretrained import load_pretrained

_LOG = logging.getLogger("electra_keras")
# A preset folder, keras-hub's layout.
PRESET_CONFIG, PRESET_WEIGHTS, PRESET_ASSETS = "config.json", "model.weights.h5", "assets/tokenizer"

TOKEN_INPUTS = ("token_ids", "segment_ids", "padding_mask")
DEFAULT_BATCH_SIZE = 32


class TaskModel(keras.Model):
    """An encoder (`backbone`), a tokenizer and a task head.

    Subclasses build their head in `__init__` (after calling this one), and
    define `call`, `preprocess`, `raw_inputs`, `default_loss` and
    `default_metrics`.

    Args:
        backbone: the encoder's `ModelConfig` (or its dict, or a preset name).
        vocabulary: the tokenizer's vocabulary: a WordPiece vocab.txt path or
            token list, or a SentencePiece .model (see `make_tokenizer`).
        lowercase: the vocabulary's casing.
        sequence_length: tokens per packed input (default 128, or the
            encoder's positions when it has fewer).
        dropout_rate: dropout before the head; None uses the config's
            `classifier_dropout_rate` (or its `dropout_rate` when unset).
    """

    def __init__(
        self,
        backbone,
        vocabulary,
        lowercase: bool = True,
        sequence_length: int | None = None,
        dropout_rate: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Layers ===
        config = ModelConfig.coerce(backbone)
        if sequence_length is None:
            sequence_length = min(128, config.max_position_embeddings)
        self.tokenizer = make_tokenizer(vocabulary, lowercase=lowercase, sequence_length=sequence_length)
        if self.tokenizer.vocabulary_size != config.vocab_size:
            raise ValueError(
                f"vocabulary: {self.tokenizer.vocabulary_size} tokens, but the encoder's "
                f"vocab_size is {config.vocab_size}; pass the vocabulary it was trained with"
            )
        if sequence_length > config.max_position_embeddings:
            raise ValueError(
                f"sequence_length={sequence_length}: the encoder has only "
                f"{config.max_position_embeddings} positions"
            )
        self.backbone = Encoder(config, name="backbone", dtype=self.dtype_policy)
        if dropout_rate is None:
            dropout_rate = config.classifier_dropout_rate
            if dropout_rate is None:
                dropout_rate = config.dropout_rate
        self.dropout = keras.layers.Dropout(dropout_rate, name="head_dropout")

        # === Config ===
        self.config = config
        # What rebuilds the tokenizer: WordPiece tokens, or a SentencePiece model.
        set_untracked(self, "vocabulary", self.tokenizer.source)
        self.lowercase = bool(lowercase)
        self.sequence_length = int(sequence_length)
        self.dropout_rate = float(dropout_rate)

    # -- construction ------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, source, vocabulary=None, lowercase=None, **kwargs):
        """A task model whose encoder starts from a pretrained model.

        Args:
            source: a pretraining run folder, a `.keras` file, a transformers
                folder, a Hugging Face hub id or an official TF1 checkpoint
                (see `load_pretrained`).
            vocabulary, lowercase: override what is found with the model.
            **kwargs: the task model's own arguments (num_classes, ...).

        Example:
            clf = TextClassifier.from_pretrained("runs/small", num_classes=2)
        """
        pretrained = load_pretrained(source, vocabulary=vocabulary, lowercase=lowercase)
        model = cls(pretrained.config, pretrained.vocabulary, lowercase=pretrained.lowercase, **kwargs)
        model.backbone.set_weights(pretrained.encoder.get_weights())
        return model

    @classmethod
    def from_preset(cls, preset, vocabulary=None, lowercase: bool = True, config_overrides=None,
                    weights: bool = False, **kwargs):
        """The preset's architecture, with random weights sized to `vocabulary`,
        or with `weights=True` its published checkpoint (keras-hub's habit).

        Args:
            preset: a name of `electra_keras.PRESETS`, or a folder written
                by `save_to_preset` (its weights and tokenizer; the other
                arguments are ignored).
            vocabulary: the vocab.txt / spiece.model (random weights: required;
                published weights bring their own).
            lowercase: the tokenizer's casing (random weights).
            config_overrides: ModelConfig fields to change (random weights).
            weights: load the preset's published checkpoint (its hub id in
                presets.json, e.g. google/electra-small-discriminator) through
                `from_pretrained`; downloads into the Hugging Face cache.
            **kwargs: the task model's own arguments (num_classes, ...).

        Example:
            baseline = TextClassifier.from_preset("electra-small", "vocab.txt", num_classes=2)  # random weights
            clf = TextClassifier.from_preset("electra-small", weights=True, num_classes=2)  # published weights
        """
        if preset not in PRESETS and Path(str(preset)).is_dir() and (Path(preset) / PRESET_CONFIG).is_file():
            return cls._from_preset_folder(Path(preset))
        published = published_weights(preset)
        if weights:
            if published is None:
                raise ValueError(f"{preset}: no published weights (presets with them: "
                                 f"{', '.join(name for name in PRESETS if published_weights(name))}); "
                                 "use weights=False for random weights or from_pretrained(folder)")
            if config_overrides:
                raise ValueError("config_overrides: the published checkpoint fixes the architecture")
            return cls.from_pretrained(published, vocabulary=vocabulary, **kwargs)
        if vocabulary is None:
            raise ValueError(f"vocabulary: {preset} with random weights needs the vocab.txt or spiece.model "
                             "to size its embeddings" + (" (or weights=True)" if published else ""))
        log = _LOG.warning if published else _LOG.info
        log("%s: random weights%s", preset,
            f" (weights=True loads the published {published})" if published else " (no published checkpoint)")
        vocab_size = make_tokenizer(vocabulary).vocabulary_size
        config = ModelConfig.from_preset(preset, vocab_size=vocab_size, **(config_overrides or {}))
        return cls(config, vocabulary, lowercase=lowercase, **kwargs)

    def save_to_preset(self, folder) -> Path:
        """Writes a keras-hub-style preset folder that `from_preset(folder)` reloads.

        Layout: `config.json` (the Keras-serialized model, its vocabulary
        pointing at the asset), `model.weights.h5`, `assets/tokenizer/`
        (vocab.txt or spiece.model) and `metadata.json` (versions).

        Example:
            clf.save_to_preset("presets/sentiment")
            TextClassifier.from_preset("presets/sentiment").predict_labels(["a gripping film"])
        """
        import json

        import electra_keras

        folder = Path(folder)
        assets = folder / PRESET_ASSETS
        assets.mkdir(parents=True, exist_ok=True)
        vocabulary_file = self.tokenizer.write_vocabulary_file(assets)
        config = keras.saving.serialize_keras_object(self)
        config["config"]["vocabulary"] = vocabulary_file.relative_to(folder).as_posix()
        (folder / PRESET_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        self.save_weights(folder / PRESET_WEIGHTS)
        metadata = {"electra_keras_version": electra_keras.__version__, "keras_version": keras.__version__,
                    "class_name": type(self).__name__}
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        return folder

    @classmethod
    def _from_preset_folder(cls, folder: Path):
        import json

        import electra_keras  # noqa: F401  (registers our classes)

        config = json.loads((folder / PRESET_CONFIG).read_text())
        if "class_name" not in config or "config" not in config:
            raise ValueError(f"{folder}: its config.json is not a preset of ours (a transformers folder? "
                             "use from_pretrained for those)")
        config["config"]["vocabulary"] = str(folder / config["config"]["vocabulary"])
        model = keras.saving.deserialize_keras_object(config)
        if not isinstance(model, cls):
            raise ValueError(f"{folder}: a {type(model).__name__} preset, not a {cls.__name__}")
        model.load_weights(folder / PRESET_WEIGHTS)
        return model

    def save_pretrained(self, folder) -> Path:
        """Writes a transformers folder: `{Family}For{Task}` (config.json with
        the labels, model.safetensors) and the tokenizer files.

        TextClassifier -> ElectraForSequenceClassification (with
        `head="transformers"`), or Albert/BertForSequenceClassification (with
        the pooler); TokenClassifier -> ...ForTokenClassification;
        SpanQuestionAnswerer (`head="bert"`, SQuAD v1.1) -> ...ForQuestionAnswering.

        Raises:
            UnsupportedArchitectureError: the head has no transformers
                equivalent; the message says which settings export.

        Example:
            clf.save_pretrained("exported/sentiment")
            transformers.AutoModelForSequenceClassification.from_pretrained("exported/sentiment")
        """
        from electra_keras.convert.huggingface import to_huggingface, write_tokenizer_files

        folder = to_huggingface(self, folder)
        write_tokenizer_files(self.vocabulary, folder, lowercase=self.lowercase)
        return folder

    def get_config(self) -> dict[str, Any]:
        return {
            "backbone": self.config.to_dict(),
            "vocabulary": self.vocabulary,
            "lowercase": self.lowercase,
            "sequence_length": self.sequence_length,
            "dropout_rate": self.dropout_rate,
            "name": self.name,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # Variables exist from construction (see ConfiguredModel).
    def get_build_config(self):
        return None

    def build_from_config(self, config):
        pass

    # -- what subclasses define ----------------------------------------------------

    uses_pooler = False

    def preprocess(self, inputs, labels=None):
        """Raw inputs (tensors) -> (token inputs dict, labels); runs in tf.data."""
        raise NotImplementedError

    def raw_inputs(self, x):
        """Python/NumPy raw inputs -> what `tf.data.Dataset.from_tensor_slices` takes."""
        raise NotImplementedError

    def raw_labels(self, y):
        """Python/NumPy labels -> an array (e.g. label names to ids)."""
        return np.asarray(y)

    def default_loss(self):
        raise NotImplementedError

    def default_metrics(self):
        return []

    def encode(self, inputs, training=False):
        """The encoder's outputs (`sequence_output`, maybe `pooled_output`)."""
        return self.backbone(inputs, training=training)

    # -- compile / fit / evaluate / predict on raw inputs ----------------------------

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile`, with this task's loss and metrics by default.

        `optimizer="auto"` is `finetune_adamw(self)` at a constant 1e-4 with
        ELECTRA's layer-wise decay 0.8; pass `finetune_adamw(self, ...,
        total_steps=...)` for the paper's warmup and linear decay.
        """
        if optimizer == "auto":
            from electra_keras.training.optimizers import finetune_adamw

            optimizer = finetune_adamw(self, learning_rate=1e-4, total_steps=None)
        super().compile(
            optimizer=optimizer,
            loss=self.default_loss() if loss == "auto" else loss,
            metrics=self.default_metrics() if metrics == "auto" else metrics,
            **kwargs,
        )

    def compile_from_config(self, config):
        # Keras skips this for models that override `compile`; ours only fills
        # in defaults, so a saved compiled model comes back compiled.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def is_tokenized(self, x) -> bool:
        if isinstance(x, dict):
            return "token_ids" in x
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            features = spec[0] if isinstance(spec, tuple) else spec
            return isinstance(features, dict) and "token_ids" in features
        return False

    def as_dataset(self, x, y=None, batch_size=None, shuffle=False, seed=None) -> tf.data.Dataset:
        """Batches of (token inputs, labels) — or token inputs alone without labels.

        Args:
            x: raw inputs (see the task's `raw_inputs`), or a tf.data dataset of
                raw inputs (`x` or `(x, y)` elements, batched or not).
            y: labels for Python/NumPy `x`.
            batch_size: for Python/NumPy `x` (default 32).
            shuffle: shuffle Python/NumPy `x` every epoch.
            seed: for the shuffle.
        """
        if isinstance(x, tf.data.Dataset):
            if y is not None:
                raise ValueError("y: give labels inside the dataset, as (x, y) elements")
            dataset = x
        else:
            inputs = self.raw_inputs(x)
            if y is not None:
                labels = self.raw_labels(y)
                _check_same_length(inputs, labels)
                dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
            else:
                dataset = tf.data.Dataset.from_tensor_slices((inputs,))
            if shuffle:
                dataset = dataset.shuffle(_num_examples(inputs), seed=seed, reshuffle_each_iteration=True)
            dataset = dataset.batch(batch_size or DEFAULT_BATCH_SIZE)

        @plain_python
        def preprocess(*element):
            if len(element) == 1:
                features, _ = self.preprocess(element[0])
                return features
            features, labels = self.preprocess(element[0], element[1])
            return (features, labels, *element[2:])

        dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        return without_autotune_thread(dataset)

    def _prepared(self, x, y, batch_size, shuffle=False):
        """(x, y, batch_size, shuffle, steps) for Keras: raw inputs become a dataset.

        Raw Python/NumPy inputs become a repeated dataset read for `steps`
        batches per epoch: Keras would otherwise open a new iterator of the
        dataset before and after every epoch (and every `predict`), and each
        instantiates the tokenizer's graph again (0.1-0.5 s). `steps` is None
        for everything else.
        """
        if x is None or self.is_tokenized(x) or _is_keras_data(x):
            # Keras ignores `shuffle` for a dataset and warns when it is True (its default and ours).
            return x, y, batch_size, shuffle and not isinstance(x, tf.data.Dataset), None
        # Shuffled here, every epoch; Keras would ignore `shuffle` for a dataset.
        dataset = self.as_dataset(x, y, batch_size=batch_size, shuffle=shuffle)
        steps = int(dataset.cardinality())
        if isinstance(x, tf.data.Dataset) or steps <= 0:
            return dataset, None, None, False, None
        return dataset.repeat(), None, None, False, steps

    def _prepared_validation(self, validation_data):
        """(validation data for Keras, its steps or None), as `_prepared`."""
        if validation_data is None:
            return None, None
        if isinstance(validation_data, tf.data.Dataset):
            if self.is_tokenized(validation_data):
                return validation_data, None
            return self.as_dataset(validation_data), None
        x, y = validation_data[0], validation_data[1] if len(validation_data) > 1 else None
        if self.is_tokenized(x):
            return validation_data, None
        dataset, _, _, _, steps = self._prepared(x, y, None)
        return dataset, steps

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, shuffle=True, **kwargs):
        """Keras `fit`, also on raw inputs (see `as_dataset`)."""
        x, y, batch_size, shuffle, steps = self._prepared(x, y, batch_size, shuffle=shuffle)
        if steps is not None and kwargs.get("steps_per_epoch") is None:
            kwargs["steps_per_epoch"] = steps
        if self._distribute_strategy is None and self.built and self.optimizer is not None \
                and not self.optimizer.built:
            # Keras would create the optimizer's variables while tracing the
            # first train step, where each costs ~20 ms (several seconds for a
            # model): eagerly they take a fraction of that. (Under a strategy
            # Keras builds them before the trace itself.)
            self.optimizer.build(self.trainable_variables)
        validation_data, validation_steps = self._prepared_validation(validation_data)
        if validation_steps is not None and kwargs.get("validation_steps") is None:
            kwargs["validation_steps"] = validation_steps
        return super().fit(
            x, y, batch_size=batch_size, validation_data=validation_data, shuffle=shuffle, **kwargs,
        )

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Keras `evaluate`, also on raw inputs."""
        x, y, batch_size, _, steps = self._prepared(x, y, batch_size)
        if steps is not None and kwargs.get("steps") is None:
            kwargs["steps"] = steps
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """Keras `predict` (the raw outputs, e.g. logits), also on raw inputs."""
        x, _, batch_size, _, steps = self._prepared(x, None, batch_size)
        if steps is not None and kwargs.get("steps") is None:
            kwargs["steps"] = steps
        return super().predict(x, batch_size=batch_size, **kwargs)


def _is_keras_data(x) -> bool:
    """A Keras PyDataset or generator: passed through as is."""
    return isinstance(x, keras.utils.PyDataset) or hasattr(x, "__next__")


def _num_examples(inputs) -> int:
    first = inputs[0] if isinstance(inputs, tuple) else inputs
    if isinstance(first, tf.RaggedTensor):
        return int(first.nrows())
    return len(first)


def _check_same_length(inputs, labels) -> None:
    count = _num_examples(inputs)
    labelled = _num_examples(labels)
    if count != labelled:
        raise ValueError(f"x has {count} examples but y has {labelled} labels")
