"""The two sublayers of a post-LN transformer block, as separate layers.

keras_hub's TransformerEncoder bundles attention and feed-forward in one
layer, so it cannot share one without the other; ALBERT's attention-only and
FFN-only sharing variants need them apart. Each sublayer is written with
Keras' own MultiHeadAttention, Dense and LayerNormalization, which give the
reference math of BERT/ELECTRA/ALBERT exactly:
    x = LayerNorm(x + Dropout(Attention(x)))
    x = LayerNorm(x + Dropout(Dense(act(Dense(x)))))
"""

import contextlib
import threading

import keras

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.layers.normalization import LayerNorm
from electra_keras.layers.random import Dropout


# Margin below a row's lowest score given to its masked positions under
# `bounded_attention_masking`: exp(-20) ~ 2e-9 of any kept probability.
MASKED_SCORE_MARGIN = 20.0

# What `additive_attention_masking` adds to a masked score: Keras' own
# constant, within float16's range where scores are float16.
_MASK_BIAS = {"float16": -3e4}
_DEFAULT_MASK_BIAS = -1e9

_masking = threading.local()


@contextlib.contextmanager
def _tracing_option(name: str, value):
    """Sets one of the attention's tracing options (`_masking.<name>`) for a block."""
    previous = getattr(_masking, name, None)
    setattr(_masking, name, value)
    try:
        yield
    finally:
        setattr(_masking, name, previous)


def bounded_attention_masking():
    """Attention traced inside this block masks within the scores' own range.

    Keras' masked softmax sets masked scores to -1e9. That is exact in float,
    but a quantizer calibrating activation ranges then sees a range of 1e9:
    at int8 or int16 every real score rounds to the same value and attention
    goes uniform (a fine-tuned sentiment model fell from 84 to 56% accuracy
    with int16 activations). Inside this block masked scores are instead
    set to the row's lowest score minus MASKED_SCORE_MARGIN and their
    probabilities then multiplied by 0: the same probabilities within
    float32 rounding (a kept probability moves by at most L * 2e-9 of
    itself), with every activation in the range of the real scores. The
    calibrated TFLite exports trace the model in it.
    """
    return _tracing_option("mode", "bounded")


def additive_attention_masking():
    """Attention traced inside this block masks by adding a bias to the scores.

    Keras' masked softmax selects -1e9 for the masked scores and, after the
    softmax, 0 for their probabilities: two SELECT_V2 ops per layer in a
    TFLite graph. LiteRT's XNNPACK delegate does not take them, so each
    splits the delegated graph, and every split costs a hand-over to the
    reference kernel and back, with its threads going to sleep and waking in
    between. Inside this block the mask becomes one bias (0 or -1e9), added
    to the scores: an ADD, which XNNPACK runs in the same partition. On
    electra-small's dynamic-range int8 model that took a third off the
    batch-1 latency (benchmarks/RESULTS.md, "TFLite int8 at batch 1").

    The probabilities are those of Keras' masking, bit for bit, on every
    query that sees at least one real key (a masked score's exp underflows
    to 0 either way). A query with no real key at all, which this package's
    encoder never builds ([CLS] is always real), would average every value
    instead of returning 0, as BERT's own additive masking does. The
    SavedModel and the float and dynamic-range TFLite exports trace the
    model in it; calibrated ones need `bounded_attention_masking`, whose
    activations stay in range.
    """
    return _tracing_option("mode", "additive")


def plain_matmul_attention():
    """Self-attention traced inside this block runs as plain 2-D matmuls.

    Keras projects queries, keys and values with `EinsumDense` and contracts
    the heads with einsums: TensorFlow runs `Einsum` ops and six transposes
    per layer, and on a CPU the projections ran at half the feed-forward
    matmuls' speed (benchmarks/RESULTS.md, the serving profile). Inside this
    block each projection is one `MatMul` on the same weights, the scores
    take the keys already transposed and the heads move with four
    transposes: the same products in the same order
    (`_MultiHeadAttention.self_attention`). The SavedModel export traces in
    it: on electra-small its token-id graph went 28.5 -> 25.8 ms at batch 1
    and 82 -> 88 sequences/s at batch 32, with `additive_attention_masking`
    and bit for bit the same logits. Training keeps Keras' call, whose ops
    the tiny test models run faster, and so do the TFLite exports: LiteRT's
    converter already folds the einsums into FULLY_CONNECTED, and there the
    plain form was 2-3% slower.
    """
    return _tracing_option("plain", True)


def positionwise(x, *layers):
    """Applies `layers` (each acting on the last axis) to [batch, length, width] `x`
    as 2-D [batch * length, width] matmuls.

    Keras' TensorFlow matmul takes a rank-3 input through `tf.tensordot`,
    which computes its reshapes at run time when the batch size is unknown
    (Shape, Gather, Prod, Concat and Pack ops). A fixed-length export (TFLite,
    SavedModel) keeps those ops, and LiteRT's XNNPACK delegate, which does
    not take them, splits its graph at each. With a known length, one reshape
    on each side gives a plain 2-D matmul with constant shapes: the same
    products and sums, so the same values. Inputs of unknown length go
    through `tensordot` as before.
    """
    if len(x.shape) != 3 or x.shape[1] is None or x.shape[2] is None:
        for layer in layers:
            x = layer(x)
        return x
    length = x.shape[1]
    y = keras.ops.reshape(x, (-1, x.shape[2]))
    for layer in layers:
        y = layer(y)
    return keras.ops.reshape(y, (-1, length, y.shape[-1]))


class _MultiHeadAttention(keras.layers.MultiHeadAttention):
    """Keras' attention whose probability dropout draws from the training
    step's keys too (`layers.random.step_random`), and whose masking can stay
    within the scores' range (`bounded_attention_masking`) or be one added
    bias (`additive_attention_masking`)."""

    def _build_attention(self, rank):
        super()._build_attention(rank)
        # The same layer object, now of our Dropout class (a subclass with only
        # `call` changed): a new layer would draw one more seed from Keras'
        # global RNG and so change the initial weights of every later layer.
        self._dropout_layer.__class__ = Dropout

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        if attention_mask is None or getattr(_masking, "mode", None) is None:
            return super()._compute_attention(query, key, value, attention_mask, training,
                                              return_attention_scores, use_causal_mask)
        # Without attention dropout Keras takes ops.dot_product_attention, which
        # masks with 0.7 * float32's lowest value; asking for the scores takes
        # its explicit path through _masked_softmax (the unused scores are pruned).
        output, scores = super()._compute_attention(query, key, value, attention_mask, training,
                                                    True, use_causal_mask)
        return output, scores if return_attention_scores else None

    def self_attention(self, x, attention_mask, training=None):
        """`self(x, x, attention_mask=attention_mask)` with plain matmuls (see
        `plain_matmul_attention`); the probabilities go through the same
        masking and dropout. Gated, LoRA or quantized projections take Keras'
        own call."""
        dense = (self._query_dense, self._key_dense, self._value_dense, self._output_dense)
        if self._use_gate or any(layer.lora_enabled or layer.quantization_mode for layer in dense):
            return self(x, x, attention_mask=attention_mask, training=training)
        width = x.shape[-1]
        # A known length keeps every reshape constant (no shape ops for TFLite's delegate).
        length = x.shape[1] if x.shape[1] is not None else keras.ops.shape(x)[1]
        heads, size, value_size = self._num_heads, self._key_dim, self._value_dim
        rows = keras.ops.reshape(x, (-1, width))

        def project(layer, columns, order):
            kernel = keras.ops.reshape(layer.kernel, (width, heads * columns))
            projected = keras.ops.reshape(keras.ops.matmul(rows, kernel), (-1, length, heads, columns))
            if layer.bias is not None:
                projected = projected + layer.bias  # [heads, columns]
            return keras.ops.transpose(projected, order)

        query = project(self._query_dense, size, (0, 2, 1, 3))  # [batch, heads, query, size]
        query = keras.ops.multiply(query, keras.ops.cast(self._inverse_sqrt_key_dim, query.dtype))
        keys = project(self._key_dense, size, (0, 2, 3, 1))  # [batch, heads, size, key]
        values = project(self._value_dense, value_size, (0, 2, 1, 3))  # [batch, heads, key, value_size]
        probabilities = self._masked_softmax(keras.ops.matmul(query, keys), attention_mask)
        probabilities = self._dropout_layer(probabilities, training=training)
        context = keras.ops.transpose(keras.ops.matmul(probabilities, values), (0, 2, 1, 3))
        context = keras.ops.reshape(context, (-1, heads * value_size))
        output = self._output_dense
        attended = keras.ops.matmul(context, keras.ops.reshape(output.kernel, (heads * value_size, -1)))
        if output.bias is not None:
            attended = attended + output.bias
        return keras.ops.reshape(attended, (-1, length, attended.shape[-1]))

    def _masked_softmax(self, attention_scores, attention_mask=None):
        mode = getattr(_masking, "mode", None)
        if attention_mask is None or mode is None:
            return super()._masked_softmax(attention_scores, attention_mask)
        # scores [batch, heads, query, key]; mask [batch, query, key] (True: attend).
        mask = attention_mask
        while len(mask.shape) < len(attention_scores.shape):
            mask = keras.ops.expand_dims(mask, axis=-3)
        if mode == "additive":
            dtype = keras.backend.standardize_dtype(attention_scores.dtype)
            bias = (1.0 - keras.ops.cast(mask, dtype)) * _MASK_BIAS.get(dtype, _DEFAULT_MASK_BIAS)
            return keras.ops.softmax(attention_scores + bias, axis=-1)
        mask = keras.ops.cast(mask, "bool")
        low = keras.ops.min(attention_scores, axis=-1, keepdims=True) - MASKED_SCORE_MARGIN
        probabilities = keras.ops.softmax(keras.ops.where(mask, attention_scores, low), axis=-1)
        return probabilities * keras.ops.cast(mask, probabilities.dtype)


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
        if getattr(_masking, "plain", False):
            attended = self.attention.self_attention(x, attention_mask, training=training)
        else:
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
        y = positionwise(x, self.intermediate, self.output_dense)
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
