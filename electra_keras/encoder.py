"""The transformer encoder: embeddings -> (projection) -> post-LN blocks.

One class serves ELECTRA, ALBERT and BERT layouts. Which attention and
feed-forward sublayer each layer uses comes from
`ModelConfig.layer_schedule()`, so every cross-layer sharing mode (none, all,
attention-only, FFN-only, ALBERT's groups) is the same loop over a schedule.
"""

from __future__ import annotations

import keras
from keras import ops

from electra_keras.base import ConfiguredModel
from electra_keras.config import ModelConfig
from electra_keras.layers import AttentionSublayer, Embeddings, FeedForwardSublayer
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.layers.transformer import positionwise

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


def embeddings_for(
    config: ModelConfig, name: str = "embeddings", dtype=None, word_embeddings_base=None
) -> Embeddings:
    """The embedding block a config describes (built, so it can be shared)."""
    embeddings = Embeddings(
        word_embeddings_base=word_embeddings_base,
        vocab_size=config.vocab_size,
        embedding_size=config.embedding_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        dropout_rate=config.dropout_rate,
        layer_norm_epsilon=config.layer_norm_epsilon,
        initializer_range=config.initializer_range,
        name=name,
        dtype=dtype,
    )
    embeddings.build()
    return embeddings


def _is_integer(dtype) -> bool:
    return "int" in keras.backend.standardize_dtype(dtype)


def unpack_inputs(inputs):
    """(token_ids, segment_ids, padding_mask) from a dict or a token-id tensor.

    Missing segment ids default to 0 and a missing padding mask to all-real,
    as in transformers. Wrong dtypes and ranks fail here with the input named,
    instead of deep inside an embedding lookup.
    """
    if isinstance(inputs, dict):
        unknown = sorted(set(inputs) - set(INPUT_NAMES))
        if unknown or "token_ids" not in inputs:
            raise ValueError(
                f"Encoder inputs: expected a dict with keys {INPUT_NAMES} "
                f"(token_ids required), got keys {sorted(inputs)}"
            )
        token_ids = inputs["token_ids"]
        segment_ids = inputs.get("segment_ids")
        padding_mask = inputs.get("padding_mask")
    else:
        token_ids, segment_ids, padding_mask = inputs, None, None

    token_ids = ops.convert_to_tensor(token_ids)
    _check_ids("token_ids", token_ids)
    if segment_ids is None:
        segment_ids = ops.zeros_like(token_ids)
    else:
        segment_ids = ops.convert_to_tensor(segment_ids)
        _check_ids("segment_ids", segment_ids)
    if padding_mask is None:
        padding_mask = ops.ones_like(token_ids, dtype="bool")
    else:
        padding_mask = ops.convert_to_tensor(padding_mask)
        _check_rank("padding_mask", padding_mask)
        padding_mask = ops.cast(padding_mask, "bool")
    return token_ids, segment_ids, padding_mask


def _check_rank(name, tensor):
    if len(tensor.shape) != 2:
        raise ValueError(
            f"{name}: expected shape (batch, sequence_length), got shape {tuple(tensor.shape)}"
        )


def _check_ids(name, tensor):
    if not _is_integer(tensor.dtype):
        raise TypeError(
            f"{name}: expected an integer tensor (int32 or int64), got dtype "
            f"{keras.backend.standardize_dtype(tensor.dtype)}"
        )
    _check_rank(name, tensor)


@keras.saving.register_keras_serializable(package="electra_keras")
class Encoder(ConfiguredModel):
    """A post-LN transformer encoder with optional cross-layer sharing.

    Inputs: a dict with `token_ids` (int, (batch, length)), and optionally
    `segment_ids` and `padding_mask` (1 for real tokens), or a bare token-id
    tensor. Batch size and length are dynamic.

    Outputs: a dict with `sequence_output` (batch, length, hidden) and, when
    the config has a pooler, `pooled_output` (batch, hidden): tanh(Dense([CLS])).

    Args:
        config: a `ModelConfig`, its dict, or a preset name.
        embeddings: an existing `Embeddings` block to use instead of creating
            one: this is how ELECTRA's generator and discriminator share theirs.
            The owner of the shared block is responsible for rebuilding the
            sharing when it is deserialized; an Encoder deserialized on its own
            gets its own embeddings.

    Example:
    >>> encoder = Encoder(ModelConfig.from_preset("tiny"))
    >>> out = encoder({"token_ids": ops.ones((2, 7), "int32")})
    >>> tuple(out["sequence_output"].shape)
    (2, 7, 32)
    """

    def __init__(self, config, embeddings: Embeddings | None = None, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        init = truncated_normal(config.initializer_range)

        # === Layers ===
        if embeddings is None:
            embeddings = embeddings_for(config, dtype=self.dtype_policy)
        elif embeddings.embedding_size != config.embedding_size:
            raise ValueError(
                f"embeddings: the shared block has embedding_size="
                f"{embeddings.embedding_size}, the config wants {config.embedding_size}"
            )
        self.embeddings = embeddings
        self.embedding_projection = None
        if config.projects_embeddings:
            self.embedding_projection = keras.layers.Dense(
                config.hidden_size,
                kernel_initializer=init,
                dtype=self.dtype_policy,
                name="embedding_projection",
            )
        self.attention_sublayers = [
            AttentionSublayer(
                hidden_size=config.hidden_size,
                num_heads=config.num_heads,
                dropout_rate=config.dropout_rate,
                attention_dropout_rate=config.attention_dropout_rate,
                layer_norm_epsilon=config.layer_norm_epsilon,
                initializer_range=config.initializer_range,
                dtype=self.dtype_policy,
                name=f"attention_{index}",
            )
            for index in range(config.num_attention_sublayers)
        ]
        self.feedforward_sublayers = [
            FeedForwardSublayer(
                hidden_size=config.hidden_size,
                intermediate_size=config.intermediate_size,
                hidden_act=config.hidden_act,
                dropout_rate=config.dropout_rate,
                layer_norm_epsilon=config.layer_norm_epsilon,
                initializer_range=config.initializer_range,
                dtype=self.dtype_policy,
                name=f"feedforward_{index}",
            )
            for index in range(config.num_feedforward_sublayers)
        ]
        self.pooler = None
        if config.pooler:
            self.pooler = keras.layers.Dense(
                config.hidden_size,
                activation="tanh",
                kernel_initializer=init,
                dtype=self.dtype_policy,
                name="pooler",
            )

        # === Config ===
        self.schedule = config.layer_schedule()
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings.build()
        if self.embedding_projection is not None:
            self.embedding_projection.build((None, None, self.config.embedding_size))
        for sublayer in self.attention_sublayers + self.feedforward_sublayers:
            sublayer.build()
        if self.pooler is not None:
            self.pooler.build((None, self.config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        token_ids, segment_ids, padding_mask = unpack_inputs(inputs)
        x = self.embeddings(token_ids, segment_ids, training=training)
        if self.embedding_projection is not None:
            x = positionwise(x, self.embedding_projection)

        # Every query attends to every real key: (batch, length, length).
        length = ops.shape(padding_mask)[1]
        attention_mask = ops.logical_and(
            padding_mask[:, None, :], ops.ones((1, length, 1), dtype="bool")
        )
        for attention_index, feedforward_index in self.schedule:
            x = self.attention_sublayers[attention_index](
                x, attention_mask, training=training
            )
            x = self.feedforward_sublayers[feedforward_index](x, training=training)

        outputs = {"sequence_output": x}
        if self.pooler is not None:
            outputs["pooled_output"] = self.pooler(x[:, 0, :])
        return outputs
