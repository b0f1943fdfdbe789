"""Corpus reading: paths, documents and sentences, bad input, the pinned default corpus."""

from __future__ import annotations

import gzip
import shutil

import pytest

from electra_keras.data import corpus as corpus_module
from electra_keras.data import packages
from electra_keras.data.corpus import (
    MAX_LINE_BYTES,
    WIKITEXT2_SHA256,
    CorpusStats,
    read_documents,
    resolve_corpus,
    sha256_of,
    split_sentences,
)


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def _read(files, headings="auto"):
    stats = CorpusStats()
    return list(read_documents(files, stats, headings)), stats


# -- resolving paths -------------------------------------------------------------


def test_folder_is_recursive_sorted_and_text_only(tmp_path):
    a = _write(tmp_path / "b" / "a.txt", "x\n")
    b = _write(tmp_path / "a" / "z.txt.gz", "x\n")
    c = _write(tmp_path / "a" / "wiki_00", "x\n")
    d = _write(tmp_path / "a" / "notes.raw", "x\n")
    _write(tmp_path / "a" / "image.png", b"\x89PNG")
    _write(tmp_path / "a" / "weights.bin.gz", b"\x00")
    _write(tmp_path / ".cache" / "hidden.txt", "x\n")
    assert resolve_corpus([tmp_path]) == [d, c, b, a]


def test_globs_files_and_duplicates(tmp_path):
    a = _write(tmp_path / "a.txt", "x\n")
    b = _write(tmp_path / "b.txt", "x\n")
    data = _write(tmp_path / "c.data", "x\n")
    # An explicit file counts whatever its suffix; a file named twice counts once.
    assert resolve_corpus([str(tmp_path / "*.txt"), data, a]) == [a, b, data]
    assert resolve_corpus(str(b)) == [b]


@pytest.mark.parametrize("name", ["missing.txt", "nothing-*.txt"])
def test_a_path_that_matches_nothing_is_named(tmp_path, name):
    _write(tmp_path / "a.txt", "x\n")
    with pytest.raises(FileNotFoundError, match=name.replace("*", r"\*")):
        resolve_corpus([tmp_path / "a.txt", str(tmp_path / name)])


def test_a_folder_without_text_files_is_named(tmp_path):
    _write(tmp_path / "only.png", b"\x89PNG")
    with pytest.raises(FileNotFoundError, match="matches no text file"):
        resolve_corpus([tmp_path])


# -- the default corpus -------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, []])
def test_default_corpus_is_wikitext2_train(empty):
    assert resolve_corpus(empty) == [packages.wikitext2_file("train")]


def test_pinned_hashes_match_the_shipped_files():
    for split, digest in WIKITEXT2_SHA256.items():
        assert sha256_of(packages.wikitext2_file(split)) == digest


def test_a_tampered_default_corpus_fails(tmp_path, monkeypatch):
    tampered = tmp_path / "train.raw.gz"
    shutil.copy(packages.wikitext2_file("train"), tampered)
    with open(tampered, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    monkeypatch.setattr(packages, "wikitext2_file", lambda split="train": tampered)
    pinned = WIKITEXT2_SHA256["train"]
    with pytest.raises(ValueError, match=f"SHA-256 .* differs from the pinned {pinned}"):
        resolve_corpus(None)


def test_default_corpus_reads_as_wikitext_sections():
    documents, stats = _read(resolve_corpus(None))
    assert stats.files == 1 and stats.headings > 6000 and stats.documents == len(documents)
    assert stats.sentences > 2 * stats.lines  # paragraphs were split into sentences
    assert documents[0][0].startswith("Senjō no Valkyria 3")
    assert not any(s.startswith("= ") for d in documents for s in d)


# -- documents and sentences ---------------------------------------------------


def test_blank_lines_headings_and_files_separate_documents(tmp_path):
    first = _write(
        tmp_path / "1.txt",
        " = Title = \n \n First line. Second sentence!\n Next line ?\n\n\n"
        " = = Section = = \n Other document.\n",
    )
    second = _write(tmp_path / "2.txt.gz", "Still one.\nSame document.\r\n   \nLast.")
    documents, stats = _read([first, second], headings="drop")
    assert documents == [
        ["First line.", "Second sentence!", "Next line ?"],
        ["Other document."],
        ["Still one.", "Same document."],
        ["Last."],
    ]
    counts = (stats.files, stats.documents, stats.lines, stats.sentences, stats.headings)
    assert counts == (2, 4, 6, 7, 2)
    assert stats.bytes_read == first.stat().st_size + second.stat().st_size


@pytest.mark.parametrize(
    "line, sentences",
    [
        # WikiText: detached punctuation, @.@ decimals, abbreviations, initials.
        (
            "It cost 3 @.@ 5 million . The St. Louis team , led by Mr. Smith and J. R. Tolkien"
            " , won .",
            [
                "It cost 3 @.@ 5 million .",
                "The St. Louis team , led by Mr. Smith and J. R. Tolkien , won .",
            ],
        ),
        (
            "The U.S. Army left. In 1990 it returned.",
            ["The U.S. Army left.", "In 1990 it returned."],
        ),
        (
            'He said "Stop." Then he left. No. 5 won.',
            ['He said "Stop."', "Then he left.", "No. 5 won."],
        ),
        (
            "Is it? (Yes.) \u201cMaybe!\u201d Done",
            ["Is it?", "(Yes.)", "\u201cMaybe!\u201d", "Done"],
        ),
        (
            "e.g. lower case after a period. does not split",
            ["e.g. lower case after a period. does not split"],
        ),
        ("No end mark", ["No end mark"]),
        ("   ", []),
    ],
)
def test_split_sentences(line, sentences):
    assert split_sentences(line) == sentences


def test_split_sentences_loses_no_text():
    line = "One two. Three four! Five six? (Seven) eight. 9 ten. \u00c9t\u00e9 fini."
    assert " ".join(split_sentences(line)) == line
    assert len(split_sentences(line)) == 6


# -- bad input -------------------------------------------------------------------


def test_invalid_utf8_is_repaired_and_counted(tmp_path):
    path = _write(tmp_path / "bad.txt", b"Good line.\nCaf\xe9 au lait \xff\xfe here.\nAlso good.\n")
    documents, stats = _read([path])
    assert documents == [["Good line.", "Caf\ufffd au lait \ufffd\ufffd here.", "Also good."]]
    assert stats.repaired_lines == 1 and "replaced invalid UTF-8 in 1 line" in stats.summary()


def test_empty_files_are_skipped_and_counted(tmp_path):
    empty = _write(tmp_path / "empty.txt", b"")
    blank = _write(tmp_path / "blank.txt.gz", "\n   \n\t\n")
    text = _write(tmp_path / "text.txt", "Text.\n")
    documents, stats = _read([empty, text, blank])
    assert documents == [["Text."]]
    assert stats.empty_files == [str(empty), str(blank)] and stats.files == 3
    assert "skipped 2 empty files" in stats.summary()


@pytest.mark.parametrize(
    "junk",
    [
        b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 8,  # NUL bytes
        bytes(range(1, 32)) * 40,  # control characters, no NUL
        bytes(range(128, 256)) * 8,  # not UTF-8 at all
    ],
)
def test_binary_files_are_skipped_counted_and_named(tmp_path, junk):
    binary = _write(tmp_path / "junk.txt", junk + b"\nA line.\n")
    text = _write(tmp_path / "text.txt", "Text.\n")
    with pytest.warns(UserWarning, match="junk.txt: binary content, skipped"):
        documents, stats = _read([binary, text])
    assert documents == [["Text."]]
    assert stats.binary_files == [str(binary)] and stats.empty_files == []
    assert "1 binary file" in stats.summary()


def test_text_with_a_multibyte_character_at_the_sniff_boundary_is_not_binary(tmp_path):
    path = _write(tmp_path / "greek.txt", ("\u03b1\u03b2\u03b3 " * 400 + "\n").encode())
    documents, stats = _read([path])
    assert stats.binary_files == [] and len(documents) == 1


def test_headings_are_dropped_in_wikitext_files_only(tmp_path):
    text = " = Title = \n\nBody = text = here.\n = = Section = = \nMore.\n"
    notes = _write(tmp_path / "notes.txt", text)
    wikitext = _write(tmp_path / "wiki.train.raw", text)
    shipped_layout = _write(tmp_path / "wikitext-2" / "train.raw.gz", text)
    documents, stats = _read([notes])
    assert documents == [["= Title ="], ["Body = text = here.", "= = Section = =", "More."]]
    assert stats.headings == 0
    for path in (wikitext, shipped_layout):
        documents, stats = _read([path])
        assert documents == [["Body = text = here."], ["More."]] and stats.headings == 2
    assert _read([wikitext], headings="keep")[0] == _read([notes])[0]
    with pytest.raises(ValueError, match="headings='wiki': expected one of"):
        _read([notes], headings="wiki")


def test_long_lines_are_split_at_sentence_ends_and_nothing_is_lost(tmp_path):
    # A 1.5 MB book on one line (no newline), then a line after it.
    sentences = [f"Sentence number {i} ends here." for i in range(54_000)]
    book = " ".join(sentences)
    assert len(book) > 1.5 * MAX_LINE_BYTES
    path = _write(tmp_path / "book.txt.gz", f"Before.\n{book}\nAfter.\n{book}")
    documents, stats = _read([path])
    # One document (cut into MAX_DOCUMENT_SENTENCES pieces as any long one): every sentence, whole, in order.
    assert [s for document in documents for s in document] == ["Before."] + sentences + ["After."] + sentences
    assert stats.split_lines == 2 and stats.blob_bytes == 0
    assert f"split 2 lines over {MAX_LINE_BYTES:,} bytes" in stats.summary()


def test_a_long_line_without_sentence_ends_is_cut_at_spaces(tmp_path):
    words = "word " * (MAX_LINE_BYTES // 5 + 100)
    documents, stats = _read([_write(tmp_path / "words.txt", words)])
    assert " ".join(documents[0]).split() == words.split()
    assert len(documents[0]) == 2 and stats.split_lines == 1


def test_blobs_without_whitespace_are_dropped_and_counted(tmp_path):
    blob = "x" * (MAX_LINE_BYTES + 10)
    path = _write(tmp_path / "blob.txt", f"Before {blob} after.\nNext.\n")
    documents, stats = _read([path])
    # The text around the blob is not contiguous: two documents.
    assert documents == [["Before"], ["after.", "Next."]]
    assert stats.blob_bytes == len(blob) and "skipped 1,048,586 bytes without whitespace" in stats.summary()


def test_a_truncated_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress(("A sentence here.\n" * 20000).encode())
    path = _write(tmp_path / "cut.txt.gz", b"")
    path.write_bytes(data[: len(data) // 2])
    text = _write(tmp_path / "text.txt", "Text.\n")
    with pytest.warns(UserWarning, match="cut.txt.gz: unreadable after"):
        documents, stats = _read([path, text])
    assert 0 < len(documents[0]) < 20000 and documents[-1] == ["Text."]
    assert stats.unreadable_files == [str(path)] and stats.empty_files == []


def test_every_bad_input_together_is_not_fatal(tmp_path):
    files = [
        _write(tmp_path / "a_empty.txt", b""),
        _write(tmp_path / "b_junk.txt", b"\x00\x01\x02" * 100),
        _write(tmp_path / "c_bad.txt", b"Caf\xe9.\n"),
        _write(tmp_path / "d_huge.txt", b"x" * (MAX_LINE_BYTES + 1) + b"\nOK.\n"),
        _write(tmp_path / "e.txt", "Fine.\n"),
    ]
    with pytest.warns(UserWarning):
        documents, stats = _read(resolve_corpus([tmp_path]))
    assert documents == [["Caf\ufffd."], ["OK."], ["Fine."]]
    assert len(stats.empty_files) == len(stats.binary_files) == 1
    assert stats.repaired_lines == stats.split_lines == 1 and stats.blob_bytes == MAX_LINE_BYTES + 1
    assert stats.files == len(files)


def test_no_usable_text_is_an_error_naming_the_files(tmp_path):
    empty = _write(tmp_path / "empty.txt", b"")
    junk = _write(tmp_path / "junk.txt", b"\x00" * 10)
    headings = _write(tmp_path / "wiki.valid.raw", " = Only a title = \n\n")  # WikiText: headings dropped
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no usable text") as error:
        _read([empty, junk, headings])
    for path in (empty, junk, headings):
        assert str(path) in str(error.value)


# --- shipped corpora ---------------------------------------------------------


@pytest.fixture
def corpus_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ELECTRA_KERAS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "corpora"


def test_shipped_corpora_are_pinned_converted_once_and_named_in_corpus_arguments(corpus_cache):
    from electra_keras.data.corpus import SHIPPED_SOURCES_SHA256, shipped_corpus

    for name, digest in SHIPPED_SOURCES_SHA256.items():
        assert sha256_of(corpus_module._shipped_source(name)) == digest
    news = shipped_corpus("news-articles")
    assert news.parent == corpus_cache and news.name == "news-articles-5b95851c5cc7.txt"
    assert resolve_corpus(["news-articles", "movie-dialogs"]) == [news, shipped_corpus("movie-dialogs")]
    assert resolve_corpus(["wikitext-2"]) == [packages.wikitext2_file("train")]
    assert resolve_corpus(["wikitext-2-valid"]) == [packages.wikitext2_file("valid")]
    written = news.stat().st_mtime_ns
    shipped_corpus("news-articles")
    assert news.stat().st_mtime_ns == written  # reused, not converted again

    documents, stats = _read([news])
    # One document per article with text (3,824 rows, 36 of them without text).
    assert stats.documents == 3788 and stats.lines == 3788
    assert documents[0][0].startswith("Michigan billionaire education activist Betsy DeVos was confirmed")
    text = news.read_text(encoding="utf-8")
    assert '"?' not in text  # the CSV's broken typographic quotes are repaired
    assert 1_900_000 < len(text.split()) < 2_100_000

    documents, stats = _read([shipped_corpus("movie-dialogs")])
    # 64,350 exchanges in blocks of 16; two utterances each, less the repeats.
    assert stats.documents == -(-64350 // corpus_module.DIALOG_EXCHANGES_PER_DOCUMENT)
    assert documents[0][:3] == ["you're asking me out. that's so cute. what's your name again?",
                                "forget it.", "no, no, it's my fault we didn't have a proper introduction"]
    assert 2 * 16 - 2 <= len(documents[0]) <= 2 * 16


def test_shipped_corpus_errors_name_the_problem(corpus_cache, tmp_path, monkeypatch):
    from electra_keras.data.corpus import shipped_corpus

    with pytest.raises(FileNotFoundError, match="nor one of the shipped corpora: wikitext-2"):
        resolve_corpus(["no-such-corpus"])
    with pytest.raises(ValueError, match="unknown shipped corpus 'books'"):
        shipped_corpus("books")
    tampered = tmp_path / "movie_dialog.txt"
    tampered.write_text("hi.\tbye.\n", encoding="utf-8")
    monkeypatch.setattr(corpus_module, "_shipped_source", lambda name: tampered)
    with pytest.raises(ValueError, match="differs from the pinned 08515c3d"):
        shipped_corpus("movie-dialogs")
    # A file of that name wins over the shipped corpus.
    local = tmp_path / "movie-dialogs"
    local.write_text("mine.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert resolve_corpus(["movie-dialogs"]) == [local.relative_to(tmp_path)]
