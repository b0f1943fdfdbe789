"""Pretraining examples: corpus -> packed TFRecord shards -> batches.

`prepare_pretraining_data` packs sentences into fixed-length examples the way
the official ELECTRA `build_pretraining_dataset.py` (`ExampleBuilder`) does:

1. A document's sentences are collected until they hold at least a target
   length of tokens (`sequence_length`; after 5% of examples, a random
   length in [5, sequence_length] instead), or until the document ends.
2. They are split at a sentence boundary into segment A and segment B:
   sentences go to A while A stays under (target - 3) // 2 tokens, and the
   sentence that crosses that length goes to A with probability 1/2. 10% of
   examples put everything in A (single segment, as in classification).
3. A is cut to `sequence_length - 2` tokens, then B to what is left, and the
   example is `[CLS] A [SEP] B [SEP]` (`[CLS] A [SEP]` when B is empty),
   padded with 0. The cut tokens are lost, as in the official code, and
   counted (`truncated_tokens`).

With `sentence_pairs=True` (ALBERT's sentence-order prediction needs two
segments), steps 1-3 change where they would leave an example without B:
at least two sentences are collected (unless the document ends), no example
is drawn single-segment, the last collected sentence goes to B if no other
did, and truncation cuts the longer segment first (as ALBERT's
`truncate_seq_pair`), so B survives a long A.

One deliberate difference: once a sentence went to B, all later ones do too,
so A and B are each contiguous text. The official loop can send a later
short sentence back to A, out of order.

Shards hold `tf.train.Example`s with `token_ids` and `segment_ids` (int64
lists of exactly `sequence_length`, padded with 0) and `length` (tokens
before padding). Fixed-length lists parse with one vectorised
`tf.io.parse_example` per batch; the padding costs one byte per position on
disk. Examples go round-robin to the shards, so every shard spans the corpus;
the shard count is sized to the corpus (`SHARD_TARGET_BYTES`). A
`metadata.json` beside them records the sequence length, the vocabulary's
size and SHA-256, the counts and the shard list.

The corpus is cut into chunks of whole documents (`CHUNK_CHARACTERS`), each
packed with its own random generator seeded by (seed, chunk index), so the
output is identical for any number of worker processes.

`pretraining_dataset` reads the shards back as batches of int32 model inputs,
in an order fixed by the seed so that an interrupted run can resume.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import glob
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from electra_keras.base import plain_python
from electra_keras.data.pipeline import without_autotune_thread
from electra_keras.data.corpus import CorpusStats, read_documents, reading_progress, resolve_corpus
from electra_keras.data.tokenizers.factory import make_tokenizer
from electra_keras.data.tokenizers.wordpiece import vocabulary_sha256

# The official ExampleBuilder's probabilities.
SINGLE_SEGMENT_PROBABILITY = 0.1
SHORT_TARGET_PROBABILITY = 0.05
SHORTEST_TARGET = 5

# Text per unit of work: ~40 chunks for WikiText-2 train, a few MB of memory each.
CHUNK_CHARACTERS = 256 * 1024
# Sentences per tokenizer call: the per-call overhead vanishes at this size.
TOKENIZE_BATCH = 2048
# Shards are sized to hold about this much. A serialized example takes about
# as many bytes as the text it came from (WikiText-2: 0.8x at length 128), and
# gzip shrinks English text about 3x.
SHARD_TARGET_BYTES = 32 << 20
GZIP_RATIO = 3
# Every shard is open while writing: past this count shards grow instead.
MAX_SHARDS = 256
# A worker process takes ~4 s to start (it loads TensorFlow) and one process
# packs ~3.3 MB of text per second (measured on a 2-core AMD EPYC), so a
# second process pays off from about 30 MB of text on.
TEXT_BYTES_PER_WORKER = 32 << 20

METADATA_FILE = "metadata.json"
SHARD_PREFIX = "examples-"
SHARD_SUFFIX = ".tfrecord"
FORMAT = "electra_keras.pretraining_examples"
FORMAT_VERSION = 1


@dataclasses.dataclass
class PreparationStats:
    """What `prepare_pretraining_data` read and wrote.

    Attributes:
        corpus: the reading counts (documents, sentences, skipped input).
        examples: examples written.
        tokens: WordPiece tokens written ([CLS], [SEP] and padding excluded).
        truncated_tokens: tokens cut off by the official truncation rule.
        single_segment_examples: examples with no segment B (the 10% draw,
            documents ending with one sentence, or B truncated away).
        short_target_examples: examples collected toward a random shorter
            target (the 5% draw).
        shards: shard file names, in order.
        workers: processes that packed (see `TEXT_BYTES_PER_WORKER`).
        seconds: wall time.
    """

    corpus: CorpusStats = dataclasses.field(default_factory=CorpusStats)
    examples: int = 0
    tokens: int = 0
    truncated_tokens: int = 0
    single_segment_examples: int = 0
    short_target_examples: int = 0
    shards: list[str] = dataclasses.field(default_factory=list)
    workers: int = 1
    seconds: float = 0.0

    def summary(self) -> str:
        tokens_read = self.tokens + self.truncated_tokens
        return (
            f"{self.examples:,} examples, {self.tokens:,} tokens in {len(self.shards)} shards "
            f"({self.single_segment_examples:,} single-segment, {self.short_target_examples:,} "
            f"shorter-target; {self.truncated_tokens:,} tokens truncated = "
            f"{self.truncated_tokens / max(tokens_read, 1):.1%}) in {self.seconds:.1f} s "
            f"with {self.workers} process{'es' if self.workers > 1 else ''}; "
            f"read {self.corpus.summary()}"
        )


_COUNTED = ("examples", "tokens", "truncated_tokens", "single_segment_examples",
            "short_target_examples")


def prepare_pretraining_data(
    corpus: Sequence[str | os.PathLike] | None,
    vocabulary: str | os.PathLike | Sequence[str],
    out_dir: str | os.PathLike,
    sequence_length: int = 128,
    lowercase: bool = True,
    num_shards: int | None = None,
    workers: int = 2,
    seed: int = 0,
    *,
    sentence_pairs: bool = False,
    verbose: bool = True,
) -> PreparationStats:
    """Tokenizes and packs a corpus into TFRecord shards of pretraining examples.

    See the module docstring for the packing rules and the file format.
    Earlier shards and metadata in `out_dir` are replaced; `metadata.json`
    is written last, so its presence marks a complete set.

    Args:
        corpus: files, folders or globs (see `resolve_corpus`); `None` for
            WikiText-2 raw train.
        vocabulary: a WordPiece `vocab.txt` path or list of tokens, or a
            SentencePiece `.model` (see `make_tokenizer`).
        out_dir: the folder for the shards and `metadata.json`.
        sequence_length: tokens per example, [CLS] and [SEP]s included.
        lowercase: the tokenizer's `lowercase`; must match the vocabulary.
        num_shards: the number of shards; `None` sizes them to about
            `SHARD_TARGET_BYTES` each (1 to `MAX_SHARDS`). Empty shards (more
            shards than examples) are not kept.
        workers: the most processes that tokenize and pack; 1 runs in this
            process. Each worker loads TensorFlow once (~4 s), so only one
            is used, plus one per further `TEXT_BYTES_PER_WORKER` of text.
        seed: the packing randomness. The output depends on it and on the
            corpus only, not on `workers`.
        sentence_pairs: make every example a pair of segments when its text
            allows (ALBERT); only a document's single last sentence is then
            an example of one segment (`single_segment_examples` counts
            them). False follows ELECTRA, with 10% single-segment examples.
        verbose: print a progress bar and the counts.

    Returns:
        The counts, also stored in `metadata.json`.

    Raises:
        ValueError: bad arguments, or no usable text in the corpus.
        FileNotFoundError: a corpus path that matches nothing.

    Example:
        stats = prepare_pretraining_data(None, "vocab.txt", "data/wikitext2")
        dataset = pretraining_dataset("data/wikitext2", batch_size=128)
    """
    start = time.perf_counter()
    _check_int("sequence_length", sequence_length, SHORTEST_TARGET)
    _check_int("workers", workers, 1)
    if num_shards is not None:
        _check_int("num_shards", num_shards, 1)
    # Fails early, with the tokenizer's message, on a vocabulary without specials.
    tokenizer = make_tokenizer(vocabulary, lowercase=lowercase)
    tokens = tokenizer.vocabulary
    files = resolve_corpus(corpus)
    text_bytes = _text_bytes(files)
    num_shards = num_shards or min(MAX_SHARDS, max(1, math.ceil(text_bytes / SHARD_TARGET_BYTES)))
    out_dir = Path(out_dir)
    _clear_previous_output(out_dir)

    stats = PreparationStats(workers=min(workers, 1 + text_bytes // TEXT_BYTES_PER_WORKER))
    config = dict(
        vocabulary=tokenizer.source, lowercase=lowercase, sequence_length=sequence_length, seed=seed,
        sentence_pairs=bool(sentence_pairs),
    )
    chunks = _chunks(read_documents(files, stats.corpus))
    progress = reading_progress(files, verbose, stateful_metrics=["examples"])
    paths = [out_dir / f"{SHARD_PREFIX}{i:05d}{SHARD_SUFFIX}" for i in range(num_shards)]
    writers = [tf.io.TFRecordWriter(os.fspath(path)) for path in paths]
    shard_sizes = [0] * num_shards
    try:
        packed = _pack_chunks(chunks, stats.corpus, config, stats.workers)
        for examples, counts, bytes_read in packed:
            for index, example in enumerate(examples, start=stats.examples):
                # Round-robin in corpus order: example i is shard i % n's (i // n)-th.
                writers[index % num_shards].write(example)
                shard_sizes[index % num_shards] += 1
            for name, count in counts.items():
                setattr(stats, name, getattr(stats, name) + count)
            progress.update(bytes_read, [("examples", stats.examples)])
    except BaseException:
        for writer in writers:
            writer.close()
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    for writer in writers:
        writer.close()
    progress.update(progress.target, [("examples", stats.examples)], finalize=True)

    # More shards than examples (a tiny corpus and a large num_shards): drop the empty ones.
    for path, size in zip(paths, shard_sizes):
        if size == 0:
            path.unlink()
    stats.shards = [path.name for path, size in zip(paths, shard_sizes) if size]
    stats.seconds = time.perf_counter() - start
    _write_metadata(
        out_dir, stats, tokens, config,
        [{"file": p.name, "examples": n} for p, n in zip(paths, shard_sizes) if n],
        files,
    )
    if verbose:
        print(f"Wrote {out_dir}: {stats.summary()}")
    return stats


def _check_int(name: str, value: Any, smallest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < smallest:
        raise ValueError(f"{name} must be an int >= {smallest}; got {value!r}")


def _text_bytes(files: list[Path]) -> int:
    """An estimate of the corpus's uncompressed size."""
    return sum(f.stat().st_size * (GZIP_RATIO if f.name.endswith(".gz") else 1) for f in files)


def _clear_previous_output(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METADATA_FILE).unlink(missing_ok=True)
    for old in out_dir.glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}"):
        old.unlink()


def _write_metadata(
    out_dir: Path,
    stats: PreparationStats,
    tokens: list[str],
    config: dict[str, Any],
    shards: list[dict[str, Any]],
    files: list[Path],
) -> None:
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "features": {
            "token_ids": "int64 [sequence_length], 0-padded",
            "segment_ids": "int64 [sequence_length], 0-padded",
            "length": "int64, tokens before padding",
        },
        "sequence_length": config["sequence_length"],
        "lowercase": config["lowercase"],
        "seed": config["seed"],
        "sentence_pairs": config["sentence_pairs"],
        "workers": stats.workers,
        "vocabulary": {"size": len(tokens), "sha256": vocabulary_sha256(tokens)},
        "counts": {name: getattr(stats, name) for name in _COUNTED},
        "corpus": {"paths": [os.fspath(f) for f in files], **stats.corpus.as_dict()},
        "seconds": round(stats.seconds, 2),
        "shards": shards,
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def load_metadata(directory: str | os.PathLike) -> dict[str, Any]:
    """The `metadata.json` that `prepare_pretraining_data` wrote in `directory`.

    `["counts"]["examples"]` sizes an epoch; `["vocabulary"]` (size, SHA-256
    of the vocab.txt) and `["lowercase"]` tell whether a tokenizer matches.
    """
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no metadata; is {directory} a folder written by prepare_pretraining_data?"
        )
    metadata = json.loads(path.read_text(encoding="utf-8"))
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format {metadata.get('format')!r} version "
            f"{metadata.get('format_version')!r}; expected {FORMAT!r} version {FORMAT_VERSION}"
        )
    return metadata


# -- packing ------------------------------------------------------------------


def _chunks(documents: Iterator[list[str]]) -> Iterator[list[list[str]]]:
    """Groups whole documents into chunks of about `CHUNK_CHARACTERS`."""
    chunk: list[list[str]] = []
    characters = 0
    for document in documents:
        chunk.append(document)
        characters += sum(len(sentence) for sentence in document)
        if characters >= CHUNK_CHARACTERS:
            yield chunk
            chunk, characters = [], 0
    if chunk:
        yield chunk


class _ExampleBuilder:
    """The official ExampleBuilder's rules on token-id sentences, one chunk at a time."""

    def __init__(
        self,
        max_length: int,
        rng: np.random.Generator,
        sentence_pairs: bool = False,
    ) -> None:
        self.max_length = max_length
        self.sentence_pairs = sentence_pairs
        self.rng = rng
        self.target_length = max_length
        self.counts = dict.fromkeys(_COUNTED, 0)

    def add_document(self, sentences: list[list[int]]) -> Iterator[tuple[list[int], list[int]]]:
        """Yields the (segment A, segment B) pairs of one document."""
        collected: list[list[int]] = []
        collected_length = 0
        for sentence in sentences:
            if not sentence:
                continue
            collected.append(sentence)
            collected_length += len(sentence)
            if collected_length >= self.target_length and (
                len(collected) > 1 or not self.sentence_pairs
            ):
                yield self._create_example(collected)
                collected, collected_length = [], 0
        if collected:
            yield self._create_example(collected)

    def _create_example(self, sentences: list[list[int]]) -> tuple[list[int], list[int]]:
        if self.rng.random() < SINGLE_SEGMENT_PROBABILITY and not self.sentence_pairs:
            first_target = math.inf
        else:
            # -3 for the [CLS] and two [SEP]s still to come.
            first_target = (self.target_length - 3) // 2
        first: list[int] = []
        second: list[int] = []
        for index, sentence in enumerate(sentences):
            # With sentence_pairs the last sentence goes to B if nothing else did.
            must_start_b = self.sentence_pairs and index == len(sentences) - 1 and first
            if not second and not must_start_b and (
                not first
                or len(first) + len(sentence) < first_target
                or (len(first) < first_target and self.rng.random() < 0.5)
            ):
                first += sentence
            else:
                second += sentence
        if self.sentence_pairs and second:
            keep_first, keep_second = _longest_first(len(first), len(second), self.max_length - 3)
        else:
            keep_first = self.max_length - 2
            keep_second = max(0, self.max_length - min(len(first), keep_first) - 3)
        kept_first, kept_second = first[:keep_first], second[:keep_second]

        self.counts["examples"] += 1
        self.counts["tokens"] += len(kept_first) + len(kept_second)
        self.counts["truncated_tokens"] += (
            len(first) + len(second) - len(kept_first) - len(kept_second)
        )
        self.counts["single_segment_examples"] += not kept_second
        self.counts["short_target_examples"] += self.target_length < self.max_length
        if self.rng.random() < SHORT_TARGET_PROBABILITY:
            self.target_length = int(self.rng.integers(SHORTEST_TARGET, self.max_length + 1))
        else:
            self.target_length = self.max_length
        return kept_first, kept_second


def _longest_first(first: int, second: int, budget: int) -> tuple[int, int]:
    """How many tokens of each segment to keep: cut the longer one until both fit."""
    while first + second > budget:
        if first > second:
            first -= 1
        else:
            second -= 1
    return first, second


class _ChunkPacker:
    """Tokenizes a chunk of documents and packs it into serialized examples."""

    def __init__(self, vocabulary: Any, lowercase: bool, sequence_length: int, seed: int,
                 sentence_pairs: bool):
        self.tokenizer = make_tokenizer(vocabulary, lowercase=lowercase)
        self.sequence_length = sequence_length
        self.seed = seed
        self.sentence_pairs = sentence_pairs

    def __call__(
        self, index: int, documents: list[list[str]]
    ) -> tuple[list[bytes], dict[str, int]]:
        sentences = [sentence for document in documents for sentence in document]
        ids: list[list[int]] = []
        for begin in range(0, len(sentences), TOKENIZE_BATCH):
            ids += self.tokenizer.tokenize(sentences[begin : begin + TOKENIZE_BATCH]).to_list()
        builder = _ExampleBuilder(
            self.sequence_length, np.random.default_rng([self.seed, index]), self.sentence_pairs
        )
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        examples = []
        offset = 0
        for document in documents:
            for first, second in builder.add_document(ids[offset : offset + len(document)]):
                examples.append(self._serialize(first, second, cls_id, sep_id))
            offset += len(document)
        return examples, builder.counts

    def _serialize(self, first: list[int], second: list[int], cls_id: int, sep_id: int) -> bytes:
        token_ids = [cls_id, *first, sep_id]
        segment_ids = [0] * len(token_ids)
        if second:
            token_ids += [*second, sep_id]
            segment_ids += [1] * (len(second) + 1)
        length = len(token_ids)
        padding = [0] * (self.sequence_length - length)

        def int64s(values: list[int]) -> tf.train.Feature:
            return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

        features = {
            "token_ids": int64s(token_ids + padding),
            "segment_ids": int64s(segment_ids + padding),
            "length": int64s([length]),
        }
        example = tf.train.Example(features=tf.train.Features(feature=features))
        # Sorted map keys: otherwise the bytes depend on the process's hash seed.
        return example.SerializeToString(deterministic=True)


# Each worker process builds its own tokenizer once, in `_start_worker`.
_worker_packer: _ChunkPacker | None = None


def _start_worker(config: dict[str, Any]) -> None:
    global _worker_packer
    # One TensorFlow thread per worker: the workers already fill the cores.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    _worker_packer = _ChunkPacker(**config)


def _pack_in_worker(index: int, documents: list[list[str]]) -> tuple[list[bytes], dict[str, int]]:
    return _worker_packer(index, documents)


def _small_config(config: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """`config` with the vocabulary as a file, to keep worker start-up arguments small.

    A spawned process gets its arguments through a pipe that its parent
    holds open until all is written: if the child dies early (say, it cannot
    import the caller's main module) a payload over the pipe's 64 KB hangs
    the parent. A 30k-token vocabulary is a few hundred KB, a SentencePiece
    model about 1 MB.
    """
    if isinstance(config["vocabulary"], dict):  # a SentencePiece model
        path = scratch / "spiece.model"
        path.write_bytes(make_tokenizer(config["vocabulary"]).model_proto)
        return {**config, "vocabulary": os.fspath(path)}
    path = scratch / "vocab.txt"
    path.write_text("".join(token + "\n" for token in config["vocabulary"]), encoding="utf-8")
    return {**config, "vocabulary": os.fspath(path)}


def _pack_chunks(
    chunks: Iterator[list[list[str]]],
    corpus_stats: CorpusStats,
    config: dict[str, Any],
    workers: int,
) -> Iterator[tuple[list[bytes], dict[str, int], int]]:
    """Yields (examples, counts, corpus bytes read) per chunk, in corpus order.

    With several workers, at most two chunks per worker are in flight, so
    memory stays flat however large the corpus.
    """
    if workers == 1:
        packer = _ChunkPacker(**config)
        for index, chunk in enumerate(chunks):
            yield *packer(index, chunk), corpus_stats.bytes_read
        return
    # spawn, not fork: a forked copy of a process that already ran TensorFlow
    # can deadlock on its thread pools. concurrent.futures, not
    # multiprocessing.Pool: a worker that dies raises BrokenProcessPool
    # instead of hanging the run.
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(_small_config(config, Path(scratch)),),
    ) as pool:
        in_flight: collections.deque = collections.deque()
        try:
            for index, chunk in enumerate(chunks):
                job = pool.submit(_pack_in_worker, index, chunk)
                in_flight.append((job, corpus_stats.bytes_read))
                if len(in_flight) >= 2 * workers:
                    job, bytes_read = in_flight.popleft()
                    yield *job.result(), bytes_read
            while in_flight:
                job, bytes_read = in_flight.popleft()
                yield *job.result(), bytes_read
        except concurrent.futures.process.BrokenProcessPool as error:
            raise RuntimeError(
                f"a worker process of prepare_pretraining_data(workers={workers}) died (its "
                "error is printed above). Spawned workers re-import the calling script: it "
                "needs an `if __name__ == '__main__':` guard and must be a file, not stdin. "
                "workers=1 runs without worker processes."
            ) from error


# -- reading ------------------------------------------------------------------

# Shards read at once by `pretraining_dataset`.
INTERLEAVE_CYCLE = 8


def pretraining_dataset(
    file_pattern_or_dir: str | os.PathLike,
    batch_size: int,
    sequence_length: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = True,
    skip_batches: int = 0,
    drop_remainder: bool = True,
    *,
    shuffle_buffer_size: int = 10_000,
) -> tf.data.Dataset:
    """Batches of pretraining examples from TFRecord shards.

    Yields dicts of int32 tensors of shape (batch_size, sequence_length):
    `token_ids`, `segment_ids` and `padding_mask` (1 on real tokens). They
    are int32, not bool, because bool inputs break `fit` under a
    distribution strategy.

    The order is fixed by `seed` (and TensorFlow's global seed, which
    `keras.utils.set_random_seed` sets; a resumed run sets both the same
    way), the same for every iterator of the dataset: shard order per epoch
    (a stateless shuffle keyed by (seed, epoch)), a parallel but
    deterministic interleave, a shuffle buffer, then batching. So `skip_batches=k` continues exactly where
    a run that consumed k batches stopped; skipped batches are read but not
    parsed.

    Args:
        file_pattern_or_dir: a folder written by `prepare_pretraining_data`
            (its `metadata.json` lists the shards), or a glob of shard files.
        batch_size: examples per batch.
        sequence_length: the expected example length; `None` takes it from
            the metadata. A disagreement with the metadata is an error.
        shuffle: shuffle shard order and examples; False reads the shards
            round-robin, which is the written order when there are at most
            `INTERLEAVE_CYCLE` shards.
        seed: the shuffle seed.
        repeat: cycle forever (a new shuffle each epoch).
        skip_batches: batches to drop at the start, to resume.
        drop_remainder: drop a last partial batch (static batch shape).
        shuffle_buffer_size: examples in the shuffle buffer (about 1 KB each
            at length 128).

    Example:
        dataset = pretraining_dataset("data/wikitext2", batch_size=128)
        batch = next(iter(dataset))
        batch["token_ids"].shape
        TensorShape([128, 128])
    """
    _check_int("batch_size", batch_size, 1)
    _check_int("skip_batches", skip_batches, 0)
    _check_int("shuffle_buffer_size", shuffle_buffer_size, 1)
    files, stored_length = _find_shards(file_pattern_or_dir)
    if sequence_length is None:
        if stored_length is None:
            raise ValueError(
                f"{file_pattern_or_dir}: no metadata.json beside the shards; pass sequence_length"
            )
        sequence_length = stored_length
    elif stored_length is not None and sequence_length != stored_length:
        raise ValueError(
            f"{file_pattern_or_dir}: the examples have sequence_length {stored_length} "
            f"(metadata.json), but sequence_length={sequence_length} was requested"
        )

    # Every iterator of the dataset yields the same sequence: shard orders
    # are a stateless function of (seed, epoch), and the example buffer is not
    # reshuffled per iterator. Keras may open more than one iterator (under a
    # distribution strategy it does), and each must see what one device sees.
    epochs = tf.data.Dataset.range(sys.maxsize if repeat else 1)
    if shuffle:
        shard_files = tf.constant(files)
        dataset = epochs.flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(
            tf.random.experimental.stateless_shuffle(shard_files, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        ))
    else:
        dataset = epochs.flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(files))
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), INTERLEAVE_CYCLE),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=False)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    dataset = dataset.map(
        _example_parser(sequence_length), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return without_autotune_thread(dataset.prefetch(tf.data.AUTOTUNE))


def token_counts(
    file_pattern_or_dir: str | os.PathLike, vocabulary_size: int, exclude: Sequence[int] = ()
) -> np.ndarray:
    """How often each token id occurs in prepared examples (padding not counted).

    Args:
        file_pattern_or_dir: what `pretraining_dataset` reads.
        vocabulary_size: the length of the returned array.
        exclude: ids whose count is set to 0 (e.g. [CLS] and [SEP], which
            masking never chooses).

    Returns:
        int64 counts of shape (vocabulary_size,).
    """
    counts = np.zeros(vocabulary_size, np.int64)
    dataset = pretraining_dataset(file_pattern_or_dir, batch_size=1024, shuffle=False, repeat=False,
                                  drop_remainder=False)
    for batch in dataset:
        ids = batch["token_ids"].numpy()[batch["padding_mask"].numpy().astype(bool)]
        counts += np.bincount(ids, minlength=vocabulary_size)[:vocabulary_size]
    counts[list(exclude)] = 0
    return counts


def _find_shards(file_pattern_or_dir: str | os.PathLike) -> tuple[list[str], int | None]:
    """The shard files and the sequence length their metadata records (or None)."""
    given = os.fspath(file_pattern_or_dir)
    if os.path.isdir(given):
        metadata = load_metadata(given)
        files = [os.path.join(given, shard["file"]) for shard in metadata["shards"]]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise FileNotFoundError(
                f"{given}: shards listed in metadata.json are missing: {missing}"
            )
        return files, metadata["sequence_length"]
    files = sorted(glob.glob(given))
    if not files:
        raise FileNotFoundError(f"no pretraining shards match {given!r}")
    lengths = {
        load_metadata(folder)["sequence_length"]
        for folder in sorted({os.path.dirname(f) or "." for f in files})
        if os.path.isfile(os.path.join(folder, METADATA_FILE))
    }
    if len(lengths) > 1:
        raise ValueError(
            f"{given!r} matches shards of different sequence lengths {sorted(lengths)}"
        )
    return files, lengths.pop() if lengths else None


def _example_parser(sequence_length: int):
    features = {
        "token_ids": tf.io.FixedLenFeature([sequence_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([sequence_length], tf.int64),
        "length": tf.io.FixedLenFeature([], tf.int64),
    }

    @plain_python
    def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        example = tf.io.parse_example(serialized, features)
        positions = tf.range(sequence_length, dtype=tf.int64)
        padding_mask = positions[tf.newaxis, :] < example["length"][:, tf.newaxis]
        return {
            "token_ids": tf.cast(example["token_ids"], tf.int32),
            "segment_ids": tf.cast(example["segment_ids"], tf.int32),
            "padding_mask": tf.cast(padding_mask, tf.int32),
        }

    return parse
