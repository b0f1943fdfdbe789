"""Output heads: ELECTRA's replaced-token discriminator, masked-LM heads tied
to the word embeddings, and ALBERT's sentence-order head."""

import keras
from keras import ops
from keras_hub.layers import MaskedLMHead

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import truncated_normal


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


def masked_lm_head(
    word_embeddings,
    hidden_size: int,
    hidden_act: str,
    layer_norm_epsilon: float,
    initializer_range: float,
    name: str = "mlm_head",
    dtype=None,
) -> MaskedLMHead:
    """Dense(embedding) -> act -> LayerNorm -> logits against the word table + bias.

    keras_hub's MaskedLMHead is exactly the generator head of ELECTRA and the
    MLM head of ALBERT/BERT when its output is tied to the word embeddings;
    it gathers the positions it is given, so pretraining computes logits only
    where tokens were masked. The layer is built here because the models
    that own it build eagerly (so weights exist before a checkpoint loads).
    """
    head = MaskedLMHead(
        token_embedding=word_embeddings,
        intermediate_activation=get_activation(hidden_act),
        layer_norm_epsilon=layer_norm_epsilon,
        kernel_initializer=truncated_normal(initializer_range),
        dtype=dtype,
        name=name,
    )
    head.build((None, None, hidden_size))
    return head


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
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
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
