"""Output heads: ELECTRA's replaced-token discriminator, the masked-LM head tied
to the word embeddings, and ALBERT's sentence-order head."""

import keras
from keras import ops

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.layers.normalization import LayerNorm
from electra_keras.layers.random import Dropout


@keras.saving.register_keras_serializable(package="electra_keras")
class DiscriminatorHead(keras.layers.Layer):
    """Per-token "was this token replaced?" logit: Dense(hidden) -> act -> Dense(1).

    As the official ELECTRA code's `discriminator_predictions` and
    transformers' ElectraDiscriminatorPredictions.

    Args:
        hidden_size: model width.
        hidden_act: activation between the two dense layers.
        initializer_range: stddev of the truncated-normal initializer.

    Example:
    >>> head = DiscriminatorHead(hidden_size=8)
    >>> tuple(head(keras.ops.ones((2, 5, 8))).shape)
    (2, 5)
    """

    def __init__(
        self,
        hidden_size: int,
        hidden_act: str = "gelu",
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            hidden_size,
            activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.prediction = keras.layers.Dense(
            1,
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="prediction",
        )
        self.hidden_size = hidden_size
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        if self.built:
            return
        self.dense.build((None, None, self.hidden_size))
        self.prediction.build((None, None, self.hidden_size))
        self.built = True

    def call(self, sequence_output):
        return ops.squeeze(self.prediction(self.dense(sequence_output)), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "hidden_act": self.hidden_act,
                "initializer_range": self.initializer_range,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="electra_keras")
class MaskedLMHead(keras.layers.Layer):
    """Dense(embedding) -> act -> LayerNorm -> logits against the word table + bias.

    The generator head of ELECTRA and the MLM head of ALBERT/BERT: the output
    layer is the (tied) word-embedding table, with a bias of its own. Written
    here rather than using keras_hub's MaskedLMHead because that one adds its
    float32 bias to bfloat16 logits and fails under mixed precision on the
    TensorFlow backend; ours returns float32 logits, which the vocabulary
    softmax needs anyway.

    Args:
        word_embeddings: the `ReversibleEmbedding` whose table scores tokens.
        hidden_size: width of the encoder output.
        hidden_act: activation after the dense layer.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initializer.

    Call with `masked_positions` (batch, num_masked) to score only those
    positions (pretraining); without, every position is scored.

    Example:
    >>> from keras_hub.layers import ReversibleEmbedding
    >>> table = ReversibleEmbedding(100, 8)
    >>> table.build((None, None))
    >>> head = MaskedLMHead(table, hidden_size=16)
    >>> tuple(head(keras.ops.ones((2, 5, 16))).shape)
    (2, 5, 100)
    """

    def __init__(
        self,
        word_embeddings,
        hidden_size: int,
        hidden_act: str = "gelu",
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        # No autocast: the bias stays float32 when added to the float32 logits
        # (the dense and norm sublayers still compute in the layer's policy).
        super().__init__(autocast=False, **kwargs)
        # === Layers ===
        self.word_embeddings = word_embeddings
        self.dense = keras.layers.Dense(
            word_embeddings.output_dim,
            activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.norm = LayerNorm(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        # === Config ===
        self.hidden_size = hidden_size
        self.hidden_act = hidden_act
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        if self.built:
            return
        self.dense.build((None, None, self.hidden_size))
        self.norm.build((None, None, self.word_embeddings.output_dim))
        self.bias = self.add_weight(
            name="bias",
            shape=(self.word_embeddings.input_dim,),
            initializer="zeros",
            dtype="float32",
        )
        self.built = True

    def call(self, sequence_output, masked_positions=None):
        if masked_positions is not None:
            sequence_output = ops.take_along_axis(
                sequence_output, ops.expand_dims(masked_positions, -1), axis=1
            )
        x = self.norm(self.dense(sequence_output))
        logits = self.word_embeddings(x, reverse=True)
        return ops.cast(logits, "float32") + self.bias

    def compute_output_shape(self, input_shape, masked_positions_shape=None):
        length = input_shape[1] if masked_positions_shape is None else masked_positions_shape[1]
        return (input_shape[0], length, self.word_embeddings.input_dim)

    def get_config(self):
        # The word table is owned (and serialized) by the model that built
        # this head; the model's from_config passes it in again.
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "hidden_act": self.hidden_act,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="electra_keras")
class SentenceOrderHead(keras.layers.Layer):
    """ALBERT's sentence-order prediction: dropout + Dense(2) on the pooled output.

    Label 1 means the two segments were swapped, following transformers'
    `sentence_order_label` convention.

    Example:
    >>> head = SentenceOrderHead(hidden_size=8)
    >>> tuple(head(keras.ops.ones((2, 8))).shape)
    (2, 2)
    """

    def __init__(
        self,
        hidden_size: int,
        dropout_rate: float = 0.1,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dropout = Dropout(dropout_rate, dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            2,
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="classifier",
        )
        self.hidden_size = hidden_size
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        if self.built:
            return
        self.classifier.build((None, self.hidden_size))
        self.built = True

    def call(self, pooled_output, training=False):
        return self.classifier(self.dropout(pooled_output, training=training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "dropout_rate": self.dropout_rate,
                "initializer_range": self.initializer_range,
            }
        )
        return config
