"""ALBERT's objective: sentence-order swaps, n-gram masking, MLM + SOP loss."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from electra_keras.pretraining.albert import random_next_segments, swap_segments
from electra_keras.pretraining.masking import MaskingConfig, mask_batch, ngram_spans

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL = (PAD, UNK, CLS, SEP, MASK)
VOCAB = 80


def pairs(batch=32, length=48, seed=0, single_rows=()):
    """[CLS] A [SEP] B [SEP] + padding with different lengths; `single_rows` have no B."""
    rng = np.random.RandomState(seed)
    token_ids = np.zeros((batch, length), "int32")
    segment_ids = np.zeros_like(token_ids)
    for row in range(batch):
        real = rng.randint(12, length + 1)
        token_ids[row, :real] = rng.randint(5, VOCAB, size=real)
        token_ids[row, 0], token_ids[row, real - 1] = CLS, SEP
        if row not in single_rows:
            split = rng.randint(2, real - 2)  # A and B each at least one token
            token_ids[row, split] = SEP
            segment_ids[row, split + 1 : real] = 1
    padding_mask = (token_ids != PAD).astype("int32")
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def segments(token_ids, segment_ids, padding_mask):
    """(A, B) token lists of one row, without [CLS]/[SEP]."""
    real = padding_mask.astype(bool)
    a = token_ids[real & (segment_ids == 0)][1:-1]
    b = token_ids[real & (segment_ids == 1)][:-1]
    return list(a), list(b)


def test_swapped_rows_read_b_then_a_and_are_labelled_1():
    batch = pairs(single_rows=(3, 7))
    out = {k: np.asarray(v) for k, v in swap_segments(batch, seed=[1, 2]).items()}
    labels = out["sop_labels"]
    assert 8 < labels.sum() < 24  # about half of 30 swappable rows
    np.testing.assert_array_equal(out["sop_weights"], [0.0 if r in (3, 7) else 1.0 for r in range(32)])
    for row in range(32):
        a, b = segments(batch["token_ids"][row], batch["segment_ids"][row], batch["padding_mask"][row])
        new_a, new_b = segments(out["token_ids"][row], out["segment_ids"][row], batch["padding_mask"][row])
        assert out["token_ids"][row, 0] == CLS
        # Special tokens stay where a [CLS] X [SEP] Y [SEP] layout needs them.
        assert (out["token_ids"][row][batch["padding_mask"][row] == 0] == PAD).all()
        if labels[row]:
            assert (new_a, new_b) == (b, a)
            assert out["token_ids"][row, len(b) + 1] == SEP
        else:
            np.testing.assert_array_equal(out["token_ids"][row], batch["token_ids"][row])
            np.testing.assert_array_equal(out["segment_ids"][row], batch["segment_ids"][row])
    assert labels[3] == 0 and labels[7] == 0  # nothing to swap


def test_swapping_twice_restores_every_row():
    batch = pairs(seed=3)
    once = swap_segments(batch, rate=1.0)
    twice = swap_segments({**batch, "token_ids": once["token_ids"], "segment_ids": once["segment_ids"]}, rate=1.0)
    np.testing.assert_array_equal(twice["token_ids"], batch["token_ids"])
    np.testing.assert_array_equal(twice["segment_ids"], batch["segment_ids"])


def test_swaps_are_fresh_per_draw_and_fixed_per_seed():
    batch = pairs()
    unseeded = [np.asarray(swap_segments(batch)["sop_labels"]) for _ in range(2)]
    assert not np.array_equal(*unseeded)
    seeded = [np.asarray(swap_segments(batch, seed=[5, 6])["sop_labels"]) for _ in range(2)]
    np.testing.assert_array_equal(*seeded)


def albert_masking(**kwargs):
    return MaskingConfig.albert(mask_token_id=MASK, special_token_ids=SPECIAL, vocab_size=VOCAB, **kwargs)


def test_span_lengths_follow_one_over_n():
    candidates = np.ones((64, 128), bool)
    lengths = collections.Counter()
    for draw in range(10):
        spans = np.asarray(ngram_spans(candidates, albert_masking(), seed=[draw, 0]))
        for row in spans:
            counts = collections.Counter(row.tolist())
            del counts[row[-1]]  # the last span of a row can be cut short
            lengths.update(counts.values())
    total = sum(lengths.values())
    assert set(lengths) == {1, 2, 3}
    for n, expected in zip((1, 2, 3), (6 / 11, 3 / 11, 2 / 11)):
        assert lengths[n] / total == pytest.approx(expected, abs=0.01)


def test_ngram_masking_takes_whole_spans_within_budget():
    batch = pairs(batch=64, length=64, seed=4)
    config = albert_masking()
    real = batch["padding_mask"].sum(1)
    slots = config.num_predictions(64)
    kinds = collections.Counter()
    adjacent = 0
    for draw in range(40):
        seed = tf.constant([draw, 7], tf.int64)
        out = {k: np.asarray(v) for k, v in mask_batch(batch, config, seed=seed).items()}
        span_seed = tf.random.experimental.stateless_split(seed, 4)[0]
        candidates = (batch["padding_mask"] > 0) & ~np.isin(batch["token_ids"], SPECIAL)
        spans = np.asarray(ngram_spans(candidates, config, seed=span_seed))
        valid = out["masked_weights"] > 0
        # The budget is met exactly: round(15% of the real tokens), >= 1, <= slots.
        np.testing.assert_array_equal(valid.sum(1), np.clip(np.round(real * 0.15), 1, slots))
        for row in range(64):
            positions = out["masked_positions"][row][valid[row]]
            assert len(set(positions)) == len(positions)
            assert candidates[row, positions].all()  # never [CLS]/[SEP]/padding
            np.testing.assert_array_equal(out["masked_ids"][row][valid[row]], batch["token_ids"][row, positions])
            # Every chosen span is taken whole, except the last one, which may keep a prefix.
            chosen = collections.Counter(spans[row, positions].tolist())
            partial = [s for s, n in chosen.items() if n != (spans[row] == s).sum()]
            assert len(partial) <= 1
            if partial:
                last = spans[row, positions[-1]]
                assert partial == [last]
            adjacent += int(np.isin(positions + 1, positions).sum())
            now = out["masked_token_ids"][row, positions]
            kinds["mask"] += int((now == MASK).sum())
            kinds["unchanged"] += int((now == batch["token_ids"][row, positions]).sum())
    chosen_total = 40 * int(np.clip(np.round(real * 0.15), 1, slots).sum())
    # 80% [MASK], 10% unchanged, 10% random (a random token equal to the original counts as unchanged).
    assert kinds["mask"] / chosen_total == pytest.approx(0.8, abs=0.02)
    assert kinds["unchanged"] / chosen_total == pytest.approx(0.1 + 0.1 / VOCAB, abs=0.02)
    # Spans make neighbours: about half the chosen tokens have a chosen right neighbour,
    # against ~15% when tokens are drawn independently.
    assert adjacent / chosen_total > 0.35


def official_is_start_piece(piece: str) -> bool:
    """google-research/albert create_pretraining_data.py `_is_start_piece`, transcribed."""
    special_pieces = set(list('!"#$%&\"()*+,-./:;?@[\\]^_`{|}~'))
    return piece.startswith("\u2581") or piece.startswith("<") or piece in special_pieces


def test_continuation_pieces_follow_the_official_word_rule(tmp_path):
    from electra_keras.data.sentencepiece import SentencePieceTokenizer, train_sentencepiece
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.pretraining.masking import continuation_pieces

    words = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "##s", ",", "#"])
    assert continuation_pieces(words) == (6, 7)  # "##..." continues a word; "#" and "," start one
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"The players played {i} games, winning {i % 3} of them!" for i in range(300)))
    pieces = SentencePieceTokenizer(train_sentencepiece([str(corpus)], tmp_path / "sp.model", vocabulary_size=80))
    expected = tuple(i for i, piece in enumerate(pieces.vocabulary) if not official_is_start_piece(piece))
    assert continuation_pieces(pieces) == expected and 0 < len(expected) < 80


def three_piece_words(batch=32, words=20, seed=0):
    """[CLS] + `words` words of 3 pieces (a start id, then two "##" ids) + [SEP]."""
    rng = np.random.RandomState(seed)
    starts = rng.randint(5, 40, size=(batch, words))
    rows = np.concatenate([starts[..., None], rng.randint(40, VOCAB, size=(batch, words, 2))], -1)
    token_ids = np.concatenate([np.full((batch, 1), CLS), rows.reshape(batch, -1), np.full((batch, 1), SEP)], 1)
    return {"token_ids": token_ids.astype("int32"), "segment_ids": np.zeros_like(token_ids, "int32"),
            "padding_mask": np.ones_like(token_ids, "int32")}


@pytest.mark.parametrize("max_ngram", [1, 3])
def test_whole_word_masking_takes_words_whole(max_ngram):
    batch = three_piece_words()
    whole = albert_masking(max_ngram=max_ngram, continuation_ids=tuple(range(40, VOCAB)))
    pieces = albert_masking(max_ngram=max_ngram)
    cut = {"whole words": 0, "word pieces": 0}
    for draw in range(10):
        for name, config in (("whole words", whole), ("word pieces", pieces)):
            out = {k: np.asarray(v) for k, v in mask_batch(batch, config, seed=[draw, 3]).items()}
            valid = out["masked_weights"] > 0
            np.testing.assert_array_equal(valid.sum(1), np.round(62 * 0.15))  # the budget, as before
            for row in range(32):
                words = collections.Counter((out["masked_positions"][row][valid[row]] - 1) // 3)
                partial = [word for word, count in words.items() if count != 3]
                if name == "whole words":
                    # Only the span crossing the budget may keep a prefix of its last word.
                    assert len(partial) <= 1
                    if partial:
                        chosen = set(out["masked_positions"][row][valid[row]])
                        assert 1 + 3 * partial[0] in chosen  # a prefix: the word's first piece
                cut[name] += len(partial)
    assert cut["word pieces"] > 5 * max(cut["whole words"], 1)


def test_albert_runs_mask_whole_words_by_default(tmp_path):
    from electra_keras.pretraining import AlbertPretrainer
    from electra_keras.training.pretrain import PretrainingOptions

    assert PretrainingOptions(out="x", objective="albert").whole_word_masking is True
    assert PretrainingOptions(out="x", objective="electra").whole_word_masking is False
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "##s"]
    model = AlbertPretrainer.from_preset("tiny", vocabulary=vocabulary, family="albert", generator_size=None,
                                         share="all", pooler=True, whole_word_masking=True)
    assert model.masking.continuation_ids == (6, 7)
    restored = AlbertPretrainer.from_config(model.get_config())
    assert restored.masking == model.masking
    with pytest.raises(ValueError, match="continued pretraining \\(init\\) masks word pieces"):
        PretrainingOptions(out="x", init="y", whole_word_masking=True)


def test_next_sentence_negatives_take_the_next_rows_b_cut_to_fit():
    """BERT's NSP: a replaced row reads [CLS] own A [SEP] neighbour's B (cut to the room left) [SEP]."""
    batch = pairs(single_rows=(3, 7), seed=4)
    out = {k: np.asarray(v) for k, v in random_next_segments(batch, seed=[2, 9]).items()}
    labels, size, length = out["nsp_labels"], 32, 48
    assert 8 < labels.sum() < 24
    np.testing.assert_array_equal(out["nsp_weights"], [0.0 if r in (3, 7) else 1.0 for r in range(size)])
    cut = 0
    for row in range(size):
        a, b = segments(batch["token_ids"][row], batch["segment_ids"][row], batch["padding_mask"][row])
        if not labels[row]:
            for key in ("token_ids", "segment_ids", "padding_mask"):
                np.testing.assert_array_equal(out[key][row], batch[key][row])
            continue
        partner = (row + 1) % size
        _, partner_b = segments(batch["token_ids"][partner], batch["segment_ids"][partner],
                                batch["padding_mask"][partner])
        new_b = partner_b[: length - len(a) - 3]
        cut += len(new_b) < len(partner_b)
        expected = [CLS, *a, SEP, *new_b, SEP]
        expected += [PAD] * (length - len(expected))
        np.testing.assert_array_equal(out["token_ids"][row], expected)
        real = len(a) + len(new_b) + 3
        np.testing.assert_array_equal(out["padding_mask"][row], [1] * real + [0] * (length - real))
        np.testing.assert_array_equal(out["segment_ids"][row],
                                      [0] * (len(a) + 2) + [1] * (len(new_b) + 1) + [0] * (length - real))
    assert labels[3] == 0 and labels[7] == 0 and labels[2] == 0 and labels[6] == 0  # no B to take
    assert cut > 0  # some neighbours' B had to be shortened


def test_sentence_tasks_of_the_albert_objective():
    """The loss is MLM + the sentence task's cross-entropy ("none": MLM alone)."""
    import electra_keras as ek

    config = ek.ModelConfig.from_preset("tiny", family="albert", vocab_size=VOCAB, generator_size=None,
                                        share="all", pooler=True)
    masking = MaskingConfig.albert(mask_token_id=MASK, special_token_ids=SPECIAL, vocab_size=VOCAB)
    losses = {}
    for task in ("sop", "nsp", "none"):
        model = ek.AlbertPretrainer(config, masking=masking, sentence_task=task)
        batch = model.mask(pairs(seed=5), seed=[4, 4])
        loss, values = model.objective(batch, training=False)

        def mean(entry):
            value, weight = (np.asarray(t, "float64") for t in entry)
            return (value * weight).sum() / weight.sum()

        expected = mean(values["mlm_loss"]) + (mean(values[f"{task}_loss"]) if task != "none" else 0.0)
        np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
        if task != "none":
            np.testing.assert_array_equal(np.asarray(values[f"{task}_loss"][1]), batch[f"{task}_weights"])
        losses[task] = set(values)
    assert losses["nsp"] >= {"nsp_loss", "nsp_accuracy"} and "sop_loss" not in losses["nsp"]
    assert losses["none"] == {"mlm_loss", "mlm_accuracy"}
    with pytest.raises(ValueError, match="sentence_task='order'"):
        ek.AlbertPretrainer(config, masking=masking, sentence_task="order")


def test_sentence_order_head_is_the_official_one_without_dropout():
    """google-research/albert get_sentence_order_output: logits = pooled @ W^T + b, no dropout,
    also in training."""
    import keras

    from electra_keras.pretraining import AlbertPretrainer

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(30)]
    model = AlbertPretrainer.from_preset("tiny", vocabulary=vocabulary, family="albert", generator_size=None,
                                         share="all", pooler=True, classifier_dropout_rate=0.5)
    pooled = keras.random.normal((16, 32), seed=0)
    kernel, bias = (w.numpy() for w in model.sop_head.classifier.weights)
    official = pooled.numpy() @ kernel + bias
    for training in (False, True):
        np.testing.assert_allclose(model.sop_head(pooled, training=training).numpy(), official, atol=1e-5)
