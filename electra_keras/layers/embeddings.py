"""Word + position + segment embeddings, the block ELECTRA's generator and
discriminator share (Clark et al. 2020, section 3.2)."""

import keras
from keras import ops
from keras_hub.layers import PositionEmbedding, ReversibleEmbedding
import tensorflow as tf

from electra_keras.layers.normalization import LayerNorm
from electra_keras.layers.random import Dropout


def truncated_normal(stddev: float) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=stddev)


def _lookup(table: keras.layers.Embedding, ids):
    """`table(ids)` for ids already checked to be in range.

    Keras' lookup also maps negative ids (x < 0 ? x + n : x): three more ops
    per table that TFLite's 16x8 quantizer cannot calibrate on int32 inputs.
    """
    return ops.cast(tf.gather(table.embeddings, ids), table.compute_dtype)


class _Untracked:
    """Holds a layer that Keras and tf.train.Checkpoint must not track here
    (its owner does)."""

    def __init__(self, layer):
        self.layer = layer


@keras.saving.register_keras_serializable(package="electra_keras")
class Embeddings(keras.layers.Layer):
    """LayerNorm(word + position + segment embeddings), then dropout.

    The word table is a `ReversibleEmbedding`, so masked-LM heads can compute
    their logits against it (`word_embeddings(x, reverse=True)`), tying the
    output layer to the input embeddings as BERT, ALBERT and ELECTRA do.

    Args:
        vocab_size: number of word-piece ids.
        embedding_size: width of every embedding.
        max_position_embeddings: longest sequence accepted.
        type_vocab_size: number of segment ids.
        dropout_rate: dropout after the LayerNorm.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initializer.
        word_embeddings_base: another block's `word_embeddings`; this block's
            word vectors are then stop_gradient(base) + its own delta table
            (zeros at first). Not serialized: the model that owns both
            blocks passes it again (`ElectraPretrainer(embedding_sharing="gdes")`).

    Example:
    >>> layer = Embeddings(100, 8, max_position_embeddings=16, type_vocab_size=2)
    >>> tuple(layer(ops.ones((2, 5), "int32"), ops.zeros((2, 5), "int32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        word_embeddings_base=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Layers ===
        # With a base table (DeBERTaV3's gradient-disentangled sharing), this
        # block's own word table is a zero-initialized delta: a token's vector
        # is stop_gradient(base) + delta, so this block's loss never moves the
        # base. The base's owner tracks and saves it; it is held untracked here.
        self._word_base = None if word_embeddings_base is None else _Untracked(word_embeddings_base)
        self.word_embeddings = ReversibleEmbedding(
            vocab_size,
            embedding_size,
            tie_weights=True,
            embeddings_initializer=(
                "zeros" if word_embeddings_base is not None else truncated_normal(initializer_range)
            ),
            dtype=self.dtype_policy,
            name="word_embeddings",
        )
        self.position_embeddings = PositionEmbedding(
            sequence_length=max_position_embeddings,
            initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="position_embeddings",
        )
        self.segment_embeddings = keras.layers.Embedding(
            type_vocab_size,
            embedding_size,
            embeddings_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="segment_embeddings",
        )
        self.norm = LayerNorm(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.dropout = Dropout(dropout_rate, dtype=self.dtype_policy)

        # === Config ===
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        if self.built:
            return
        self.word_embeddings.build((None, None))
        self.position_embeddings.build((None, None, self.embedding_size))
        self.segment_embeddings.build((None, None))
        self.norm.build((None, None, self.embedding_size))
        self.built = True

    def validate(self, token_ids, segment_ids):
        """Clear errors for ids the tables cannot look up.

        An out-of-range id is silently zero on GPUs, and a sequence longer
        than the position table would be silently mis-embedded, so both are
        checked here. Under XLA the asserts compile to no-ops.
        """
        length = token_ids.shape[1]
        if length is not None and length > self.max_position_embeddings:
            raise ValueError(
                f"token_ids has sequence length {length}, longer than "
                f"max_position_embeddings={self.max_position_embeddings}; "
                "truncate the input or use a config with more positions."
            )
        checks = [
            tf.debugging.assert_less_equal(
                tf.shape(token_ids)[1],
                self.max_position_embeddings,
                message=(
                    "token_ids is longer than max_position_embeddings="
                    f"{self.max_position_embeddings}"
                ),
            ),
            tf.debugging.assert_non_negative(
                token_ids, message="token_ids must be >= 0"
            ),
            tf.debugging.assert_less(
                token_ids,
                tf.cast(self.vocab_size, token_ids.dtype),
                message=f"token_ids must be < vocab_size={self.vocab_size}",
            ),
            tf.debugging.assert_non_negative(
                segment_ids, message="segment_ids must be >= 0"
            ),
            tf.debugging.assert_less(
                segment_ids,
                tf.cast(self.type_vocab_size, segment_ids.dtype),
                message=(
                    f"segment_ids must be < type_vocab_size={self.type_vocab_size}"
                ),
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(token_ids), tf.identity(segment_ids)

    def call(self, token_ids, segment_ids, training=False):
        token_ids, segment_ids = self.validate(token_ids, segment_ids)
        words = _lookup(self.word_embeddings, token_ids)
        if self._word_base is not None:
            words = words + ops.stop_gradient(_lookup(self._word_base.layer, token_ids))
        embeddings = words + _lookup(self.segment_embeddings, segment_ids)
        embeddings = embeddings + self.position_embeddings(words)
        embeddings = self.norm(embeddings)
        return self.dropout(embeddings, training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_size": self.embedding_size,
                "max_position_embeddings": self.max_position_embeddings,
                "type_vocab_size": self.type_vocab_size,
                "dropout_rate": self.dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config
