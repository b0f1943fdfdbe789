"""Training a WordPiece vocabulary on a corpus, for `WordPieceTokenizer`.

The words are cut by `WordPieceTokenizer` itself (its BERT normalizer and
pre-tokenizer), so every word the vocabulary was learned from is a word the
tokenizer will look up. The WordPiece learning is TensorFlow Text's
(`wordpiece_tokenizer_learner_lib`, the learner behind both
`keras_hub.tokenizers.compute_word_piece_vocabulary` and
`tensorflow_text.bert_vocab_from_dataset`). Those two wrappers are not called
because their own pre-tokenizers differ from ours: keras_hub case-folds
(`ß` -> `ss`, where BERT lowercasing keeps `ß`) and neither deletes the
control characters BERT deletes. Calling the learner's `count_words` on our
own word batches also gives a progress bar over the corpus.
"""

from __future__ import annotations

import collections
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from electra_keras.data.corpus import CorpusStats, read_documents, reading_progress, resolve_corpus
from electra_keras.data.tokenizer import SPECIAL_TOKENS, WordPieceTokenizer

# Sentences normalized and split per TensorFlow call: large enough that the
# per-call overhead vanishes, small enough to keep memory flat.
_BATCH_SENTENCES = 2048


def build_wordpiece_vocabulary(
    corpus: Sequence[str | os.PathLike] | None = None,
    vocabulary_size: int = 30522,
    lowercase: bool = True,
    *,
    min_piece_count: int = 10,
    max_unique_characters: int = 1000,
    verbose: bool = True,
) -> list[str]:
    """Learns a WordPiece vocabulary from a corpus.

    The result starts with `[PAD] [UNK] [CLS] [SEP] [MASK]` (so `[PAD]` is id
    0), then the single characters and the learned pieces. It can be smaller
    than `vocabulary_size` when the corpus is small: the learner keeps no
    piece seen fewer than `min_piece_count` times (WikiText-2 train gives
    about 18,000 tokens at the default 10).

    Args:
        corpus: files, folders or globs (see `resolve_corpus`); `None` for
            WikiText-2 raw train.
        vocabulary_size: the most tokens to return, specials included.
        lowercase: learn an uncased vocabulary (lowercase, strip accents), as
            `WordPieceTokenizer(lowercase=True)` will tokenize.
        min_piece_count: the lowest count threshold the learner may choose
            for a piece (its `lower_thresh`).
        max_unique_characters: the alphabet size; words with rarer
            characters are not learned from (those characters become `[UNK]`).
        verbose: print a progress bar and timings.

    Returns:
        The tokens, indexed by id.

    Example:
        vocab = build_wordpiece_vocabulary(["notes/"], vocabulary_size=8000)
        write_vocabulary(vocab, "vocab.txt")
    """
    if vocabulary_size <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"vocabulary_size must exceed the {len(SPECIAL_TOKENS)} special tokens; "
            f"got {vocabulary_size}"
        )
    files = resolve_corpus(corpus)
    stats = CorpusStats()
    # Only the normalizer and pre-tokenizer are used: the specials suffice.
    tokenizer = WordPieceTokenizer(list(SPECIAL_TOKENS), lowercase=lowercase)
    progress = reading_progress(files, verbose)
    start = time.perf_counter()
    word_counts = learner.count_words(_word_batches(files, tokenizer, stats, progress))
    counted = time.perf_counter()
    if verbose:
        # The learner is pure Python: about 2 minutes for WikiText-2 train.
        print(f"Learning WordPiece pieces from {len(word_counts):,} distinct words...")
    tokens = learner.learn(
        word_counts,
        vocab_size=vocabulary_size,
        reserved_tokens=list(SPECIAL_TOKENS),
        # The learner binary-searches a count threshold up to 1e7 by default;
        # thresholds above the largest count all give the same vocabulary.
        upper_thresh=max(word_counts.values(), default=min_piece_count),
        lower_thresh=min_piece_count,
        max_unique_chars=max_unique_characters,
        include_joiner_token=True,
        joiner="##",
    )[:vocabulary_size]
    if verbose:
        print(
            f"WordPiece vocabulary: {len(tokens):,} tokens ({stats.summary()}); "
            f"counting {counted - start:.1f} s, "
            f"learning {time.perf_counter() - counted:.1f} s"
        )
    return tokens


def _word_batches(
    files: list[Path],
    tokenizer: WordPieceTokenizer,
    stats: CorpusStats,
    progress: keras.utils.Progbar,
) -> Iterator[tf.RaggedTensor]:
    batch: list[str] = []
    for document in read_documents(files, stats):
        batch += document
        if len(batch) >= _BATCH_SENTENCES:
            yield _words(tokenizer, batch)
            batch = []
            progress.update(stats.bytes_read)
    if batch:
        yield _words(tokenizer, batch)
    progress.update(stats.bytes_read, finalize=True)


def _words(tokenizer: WordPieceTokenizer, sentences: list[str]) -> tf.RaggedTensor:
    # The tokenizer's own normalizer and pre-tokenizer, exactly as
    # `WordPieceTokenizer.tokenize` applies them before the WordPiece lookup.
    # (A public `words()` on the tokenizer would avoid the private call.)
    return tokenizer._words(tokenizer.normalize(sentences))


def write_vocabulary(tokens: Sequence[str], path: str | os.PathLike) -> Path:
    """Writes a `vocab.txt`: UTF-8, one token per line, the line number is the id.

    Raises:
        ValueError: a token is empty, contains a line break or repeats, or a
            special token is missing (the file would not load back the same
            or would not work with `WordPieceTokenizer`).
    """
    tokens = list(tokens)
    for index, token in enumerate(tokens):
        if not token or "\n" in token or "\r" in token:
            raise ValueError(f"vocabulary token {index} ({token!r}) is empty or has a line break")
    repeated = [token for token, count in collections.Counter(tokens).items() if count > 1]
    if repeated:
        raise ValueError(f"vocabulary tokens appear more than once: {repeated[:10]}")
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
        raise ValueError(f"vocabulary lacks the special tokens {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


def vocabulary_sha256(tokens: Sequence[str]) -> str:
    """SHA-256 of the vocabulary as `write_vocabulary` writes it.

    So it equals the SHA-256 of such a `vocab.txt` file, and data prepared
    from a token list and from its file agree.
    """
    return hashlib.sha256("".join(t + "\n" for t in tokens).encode("utf-8")).hexdigest()
