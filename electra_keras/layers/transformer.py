"""The two sublayers of a post-LN transformer block, as separate layers.

keras_hub's TransformerEncoder bundles attention and feed-forward in one
layer, so it cannot share one without the other; ALBERT's attention-only and
FFN-only sharing variants need them apart. Each sublayer is written with
Keras' own MultiHeadAttention, Dense and LayerNormalization, which give the
reference math of BERT/ELECTRA/ALBERT exactly:
    x = LayerNorm(x + Dropout(Attention(x)))
    x = LayerNorm(x + Dropout(Dense(act(Dense(x)))))
"""

import keras

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.layers.normalization import LayerNorm
from electra_keras.layers.random import Dropout


class _MultiHeadAttention(keras.layers.MultiHeadAttention):
    """Keras' attention whose probability dropout draws from the training
    step's keys too (`layers.random.step_random`)."""

    def _build_attention(self, rank):
        super()._build_attention(rank)
        # The same layer object, now of our Dropout class (a subclass with only
        # `call` changed): a new layer would draw one more seed from Keras'
        # global RNG and so change the initial weights of every later layer.
        self._dropout_layer.__class__ = Dropout


@keras.saving.register_keras_serializable(package="electra_keras")
class AttentionSublayer(keras.layers.Layer):
    """Self-attention with residual connection and post-LayerNorm.

    Args:
        hidden_size: model width.
        num_heads: attention heads; must divide `hidden_size`.
        dropout_rate: dropout on the attention output.
        attention_dropout_rate: dropout on the attention probabilities.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initializer.

    Example:
    >>> layer = AttentionSublayer(hidden_size=8, num_heads=2)
    >>> x = keras.ops.ones((1, 3, 8))
    >>> tuple(layer(x, keras.ops.ones((1, 3, 3), "bool")).shape)
    (1, 3, 8)
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Layers ===
        self.attention = _MultiHeadAttention(
            num_heads=num_heads,
            key_dim=hidden_size // num_heads,
            dropout=attention_dropout_rate,
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="attention",
        )
        self.dropout = Dropout(dropout_rate, dtype=self.dtype_policy)
        self.norm = LayerNorm(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        # === Config ===
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        if self.built:
            return
        shape = (None, None, self.hidden_size)
        self.attention.build(shape, shape)
        self.norm.build(shape)
        self.built = True

    def call(self, x, attention_mask, training=False):
        attended = self.attention(
            x, x, attention_mask=attention_mask, training=training
        )
        return self.norm(x + self.dropout(attended, training=training))

    def compute_output_shape(self, input_shape, mask_shape=None):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "num_heads": self.num_heads,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="electra_keras")
class FeedForwardSublayer(keras.layers.Layer):
    """Position-wise feed-forward network with residual and post-LayerNorm.

    Args:
        hidden_size: model width.
        intermediate_size: inner width.
        hidden_act: "gelu" (exact), "gelu_new" (tanh approximation) or "relu".
        dropout_rate: dropout on the output.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initializer.

    Example:
    >>> layer = FeedForwardSublayer(hidden_size=8, intermediate_size=16)
    >>> tuple(layer(keras.ops.ones((1, 3, 8))).shape)
    (1, 3, 8)
    """

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        hidden_act: str = "gelu",
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Layers ===
        self.intermediate = keras.layers.Dense(
            intermediate_size,
            activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="intermediate",
        )
        self.output_dense = keras.layers.Dense(
            hidden_size,
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="output",
        )
        self.dropout = Dropout(dropout_rate, dtype=self.dtype_policy)
        self.norm = LayerNorm(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        # === Config ===
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        if self.built:
            return
        self.intermediate.build((None, None, self.hidden_size))
        self.output_dense.build((None, None, self.intermediate_size))
        self.norm.build((None, None, self.hidden_size))
        self.built = True

    def call(self, x, training=False):
        y = self.output_dense(self.intermediate(x))
        return self.norm(x + self.dropout(y, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "intermediate_size": self.intermediate_size,
                "hidden_act": self.hidden_act,
                "dropout_rate": self.dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config
