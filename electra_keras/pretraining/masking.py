"""Dynamic masking for masked-LM pretraining, drawn fresh at every step.

ELECTRA (Clark et al. 2020, section 2 and Appendix A; the official
`pretrain_helpers.mask`): 15% of the tokens are chosen, never [CLS], [SEP] or
padding; of the chosen positions 85% become [MASK] and 15% keep their token,
and none is replaced by a random token. BERT-style MLM (the paper's
ablation) uses the 80% [MASK] / 10% random / 10% unchanged split instead.
ALBERT (Lan et al. 2019, section 4.1) keeps BERT's split but chooses n-grams:
spans of 1 to 3 tokens, length n with probability proportional to 1/n
(6/11, 3/11, 2/11), until 15% of the tokens are chosen.

The number of positions per sequence follows the official code:
round(real_tokens * rate), at least 1, at most `max_predictions`
= int((rate + 0.005) * sequence_length) so that every batch has the same
static shape. Positions are drawn without replacement.

N-grams without a sequential loop: each sequence's candidate tokens are cut
into consecutive spans whose lengths are drawn i.i.d. from that
distribution, the spans are ranked at random, and tokens are taken in that
order (each span whole, its tokens left to right) until the budget is met.
Spans are disjoint by construction; the span that crosses the budget keeps
only its first tokens, which is the official code's "try a shorter n-gram"
(google-research/albert `create_masked_lm_predictions`). As there, a span
runs over consecutive candidates, so it never covers [CLS] or [SEP] but may
step over one, and the 80/10/10 draw is made per token.

Whole-word masking (`continuation_ids`, google-research/albert's default
`do_whole_word_mask`): the spans count words instead of tokens, a word being
a piece and the continuation pieces after it (WordPiece "##..."; for
SentencePiece every piece that does not start with "▁", "<" or a
punctuation mark, the official `_is_start_piece`), so a chosen word is
masked whole. One difference from the official builder: the span that
crosses the budget keeps its first tokens, which may cut its last word
(the official code tries fewer words instead and may end below the budget).

Everything is TensorFlow ops on a batch, so the same function runs inside
`tf.data.Dataset.map` (the default: cheap on CPU, and it keeps random ops out
of an XLA-compiled train step) or inside `train_step`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

# Keys added to a batch by `mask_batch`.
MASKED_KEYS = ("masked_token_ids", "masked_positions", "masked_ids", "masked_weights")


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """How tokens are chosen and replaced.

    Args:
        rate: fraction of real tokens chosen for prediction.
        mask_token_rate: fraction of chosen positions replaced by [MASK].
        random_token_rate: fraction replaced by a random token; the rest keep
            their original token.
        mask_token_id, special_token_ids: ids of [MASK] and of the tokens
            that are never chosen ([CLS], [SEP], [PAD], ...).
        vocab_size: random replacements are drawn from [0, vocab_size),
            excluding special tokens.
        max_predictions: static number of predicted positions per sequence;
            None uses the official int((rate + 0.005) * sequence_length).
        max_ngram: longest span of consecutive tokens chosen together
            (ALBERT: 3, with P(n) proportional to 1/n); 1 chooses tokens
            independently.
        continuation_ids: ids of the pieces that continue a word; non-empty
            turns on whole-word masking (spans count words; see the module
            docstring). `for_tokenizer(..., whole_word=True)` fills it.

    Example:
    >>> electra = MaskingConfig.electra(mask_token_id=103, special_token_ids=(0, 101, 102), vocab_size=30522)
    >>> bert = MaskingConfig.bert(mask_token_id=103, special_token_ids=(0, 101, 102), vocab_size=30522)
    >>> albert = MaskingConfig.albert(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=30000)
    >>> (electra.mask_token_rate, electra.random_token_rate, bert.random_token_rate, albert.max_ngram)
    (0.85, 0.0, 0.1, 3)
    """

    mask_token_id: int
    special_token_ids: tuple[int, ...]
    vocab_size: int
    rate: float = 0.15
    mask_token_rate: float = 0.85
    random_token_rate: float = 0.0
    max_predictions: int | None = None
    max_ngram: int = 1
    continuation_ids: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "special_token_ids", tuple(self.special_token_ids))
        object.__setattr__(self, "continuation_ids", tuple(self.continuation_ids))
        if isinstance(self.max_ngram, bool) or not isinstance(self.max_ngram, int) or self.max_ngram < 1:
            raise ValueError(f"max_ngram={self.max_ngram!r}: expected an int >= 1")
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"masking rate={self.rate!r}: expected a fraction in (0, 1)")
        if self.mask_token_rate < 0 or self.random_token_rate < 0 or (
            self.mask_token_rate + self.random_token_rate > 1.0
        ):
            raise ValueError(
                f"mask_token_rate={self.mask_token_rate} and random_token_rate="
                f"{self.random_token_rate} must be >= 0 and sum to at most 1"
            )

    @classmethod
    def electra(cls, **kwargs) -> MaskingConfig:
        return cls(**{"mask_token_rate": 0.85, "random_token_rate": 0.0, **kwargs})

    @classmethod
    def bert(cls, **kwargs) -> MaskingConfig:
        return cls(**{"mask_token_rate": 0.8, "random_token_rate": 0.1, **kwargs})

    @classmethod
    def albert(cls, **kwargs) -> MaskingConfig:
        return cls(**{"mask_token_rate": 0.8, "random_token_rate": 0.1, "max_ngram": 3, **kwargs})

    @classmethod
    def for_tokenizer(cls, tokenizer, objective: str = "electra", whole_word: bool = False, **kwargs) -> MaskingConfig:
        """Token ids from a tokenizer; objective "electra", "mlm" or "albert";
        `whole_word` masks whole words (`continuation_pieces`)."""
        if objective not in STYLES:
            raise ValueError(f"objective={objective!r}: expected one of {sorted(STYLES)}")
        if whole_word:
            kwargs.setdefault("continuation_ids", continuation_pieces(tokenizer))
        ids = dict(
            mask_token_id=tokenizer.mask_token_id,
            special_token_ids=tuple(
                sorted(
                    {
                        tokenizer.pad_token_id,
                        tokenizer.cls_token_id,
                        tokenizer.sep_token_id,
                        tokenizer.mask_token_id,
                        tokenizer.unk_token_id,
                    }
                )
            ),
            vocab_size=tokenizer.vocabulary_size,
        )
        ids.update(kwargs)
        return getattr(cls, STYLES[objective])(**ids)

    def ngram_probabilities(self) -> list[float]:
        """P(n) for n = 1..max_ngram: proportional to 1/n (ALBERT favours short spans)."""
        weights = [1.0 / n for n in range(1, self.max_ngram + 1)]
        return [w / sum(weights) for w in weights]

    def num_predictions(self, sequence_length: int) -> int:
        if self.max_predictions is not None:
            return self.max_predictions
        return max(1, min(sequence_length, int((self.rate + 0.005) * sequence_length)))


def continuation_pieces(tokenizer) -> tuple[int, ...]:
    """Ids of the pieces that continue a word: "##..." in a WordPiece
    vocabulary; in a SentencePiece one, every piece that does not start with
    "▁" or "<" and is not a punctuation mark (google-research/albert
    `_is_start_piece`).

    Example:
    >>> from electra_keras.data.tokenizers import WordPieceTokenizer
    >>> continuation_pieces(WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing"]))
    (6,)
    """
    from electra_keras.data.tokenizers import SentencePieceTokenizer

    vocabulary = tokenizer.vocabulary
    if isinstance(tokenizer, SentencePieceTokenizer):
        return tuple(i for i, piece in enumerate(vocabulary)
                     if not (piece.startswith(("▁", "<")) or piece in _PUNCTUATION))
    return tuple(i for i, piece in enumerate(vocabulary) if piece.startswith("##"))


# The official set, as written there (no quote, "=" or ">").
_PUNCTUATION = frozenset('!"#$%&()*+,-./:;?@[\\]^_`{|}~')

# Objective -> MaskingConfig constructor.
STYLES = {"electra": "electra", "mlm": "bert", "albert": "albert"}


def mask_batch(batch: dict, config: MaskingConfig, seed=None) -> dict:
    """Adds a fresh masking to a batch of {token_ids, segment_ids, padding_mask}.

    Args:
        batch: dict of int tensors of shape (batch, length).
        config: a `MaskingConfig`.
        seed: optional stateless seed, shape (2,) int; None draws from the
            global generator (different at every call).

    Returns:
        The batch plus:
            masked_token_ids: the input with chosen positions replaced;
            masked_positions: (batch, max_predictions) int32 positions;
            masked_ids: the original ids at those positions;
            masked_weights: 1.0 for real predictions, 0.0 for filler slots
                (sequences with fewer candidates than max_predictions).
    """
    token_ids = tf.cast(batch["token_ids"], tf.int32)
    padding_mask = tf.cast(batch["padding_mask"], tf.int32)
    length = token_ids.shape[1]
    if length is None:
        raise ValueError("mask_batch needs a static sequence length (pad batches to a fixed length)")
    num_slots = config.num_predictions(length)
    shape = tf.shape(token_ids)
    seeds = _split_seed(seed, 4)

    # Candidates: real tokens that are not special.
    special = tf.reduce_any(
        token_ids[..., None] == tf.constant(config.special_token_ids, tf.int32), axis=-1
    )
    candidates = tf.logical_and(padding_mask > 0, tf.logical_not(special))

    # Sample positions without replacement: top-k of a random score over the
    # candidates (non-candidates get -inf and are never in the valid prefix).
    if config.max_ngram == 1 and not config.continuation_ids:
        priority = _uniform(shape, seeds[0])
    else:
        units = _word_ranks(token_ids, candidates, config) if config.continuation_ids else None
        priority = _ngram_priority(candidates, config, seeds[0], seeds[3], units)
    scores = tf.where(candidates, priority, tf.fill(shape, -float("inf")))
    top_scores, positions = tf.math.top_k(scores, k=num_slots)
    real_tokens = tf.reduce_sum(padding_mask, axis=1)
    wanted = tf.cast(tf.round(tf.cast(real_tokens, tf.float32) * config.rate), tf.int32)
    wanted = tf.clip_by_value(wanted, 1, num_slots)
    valid = tf.logical_and(
        tf.sequence_mask(wanted, num_slots), tf.math.is_finite(top_scores)
    )
    positions = tf.where(valid, positions, tf.zeros_like(positions))
    masked_ids = tf.gather(token_ids, positions, batch_dims=1)

    # What each chosen position becomes: [MASK], a random token, or itself.
    draw = _uniform(tf.shape(positions), seeds[1])
    to_mask = draw < config.mask_token_rate
    to_random = tf.logical_and(
        draw >= config.mask_token_rate,
        draw < config.mask_token_rate + config.random_token_rate,
    )
    random_ids = _random_tokens(tf.shape(positions), config, seeds[2])
    replacement = tf.where(to_mask, config.mask_token_id, tf.where(to_random, random_ids, masked_ids))
    replacement = tf.where(valid, replacement, masked_ids)

    masked_token_ids = scatter_positions(token_ids, positions, replacement, valid)
    return {
        **batch,
        "masked_token_ids": masked_token_ids,
        "masked_positions": positions,
        "masked_ids": masked_ids,
        "masked_weights": tf.cast(valid, tf.float32),
    }


def _word_ranks(token_ids, candidates, config: MaskingConfig):
    """The index of the word of every candidate among its row's words (0, 1, ...):
    a candidate starts a word unless it is a continuation piece right after
    another candidate."""
    table = np.zeros(config.vocab_size, bool)
    table[list(config.continuation_ids)] = True
    continues = tf.gather(tf.constant(table), tf.clip_by_value(token_ids, 0, config.vocab_size - 1))
    after_candidate = tf.pad(candidates[:, :-1], [[0, 0], [1, 0]])
    starts = tf.logical_and(candidates, tf.logical_not(tf.logical_and(continues, after_candidate)))
    return tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1


def ngram_spans(candidates, config: MaskingConfig, seed=None, units=None):
    """Cuts each row's candidates into consecutive spans of 1..max_ngram units.

    A unit is a token, or with `units` (the word index of every candidate,
    `_word_ranks`) a word. Returns int32 [batch, length]: the span index of
    every candidate position (-1 elsewhere). Span lengths are i.i.d. draws
    from `config.ngram_probabilities()`; the last span of a row may be cut
    short.
    """
    candidates = tf.cast(candidates, tf.bool)
    shape = tf.shape(candidates)
    # The rank of each candidate's unit among its row's units: 0, 1, 2, ...
    rank = tf.cumsum(tf.cast(candidates, tf.int32), axis=1, exclusive=True) if units is None else units
    # n = 1 + the number of cumulative probabilities below a uniform draw.
    cumulative = tf.constant(np.cumsum(config.ngram_probabilities())[:-1], tf.float32)
    uniform = _uniform(shape, seed)
    lengths = 1 + tf.reduce_sum(tf.cast(uniform[..., tf.newaxis] >= cumulative, tf.int32), axis=-1)
    span_ends = tf.cumsum(lengths, axis=1)  # exclusive end rank of each span
    span = tf.searchsorted(span_ends, rank, side="right", out_type=tf.int32)
    return tf.where(candidates, span, -1)


def _ngram_priority(candidates, config: MaskingConfig, span_seed, order_seed, units=None):
    """A score whose descending order takes whole spans, in random span order,
    each span's tokens left to right (see the module docstring)."""
    shape = tf.shape(candidates)
    length = shape[1]
    span = tf.maximum(ngram_spans(candidates, config, span_seed, units), 0)
    # A random rank per span (at most `length` spans per row).
    span_order = tf.argsort(_uniform(shape, order_seed), axis=1)
    span_rank = tf.argsort(span_order, axis=1)
    position = tf.range(length)[tf.newaxis, :]
    key = tf.gather(span_rank, span, batch_dims=1) * length + position
    # Exact in float32 while length**2 < 2**24, i.e. sequences up to 4096.
    return -tf.cast(key, tf.float32)


def scatter_positions(token_ids, positions, values, valid):
    """token_ids with `values` written at `positions` where `valid`."""
    batch_index = tf.broadcast_to(tf.range(tf.shape(positions)[0])[:, None], tf.shape(positions))
    indices = tf.stack([batch_index, positions], axis=-1)
    indices = tf.boolean_mask(indices, valid)
    return tf.tensor_scatter_nd_update(token_ids, indices, tf.boolean_mask(values, valid))


def _split_seed(seed, count):
    if seed is None:
        return [None] * count
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), count))


def _uniform(shape, seed):
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed)


def _random_tokens(shape, config: MaskingConfig, seed):
    """Uniform over the vocabulary minus the special tokens."""
    allowed = tf.constant(
        [i for i in range(config.vocab_size) if i not in set(config.special_token_ids)], tf.int32
    )
    if seed is None:
        index = tf.random.uniform(shape, maxval=tf.shape(allowed)[0], dtype=tf.int32)
    else:
        index = tf.random.stateless_uniform(
            shape, seed, minval=0, maxval=tf.shape(allowed)[0], dtype=tf.int32
        )
    return tf.gather(allowed, index)
