"""Train, dev and test data read together, from files or from dataset libraries.

`read_splits` takes each part as a file (`files.py`) or a Hugging Face /
TFDS dataset (`libraries.py`: `hf:...`, `tfds:...` or the object), and reads
dev and test against the train part's labels.
"""

from __future__ import annotations

from typing import Any

from electra_keras.data.dataset_libraries import describe, is_library_source
from electra_keras.data.tasks import files, libraries
from electra_keras.data.tasks.examples import Splits

KINDS = ("text", "conll", "squad")
# kind -> the options each reader takes. A part read by the other reader
# ignores the other's options (the CLI passes its column flags to both).
FILE_OPTIONS = {
    "text": {"text_column", "text_b_column", "label_column", "label_names", "task", "format"},
    "conll": {"word_column", "tag_column", "tag_names"},
    "squad": set(),
}
LIBRARY_OPTIONS = {
    "text": {"text_column", "text_b_column", "label_column", "label_names", "task"},
    "conll": {"text_column", "label_column", "tag_names"},
    "squad": set(),
}


def _read(kind: str, source: Any, role: str, options: dict[str, Any], origin: str):
    if is_library_source(source):
        arguments = {name: value for name, value in options.items() if name in LIBRARY_OPTIONS[kind]}
        if kind == "text":
            return libraries.read_library_text(source, role, names_origin=origin, **arguments)
        if kind == "conll":
            return libraries.read_library_tags(source, role, **arguments)
        return libraries.read_library_squad(source, role)
    arguments = {name: value for name, value in options.items() if name in FILE_OPTIONS[kind]}
    if kind == "text":
        return files.read_text_file(source, names_origin=origin, **arguments)
    if kind == "conll":
        return files.read_conll(source, **arguments)
    return files.read_squad(source)


def read_splits(
    train: Any,
    dev: Any = None,
    test: Any = None,
    *,
    kind: str = "text",
    **options: Any,
) -> Splits:
    """Reads train/dev/test together, dev and test against the train labels.

    Unless `label_names` (text) or `tag_names` (conll) are given, they are
    taken from the train part, and a dev/test label outside them is an error
    naming the file and line (or dataset row) and listing the known ones.

    Args:
        train, dev, test: each a file path, or a dataset of a library:
            `hf:NAME_OR_FOLDER[:CONFIG][@SPLIT]`, `tfds:NAME[@SPLIT]`, a
            `datasets.Dataset`/`DatasetDict` or a TFDS builder. A dataset
            without a named split gives its train, validation (or dev,
            valid) and test split for train, dev and test. dev, test optional.
        kind: "text" (read_text_file / read_library_text), "conll"
            (read_conll / read_library_tags) or "squad" (read_squad /
            read_library_squad).
        **options: passed to the reader: file readers take `FILE_OPTIONS`,
            library readers `LIBRARY_OPTIONS` (their columns are
            text_column and label_column, also for tags); each ignores the
            other's.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "train.csv").write_text("text,label\\nok,pos\\nno,neg\\n")
        >>> _ = (folder / "dev.csv").write_text("text,label\\nfine,pos\\n")
        >>> read_splits(folder / "train.csv", folder / "dev.csv").dev.labels
        [1]
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: expected 'text', 'conll' or 'squad'")
    known = FILE_OPTIONS[kind] | LIBRARY_OPTIONS[kind]
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"read_splits(kind={kind!r}) takes the options {', '.join(sorted(known)) or 'none'}; "
            f"got {', '.join(unknown)}"
        )
    first = _read(kind, train, "train", options, "the label_names argument")
    origin = "the label_names argument"
    if kind == "text" and first.task == "classification" and options.get("label_names") is None:
        options = dict(options, label_names=first.label_names)
        origin = f"the train data {describe(train)}"
    if kind == "conll":
        options = dict(options, tag_names=options.get("tag_names") or first.tag_names)
    return Splits(
        first,
        None if dev is None else _read(kind, dev, "dev", options, origin),
        None if test is None else _read(kind, test, "test", options, origin),
    )
