"""Vocabulary building, example packing (the official ELECTRA rules) and the shard reader.

The text is real WikiText-2 (a few hundred lines) and the vocabulary the real
BERT-uncased one, both from the data packages. Every written example is
parsed back with `tf.train.Example`, independently of `pretraining_dataset`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from electra_keras.data import packages  # noqa: E402
from electra_keras.data import pretraining_data as pretraining_module  # noqa: E402
from electra_keras.data.corpus import read_documents  # noqa: E402
from electra_keras.data.pretraining_data import (  # noqa: E402
    load_metadata,
    prepare_pretraining_data,
    pretraining_dataset,
)
from electra_keras.data.tokenizer import (  # noqa: E402
    SPECIAL_TOKENS,
    WordPieceTokenizer,
    load_vocabulary,
)
from electra_keras.data.vocabulary import (  # noqa: E402
    build_wordpiece_vocabulary,
    vocabulary_sha256,
    write_vocabulary,
)

LENGTH = 64
CLS, SEP = 101, 102  # in the BERT-uncased vocab


def _wikitext_lines(split: str, count: int, skip: int = 0) -> str:
    with gzip.open(packages.wikitext2_file(split), "rt", encoding="utf-8") as f:
        return "".join(f.readlines()[skip : skip + count])


@pytest.fixture(scope="module")
def bert_vocab():
    return load_vocabulary(packages.bert_uncased_vocab())


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """~400 lines of WikiText-2 train in two files (one gzipped)."""
    folder = tmp_path_factory.mktemp("sample")
    (folder / "a.txt").write_text(_wikitext_lines("train", 200), encoding="utf-8")
    with gzip.open(folder / "b.txt.gz", "wt", encoding="utf-8") as f:
        f.write(_wikitext_lines("train", 200, skip=5000))
    return folder


@pytest.fixture(scope="module")
def prepared(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    return out, _prepare([sample], out, num_shards=1)


def _prepare(corpus, out, **kwargs):
    """prepare_pretraining_data with the test defaults: BERT vocab, LENGTH, in-process."""
    arguments = {"sequence_length": LENGTH, "workers": 1, "verbose": False, **kwargs}
    return prepare_pretraining_data(corpus, packages.bert_uncased_vocab(), out, **arguments)


def _examples(folder) -> list[dict[str, np.ndarray]]:
    """All examples in written order (round-robin over the shards)."""
    metadata = load_metadata(folder)
    shards = []
    for shard in metadata["shards"]:
        records = tf.data.TFRecordDataset(str(folder / shard["file"])).as_numpy_iterator()
        shards.append([tf.train.Example.FromString(record) for record in records])
    ordered = [shard[i] for i in range(max(map(len, shards))) for shard in shards if i < len(shard)]
    names = ("token_ids", "segment_ids", "length")
    return [
        {name: np.array(e.features.feature[name].int64_list.value) for name in names}
        for e in ordered
    ]


def _content(example) -> tuple[list[int], list[int]]:
    """Segments A and B of an example, without [CLS], [SEP] and padding."""
    ids = example["token_ids"][: example["length"][0]].tolist()
    seps = [i for i, t in enumerate(ids) if t == SEP]
    a = ids[1 : seps[0]]
    b = ids[seps[0] + 1 : seps[1]] if len(seps) == 2 else []
    return a, b


# -- vocabulary --------------------------------------------------------------------


def test_built_vocabulary_works_with_the_tokenizer(tmp_path):
    corpus = tmp_path / "train.txt"
    corpus.write_text(_wikitext_lines("train", 300), encoding="utf-8")
    tokens = build_wordpiece_vocabulary([corpus], vocabulary_size=600, verbose=False)
    assert tokens[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS) and tokens[0] == "[PAD]"
    assert len(set(tokens)) == len(tokens) and 300 < len(tokens) <= 600
    assert not any(t != t.lower() for t in tokens[len(SPECIAL_TOKENS) :])  # uncased
    assert any(t.startswith("##") and len(t) > 3 for t in tokens)  # learned suffix pieces

    tokenizer = WordPieceTokenizer(tokens)
    held_out = [s for d in read_documents([packages.wikitext2_file("valid")]) for s in d][:200]
    ids = tokenizer.tokenize(held_out)
    assert np.mean(ids.flat_values.numpy() == tokenizer.unk_token_id) < 0.005
    # Round trip: detokenized text equals the normalized input, up to spaces.
    texts = tokenizer.detokenize(ids).numpy()
    normalized = tokenizer.normalize(held_out).numpy()
    for text, expected, row in zip(texts, normalized, ids.to_list()):
        if tokenizer.unk_token_id not in row:
            assert b"".join(text.split()) == b"".join(expected.split())


def test_write_vocabulary_round_trip_and_hash(tmp_path):
    tokens = [*SPECIAL_TOKENS, "caf\u00e9", "##s", "!"]
    path = write_vocabulary(tokens, tmp_path / "sub" / "vocab.txt")
    assert load_vocabulary(path) == tokens
    assert vocabulary_sha256(tokens) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "tokens, message",
    [
        ([*SPECIAL_TOKENS, "a", "a"], "more than once"),
        ([*SPECIAL_TOKENS, "a\nb"], "line break"),
        (["[PAD]", "[UNK]", "a"], "lacks the special tokens"),
    ],
)
def test_write_vocabulary_rejects_bad_tokens(tmp_path, tokens, message):
    with pytest.raises(ValueError, match=message):
        write_vocabulary(tokens, tmp_path / "vocab.txt")


# -- the packing rules ------------------------------------------------------------


class _ScriptedRandom:
    """A stand-in for np.random.Generator that returns fixed draws."""

    def __init__(self, draws):
        self.draws = list(draws)

    def random(self):
        return self.draws.pop(0)

    def integers(self, low, high):
        return self.draws.pop(0)


def test_builder_follows_the_official_rules():
    sentences = [[7] * 30, [8] * 30, [9] * 30, [10] * 30, [11] * 30]
    # Draws per example: single segment? (0.5: no), then shorter target?
    # (0.9: no; then 0.01: yes, of length 20). The coin for A is not drawn:
    # A already reaches (64 - 3) // 2 = 30 tokens.
    rng = _ScriptedRandom([0.5, 0.9, 0.5, 0.01, 20])
    builder = pretraining_module._ExampleBuilder(64, rng)
    examples = list(builder.add_document(sentences))
    # Three sentences reach 90 >= 64. A takes the first (30 is not < (64-3)//2 = 30);
    # B takes the rest, cut to 64 - 30 - 3 = 31 tokens. The last two end the document.
    assert examples == [([7] * 30, [8] * 30 + [9]), ([10] * 30, [11] * 30)]
    assert builder.target_length == 20
    assert builder.counts == {
        "examples": 2, "tokens": 121, "truncated_tokens": 29,
        "single_segment_examples": 0, "short_target_examples": 0,
    }


def test_builder_single_segment_and_truncation():
    builder = pretraining_module._ExampleBuilder(16, _ScriptedRandom([0.05, 0.9]))
    # The 10% draw puts everything in A, which is cut to 16 - 2 tokens.
    assert list(builder.add_document([[1] * 10, [2] * 10])) == [([1] * 10 + [2] * 4, [])]
    assert builder.counts["truncated_tokens"] == 6
    assert builder.counts["single_segment_examples"] == 1


def test_builder_keeps_segments_contiguous():
    # The official loop would send the short third sentence back to A.
    builder = pretraining_module._ExampleBuilder(64, _ScriptedRandom([0.5, 0.9, 0.9]))
    assert list(builder.add_document([[1] * 25, [2] * 30, [3] * 2, [4] * 10])) == [
        ([1] * 25, [2] * 30 + [3] * 2 + [4] * 4)
    ]


# -- prepared examples ------------------------------------------------------------


def test_every_example_is_well_formed(prepared):
    out, stats = prepared
    examples = _examples(out)
    assert len(examples) == stats.examples > 100
    single = 0
    for example in examples:
        ids, segments, length = example["token_ids"], example["segment_ids"], example["length"][0]
        assert ids.shape == segments.shape == (LENGTH,) and 5 <= length <= LENGTH
        assert ids[0] == CLS and ids[length - 1] == SEP and CLS not in ids[1:]
        assert not ids[length:].any() and not segments[length:].any() and ids[:length].all()
        seps = np.flatnonzero(ids == SEP)
        assert len(seps) in (1, 2)
        # Segment 0 through the first [SEP], then segment 1 through the second.
        expected = np.zeros(LENGTH, int)
        if len(seps) == 2:
            expected[seps[0] + 1 : length] = 1
            assert seps[1] == length - 1 and seps[1] - seps[0] > 1
        else:
            single += 1
        np.testing.assert_array_equal(segments, expected)
    assert single == stats.single_segment_examples


def test_no_text_is_lost_except_the_counted_truncation(prepared, sample, bert_vocab):
    out, stats = prepared
    tokenizer = WordPieceTokenizer(bert_vocab)
    stream, sentence_starts = [], set()
    for document in read_documents(sorted(sample.iterdir())):
        for sentence in tokenizer.tokenize(document).to_list():
            sentence_starts.add(len(stream))
            stream += sentence
    position = skipped = 0
    previous_length = None
    for example in _examples(out):
        a, b = _content(example)
        # The next example starts at a sentence boundary at or after the last one's end...
        start = next(i for i in range(position, len(stream)) if stream[i : i + len(a)] == a)
        assert start in sentence_starts
        # ...and only a full (cut) example leaves tokens behind.
        assert start == position or previous_length == LENGTH
        skipped += start - position
        assert stream[start : start + len(a) + len(b)] == a + b
        if b:
            assert start + len(a) in sentence_starts
        position = start + len(a) + len(b)
        previous_length = example["length"][0]
    skipped += len(stream) - position
    assert skipped == stats.truncated_tokens > 0
    assert stats.tokens + stats.truncated_tokens == len(stream)


def test_single_segment_and_shorter_target_rates():
    # One long document of ~10-token sentences: without the random draws every
    # example would be exactly LENGTH long and have two segments.
    rng = np.random.default_rng(0)
    sentences = [list(rng.integers(1000, 2000, size=rng.integers(8, 13))) for _ in range(15000)]
    builder = pretraining_module._ExampleBuilder(LENGTH, np.random.default_rng([0, 0]))
    examples = list(builder.add_document(sentences))
    lengths = np.array([len(a) + len(b) + (3 if b else 2) for a, b in examples])
    assert len(examples) > 2000
    assert 0.07 < np.mean([not b for _, b in examples]) < 0.14
    # A shorter target gives a shorter example, unless it was drawn close to LENGTH.
    assert 0.025 < np.mean(lengths < LENGTH) < 0.07
    assert 0.035 < builder.counts["short_target_examples"] / len(examples) < 0.07


def test_sentence_pairs_for_sentence_order_prediction():
    """sentence_pairs (ALBERT): every example of two or more sentences is a
    pair, a long A no longer truncates B away, and the rest are counted."""
    rng = np.random.default_rng(1)
    # Sentences of 8-60 tokens: many longer than half an example.
    sentences = [list(rng.integers(1000, 2000, size=rng.integers(8, 61))) for _ in range(3000)]
    electra = pretraining_module._ExampleBuilder(LENGTH, np.random.default_rng([0, 0]))
    albert = pretraining_module._ExampleBuilder(LENGTH, np.random.default_rng([0, 0]), sentence_pairs=True)
    electra_examples = list(electra.add_document(sentences))
    examples = list(albert.add_document(sentences))
    assert sum(not b for _, b in electra_examples) / len(electra_examples) > 0.15
    single = sum(not b for _, b in examples)
    assert single == albert.counts["single_segment_examples"] <= 1  # at most the document's last
    for a, b in examples:
        assert len(a) + len(b) + 3 <= LENGTH
    assert albert.counts["tokens"] + albert.counts["truncated_tokens"] == sum(map(len, sentences))
    # Longest first: a 100-token A and a 10-token B keep all of B.
    lonely = pretraining_module._ExampleBuilder(32, np.random.default_rng([0, 0]), sentence_pairs=True)
    [(a, b)] = list(lonely.add_document([list(range(100, 200)), list(range(300, 310))]))
    assert (a, b) == (list(range(100, 119)), list(range(300, 310)))
    # A document of one sentence is one segment, counted.
    assert list(lonely.add_document([list(range(100, 140))])) == [(list(range(100, 130)), [])]
    assert lonely.counts["single_segment_examples"] == 1


def test_metadata_describes_the_shards(prepared, bert_vocab):
    out, stats = prepared
    assert stats.workers == 1  # a small corpus is not worth starting processes
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["sequence_length"] == LENGTH and metadata["lowercase"] is True
    file_hash = hashlib.sha256(packages.bert_uncased_vocab().read_bytes()).hexdigest()
    assert metadata["vocabulary"] == {"size": len(bert_vocab), "sha256": file_hash}
    assert vocabulary_sha256(bert_vocab) == file_hash
    assert metadata["counts"]["examples"] == stats.examples
    assert stats.examples == sum(shard["examples"] for shard in metadata["shards"])
    assert metadata["corpus"]["documents"] == stats.corpus.documents
    assert metadata["corpus"]["files"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["examples-00000.tfrecord", "metadata.json"]


def test_workers_do_not_change_the_examples(prepared, sample, tmp_path, monkeypatch):
    out, stats = prepared
    # Small chunks so that two workers really split the work, and no minimum
    # corpus size for a second worker.
    monkeypatch.setattr(pretraining_module, "CHUNK_CHARACTERS", 20_000)
    monkeypatch.setattr(pretraining_module, "TEXT_BYTES_PER_WORKER", 1)
    one = _prepare([sample], tmp_path / "one", num_shards=3)
    two = _prepare([sample], tmp_path / "two", num_shards=3, workers=2)
    assert (one.workers, two.workers) == (1, 2)
    for name in ("one", "two"):
        assert len(load_metadata(tmp_path / name)["shards"]) == 3
    for shard in load_metadata(tmp_path / "one")["shards"]:
        written = [(tmp_path / name / shard["file"]).read_bytes() for name in ("one", "two")]
        assert written[0] == written[1]
    assert one.summary().split(" in ")[:2] == two.summary().split(" in ")[:2]
    # Chunking restarts the builder's randomness per chunk: other examples, same text.
    assert one.tokens + one.truncated_tokens == stats.tokens + stats.truncated_tokens


def test_same_seed_same_examples_other_seed_other_examples(sample, tmp_path, prepared):
    out, _ = prepared
    shard = "examples-00000.tfrecord"
    _prepare([sample], tmp_path, num_shards=1)
    assert (tmp_path / shard).read_bytes() == (out / shard).read_bytes()
    _prepare([sample], tmp_path, num_shards=1, seed=1)
    assert (tmp_path / shard).read_bytes() != (out / shard).read_bytes()


def test_shard_count_is_sized_to_the_corpus(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(pretraining_module, "SHARD_TARGET_BYTES", 40_000)
    stats = _prepare([sample], tmp_path)
    # ~70 KB of text plus ~45 KB gzipped (x3) -> 5 shards of ~40 KB.
    text_bytes = (sample / "a.txt").stat().st_size + 3 * (sample / "b.txt.gz").stat().st_size
    assert len(stats.shards) == -(-text_bytes // 40_000)
    # Rewriting the folder with fewer shards leaves no stale shard behind.
    _prepare([sample], tmp_path, num_shards=2)
    assert len(list(tmp_path.glob("*.tfrecord"))) == 2


def test_no_usable_text_fails_and_leaves_no_shards(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="no usable text.*empty.txt"):
        _prepare([tmp_path / "empty.txt"], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sequence_length": 4}, "sequence_length"),
        ({"workers": 0}, "workers must be an int >= 1"),
        ({"num_shards": 0}, "num_shards"),
        ({"vocabulary": ["a", "b"]}, r"\[PAD\]|special"),
    ],
)
def test_bad_arguments(tmp_path, bert_vocab, kwargs, message):
    arguments = {"corpus": [tmp_path], "vocabulary": bert_vocab, "out_dir": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=message):
        prepare_pretraining_data(**arguments, verbose=False)


# -- reading ---------------------------------------------------------------------


def _batches(dataset, count):
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset.take(count)]


def test_reader_yields_int32_model_inputs(prepared):
    out, _ = prepared
    dataset = pretraining_dataset(out, batch_size=8)
    assert dataset.options().autotune.enabled is False  # see electra_keras/data/pipeline.py
    batch = _batches(dataset, 1)[0]
    assert sorted(batch) == ["padding_mask", "segment_ids", "token_ids"]
    for value in batch.values():
        assert value.dtype == np.int32 and value.shape == (8, LENGTH)
    # [PAD] is id 0 and no real token is.
    np.testing.assert_array_equal(batch["padding_mask"], (batch["token_ids"] != 0).astype(np.int32))
    assert (batch["token_ids"][:, 0] == CLS).all()


def test_one_unshuffled_epoch_is_the_written_examples(prepared):
    out, stats = prepared
    read = pretraining_dataset(out, 32, shuffle=False, repeat=False, drop_remainder=False)
    token_ids = np.concatenate([b["token_ids"] for b in _batches(read, -1)])
    written = np.stack([e["token_ids"] for e in _examples(out)]).astype(np.int32)
    np.testing.assert_array_equal(token_ids, written)
    shuffled = pretraining_dataset(out, 32, repeat=False, drop_remainder=False, seed=3)
    shuffled_ids = np.concatenate([b["token_ids"] for b in _batches(shuffled, -1)])
    assert not np.array_equal(shuffled_ids, written)
    assert sorted(map(bytes, shuffled_ids)) == sorted(map(bytes, written))


def test_reader_order_is_fixed_by_the_seed_and_resumable(sample, tmp_path):
    # Three shards exercise the shard shuffle and the interleave.
    out = tmp_path
    stats = _prepare([sample], out, num_shards=3)
    batches_per_epoch = stats.examples // 16
    count = batches_per_epoch + 5  # crosses an epoch boundary

    def read(seed, count, skip=0):
        dataset = pretraining_dataset(
            out, 16, seed=seed, skip_batches=skip, shuffle_buffer_size=100
        )
        return _batches(dataset, count)

    first, again, other = read(7, count), read(7, count), read(8, 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["token_ids"], b["token_ids"])
    assert not np.array_equal(first[0]["token_ids"], other[0]["token_ids"])
    for skip in (1, batches_per_epoch + 2):
        resumed = read(7, 3, skip)
        for a, b in zip(first[skip:], resumed):
            for name in a:
                np.testing.assert_array_equal(a[name], b[name])


def test_reader_accepts_a_glob_and_checks_the_sequence_length(prepared):
    out, _ = prepared
    pattern = str(out / "examples-*.tfrecord")
    assert _batches(pretraining_dataset(pattern, 4), 1)[0]["token_ids"].shape == (4, LENGTH)
    with pytest.raises(ValueError, match=re.escape(pattern) + f".*sequence_length {LENGTH}.*=128"):
        pretraining_dataset(pattern, 4, sequence_length=128)
    with pytest.raises(ValueError, match="sequence_length 64"):
        pretraining_dataset(out, 4, sequence_length=128)


def test_reader_errors_name_the_pattern(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        pretraining_dataset(str(tmp_path / "nothing-here*.tfrecord"), 4)
    with pytest.raises(FileNotFoundError, match="metadata"):
        pretraining_dataset(tmp_path, 4)
    with pytest.raises(ValueError, match="batch_size"):
        pretraining_dataset(tmp_path, 0)
