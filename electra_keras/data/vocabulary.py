"""Learning a vocabulary from a corpus: WordPiece or SentencePiece.

`build_wordpiece_vocabulary` learns the tokens of a `WordPieceTokenizer`
(ELECTRA, BERT), `train_sentencepiece` the unigram model of a
`SentencePieceTokenizer` (ALBERT). Both read the corpus the same way (in
batches of sentences, with a progress bar over its bytes) and feed the
learner text cut by the tokenizer's own graph code, so a vocabulary is
learned from exactly the text its tokenizer will see.

WordPiece: the words are cut by `WordPieceTokenizer.normalize` (its BERT
normalizer) and `split_words` (its pre-tokenizer). The WordPiece learning is
TensorFlow Text's (`wordpiece_tokenizer_learner_lib`, the learner behind both
`keras_hub.tokenizers.compute_word_piece_vocabulary` and
`tensorflow_text.bert_vocab_from_dataset`). Those two wrappers are not called
because their own pre-tokenizers differ from ours: keras_hub case-folds
(`ß` -> `ss`, where BERT lowercasing keeps `ß`) and neither deletes the
control characters BERT deletes. Calling the learner's `count_words` on our
own word batches also gives a progress bar over the corpus.

SentencePiece: the sentences go through ALBERT's `preprocess`, then to
SentencePiece's own trainer, the way ALBERT's README trains its model.

The `vocab.txt` format itself (`write_vocabulary`, `vocabulary_sha256`) lives
with the tokenizer that reads it, in `tokenizers/wordpiece.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import keras
import sentencepiece as spm
import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from electra_keras.data.corpus import CorpusStats, read_documents, reading_progress, resolve_corpus
from electra_keras.data.tokenizers import sentencepiece, wordpiece
from electra_keras.data.tokenizers.sentencepiece import preprocess
from electra_keras.data.tokenizers.wordpiece import vocabulary_sha256, write_vocabulary

__all__ = [
    "build_wordpiece_vocabulary",
    "train_sentencepiece",
    # the vocab.txt format, importable from here as before
    "vocabulary_sha256",
    "write_vocabulary",
]

# Sentences normalized and split per TensorFlow call: large enough that the
# per-call overhead vanishes, small enough to keep memory flat.
_BATCH_SENTENCES = 2048
# SentencePiece's unigram EM sums per-thread statistics, so the pieces depend
# on the thread count (measured: 1, 2 and 8 threads give three models). A
# fixed count, not os.cpu_count(), keeps the model the same on every machine.
_TRAINING_THREADS = 16


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
    if vocabulary_size <= len(wordpiece.SPECIAL_TOKENS):
        raise ValueError(
            f"vocabulary_size must exceed the {len(wordpiece.SPECIAL_TOKENS)} special tokens; "
            f"got {vocabulary_size}"
        )
    files = resolve_corpus(corpus)
    stats = CorpusStats()
    # Only the normalizer and pre-tokenizer are used: the specials suffice.
    tokenizer = wordpiece.WordPieceTokenizer(list(wordpiece.SPECIAL_TOKENS), lowercase=lowercase)
    progress = reading_progress(files, verbose)
    start = time.perf_counter()
    word_counts = learner.count_words(
        wordpiece.split_words(tokenizer.normalize(batch))
        for batch in _sentence_batches(files, stats, progress)
    )
    counted = time.perf_counter()
    if verbose:
        # The learner is pure Python: about 2 minutes for WikiText-2 train.
        print(f"Learning WordPiece pieces from {len(word_counts):,} distinct words...")
    tokens = learner.learn(
        word_counts,
        vocab_size=vocabulary_size,
        reserved_tokens=list(wordpiece.SPECIAL_TOKENS),
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


def train_sentencepiece(
    corpus: Sequence[str | os.PathLike] | None,
    out: str | os.PathLike,
    vocabulary_size: int = 30000,
    lowercase: bool = True,
    *,
    character_coverage: float = 0.99995,
    input_sentence_size: int = 10_000_000,
    verbose: bool = True,
) -> Path:
    """Trains an ALBERT-style unigram SentencePiece model on a corpus.

    The pieces start with `<pad> <unk> [CLS] [SEP] [MASK]` (ids 0..4, no
    BOS/EOS), as in ALBERT's `30k-clean.model`. Every sentence that
    `read_documents` yields is fed through `SentencePieceTokenizer`'s own
    preprocessing (lowercased and accents stripped when `lowercase`), so the
    model learns from exactly the text the tokenizer will segment. The
    sentences are streamed to the trainer; no text copy is written.

    ALBERT's README also makes `( ) " - . – £ €` user-defined symbols. They
    are left out: transformers 5 turns user-defined symbols into added tokens
    that it cuts out before normalization, so its ids would then differ from
    SentencePiece's own (`well-known` -> `▁well - ▁known` against
    `▁well - known`).

    Training is deterministic: the same corpus and arguments give the same
    `.model` bytes. SentencePiece's random generator is seeded with a fixed
    value, and it always runs 16 threads (its default), because its EM
    statistics, and so the pieces, depend on the thread count.

    Args:
        corpus: files, folders or globs (see `resolve_corpus`); `None` for
            WikiText-2 raw train.
        out: the model file to write, ending in `.model`; SentencePiece
            writes the `.vocab` (piece and log-probability per line) beside it.
        vocabulary_size: the number of pieces, specials included. It must be
            more than the 5 specials plus the characters the corpus needs
            (`character_coverage`), and at most what the corpus can fill.
        lowercase: train an uncased model, for
            `SentencePieceTokenizer(lowercase=True)`.
        character_coverage: the share of characters the model must cover
            (ALBERT used 0.99995; rarer characters become `<unk>`).
        input_sentence_size: the most sentences trained on; a larger corpus
            is sampled (ALBERT's 10,000,000).
        verbose: print a progress bar and the counts.

    Returns:
        The path of the `.model` file.

    Raises:
        ValueError: `out` does not end in `.model`, `vocabulary_size` is too
            small or too large for the corpus, or the corpus has no text.
        FileNotFoundError: a corpus path matches no file.

    Example:
        path = train_sentencepiece(["notes/"], "albert/spiece.model", 8000)
        SentencePieceTokenizer(path).tokenize("Hello world")
    """
    out = Path(out)
    if out.suffix != ".model":
        raise ValueError(f"out: the SentencePiece model path must end in .model; got {str(out)!r}")
    if isinstance(vocabulary_size, bool) or not isinstance(vocabulary_size, int):
        raise TypeError(f"vocabulary_size must be an int; got {type(vocabulary_size).__name__}")
    if vocabulary_size <= len(sentencepiece.SPECIAL_TOKENS):
        raise ValueError(
            f"vocabulary_size must exceed the {len(sentencepiece.SPECIAL_TOKENS)} special pieces; "
            f"got {vocabulary_size}"
        )
    files = resolve_corpus(corpus)
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = CorpusStats()
    progress = reading_progress(files, verbose)
    start = time.perf_counter()
    spm.set_random_generator_seed(0)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(
                sentence
                for batch in _sentence_batches(files, stats, progress)
                for sentence in _preprocessed(batch, lowercase)
            ),
            model_prefix=str(out.with_suffix("")),
            model_type="unigram",
            vocab_size=vocabulary_size,
            pad_id=0,
            unk_id=1,
            bos_id=-1,
            eos_id=-1,
            control_symbols=[
                sentencepiece.CLS_TOKEN, sentencepiece.SEP_TOKEN, sentencepiece.MASK_TOKEN
            ],
            character_coverage=character_coverage,
            input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True,
            num_threads=_TRAINING_THREADS,
            minloglevel=2,
        )
    except RuntimeError as err:
        message = str(err)
        if "Vocabulary size" in message:
            # SentencePiece's own check says what would fit, e.g. "Vocabulary
            # size too high (5000). Please set it to a value <= 1933."
            raise ValueError(
                f"vocabulary_size={vocabulary_size} does not fit the corpus "
                f"({stats.summary()}): {message.split('] ', 1)[-1]}"
            ) from None
        raise
    if verbose:
        print(
            f"SentencePiece model {out}: {vocabulary_size:,} pieces from "
            f"{stats.summary()}; {time.perf_counter() - start:.1f} s"
        )
    return out


def _sentence_batches(
    files: list[Path], stats: CorpusStats, progress: keras.utils.Progbar
) -> Iterator[list[str]]:
    """The corpus sentences, `_BATCH_SENTENCES` or a few more at a time."""
    batch: list[str] = []
    for document in read_documents(files, stats):
        batch += document
        if len(batch) >= _BATCH_SENTENCES:
            yield batch
            batch = []
            progress.update(stats.bytes_read)
    if batch:
        yield batch
    progress.update(stats.bytes_read, finalize=True)


def _preprocessed(sentences: list[str], lowercase: bool) -> list[str]:
    texts = preprocess(tf.constant(sentences, dtype=tf.string), lowercase)
    return [text.decode("utf-8") for text in texts.numpy()]
