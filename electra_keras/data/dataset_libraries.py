"""Hugging Face `datasets` and TensorFlow Datasets as sources of task data and corpus text.

Where a file path goes (`finetune --train/--dev/--test`, `pretrain --corpus`),
a dataset of either library can go too, named

    hf:NAME_OR_FOLDER[:CONFIG][@SPLIT][#COLUMN]
    tfds:NAME[/CONFIG][:VERSION][@SPLIT][#COLUMN]

* `hf:` a folder written by `save_to_disk` (a Dataset or a DatasetDict) is
  read with `datasets.load_from_disk`; any other folder or name goes to
  `datasets.load_dataset` (a folder of data files, or a Hub dataset when
  online; CONFIG is its configuration, e.g. `hf:nyu-mll/glue:sst2`).
* `tfds:` a TFDS builder name, its data in $TFDS_DATA_DIR (else TFDS's
  default, ~/tensorflow_datasets); prepared (downloaded) first if it is not.
* SPLIT defaults to the one the role asks for: train for training data and
  corpora, the first of validation, dev, valid for dev data, test for test
  data. A single `datasets.Dataset` has no splits: it is used whole.
* COLUMN (corpora only) is the text column, default "text". Task columns
  come from `text_column`, `label_column` (the `--text-column` flags).
* Rows come in the order the library stores them (TFDS shuffles examples
  when it prepares a dataset, the same way every time).

In Python, the objects themselves work too: a `datasets.Dataset` or
`DatasetDict`, or a TFDS `DatasetBuilder`.

Neither library is a dependency: each is imported only when a source names
it, and a missing one is an ImportError saying what to pip install.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

# scheme -> (module, pip package)
LIBRARIES = {"hf": ("datasets", "datasets"), "tfds": ("tensorflow_datasets", "tensorflow-datasets")}
# role -> the split names it takes by default, in order of preference.
DEFAULT_SPLITS = {
    "train": ("train",),
    "dev": ("validation", "dev", "valid"),
    "test": ("test",),
    "corpus": ("train",),
}
DEFAULT_TEXT_COLUMN = "text"


@dataclasses.dataclass(frozen=True)
class LibrarySource:
    """A dataset named by a `hf:` or `tfds:` argument (see the module docstring).

    Example:
        >>> source = parse_source("hf:nyu-mll/glue:sst2@validation")
        >>> source.name, source.config, source.split
        ('nyu-mll/glue', 'sst2', 'validation')
    """

    library: str
    name: str
    config: str | None = None
    split: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        text = f"{self.library}:{self.name}" + (f":{self.config}" if self.config else "")
        return text + (f"@{self.split}" if self.split else "") + (f"#{self.column}" if self.column else "")


def _library_of_object(value: Any) -> str | None:
    # Such an object exists only once its library is imported; checking
    # sys.modules keeps both libraries unimported otherwise.
    datasets = sys.modules.get("datasets")
    if datasets is not None and isinstance(value, (datasets.Dataset, datasets.DatasetDict)):
        return "hf"
    tfds = sys.modules.get("tensorflow_datasets")
    if tfds is not None and isinstance(value, tfds.core.DatasetBuilder):
        return "tfds"
    return None


def is_library_source(value: Any) -> bool:
    """Whether `value` names a dataset of a library: a `hf:`/`tfds:` string that
    is not an existing path (a file of that name wins), or a dataset object.

    Example:
        >>> is_library_source("hf:imdb"), is_library_source("train.csv")
        (True, False)
    """
    if isinstance(value, str):
        scheme, colon, _ = value.partition(":")
        return scheme in LIBRARIES and bool(colon) and not os.path.exists(value)
    return _library_of_object(value) is not None


def parse_source(text: str) -> LibrarySource:
    """Parses `hf:...` or `tfds:...` (see the module docstring)."""
    library, _, rest = text.partition(":")
    if library not in LIBRARIES or not rest:
        raise ValueError(
            f"{text!r}: expected hf:NAME_OR_FOLDER[:CONFIG][@SPLIT][#COLUMN] or "
            "tfds:NAME[@SPLIT][#COLUMN]"
        )
    rest, _, column = rest.partition("#")
    rest, _, split = rest.partition("@")
    config = None
    # TFDS names carry their config and version themselves (name/config:version).
    if library == "hf" and not os.path.exists(rest) and ":" in rest:
        rest, _, config = rest.partition(":")
    if not rest:
        raise ValueError(f"{text!r}: no dataset name before @ or #")
    return LibrarySource(library, rest, config or None, split or None, column or None)


def describe(value: Any) -> str:
    """A source as text: the argument itself, or what a dataset object is."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if _library_of_object(value) == "hf":
        splits = list(value) if hasattr(value, "keys") else None
        shape = f"splits {', '.join(splits)}" if splits is not None else f"{value.num_rows:,} rows"
        return f"a datasets.{type(value).__name__} object ({shape})"
    if _library_of_object(value) == "tfds":
        return f"tfds:{value.info.full_name} (builder in {value.data_dir})"
    return repr(value)


def _import(library: str, source: str):
    module, package = LIBRARIES[library]
    try:
        return __import__(module)
    except ImportError as error:
        raise ImportError(
            f"{source}: reading it needs the {module} library; install it with `pip install {package}`"
        ) from error


@dataclasses.dataclass(frozen=True)
class Table:
    """One split of a dataset: its columns, class names, and rows read on demand.

    Args:
        source: what it was read from, for `source` fields and messages
            (e.g. "hf:data/reviews@train").
        columns: the column names.
        class_names: for class-label columns (and sequences of class labels,
            NER tags), the names in id order.
        num_rows: the number of rows, when the library knows it.
        read: columns -> an iterator of tuples of their values (Python
            values: str, int, float, lists and dicts of those).
        fingerprint: a hex digest that changes when the data changes: a
            Hugging Face dataset's own `_fingerprint` (of its files, or of
            its content when built in memory); for TFDS, the builder's full
            name (name/config/version), the split and the data folder.
    """

    source: str
    columns: tuple[str, ...]
    class_names: dict[str, list[str]]
    num_rows: int | None
    read: Callable[[tuple[str, ...]], Iterator[tuple]]
    fingerprint: str

    def require(self, columns: Sequence[str], argument: str = "column") -> None:
        """An error naming each missing column and the ones present."""
        missing = [column for column in columns if column not in self.columns]
        if missing:
            raise ValueError(
                f"{self.source}: no {argument}{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}; its columns are "
                f"{', '.join(map(repr, self.columns))}"
            )

    def rows(self, *columns: str) -> Iterator[tuple]:
        self.require(columns)
        return self.read(tuple(columns))


def open_split(value: Any, role: str = "train") -> Table:
    """The split of `value` that `role` ("train", "dev", "test" or "corpus") reads.

    Args:
        value: a `hf:`/`tfds:` string, a `LibrarySource`, a `datasets.Dataset`
            or `DatasetDict`, or a TFDS `DatasetBuilder`.
        role: picks the default split (`DEFAULT_SPLITS`) when none is named.

    Raises:
        ImportError: the library is not installed (the message says what to pip install).
        FileNotFoundError: no such dataset (named, with where it was looked for).
        ValueError: no such split (the message lists the splits there are).
    """
    if role not in DEFAULT_SPLITS:
        raise ValueError(f"role={role!r}: expected one of {', '.join(DEFAULT_SPLITS)}")
    if isinstance(value, str):
        value = parse_source(value)
    if isinstance(value, LibrarySource):
        if value.library == "hf":
            return _hf_split(_hf_load(value), value.split, role, str(value))
        return _tfds_split(_tfds_builder(value), value.split, role, str(value))
    library = _library_of_object(value)
    if library == "hf":
        return _hf_split(value, None, role, describe(value))
    if library == "tfds":
        return _tfds_split(value, None, role, describe(value))
    raise TypeError(
        f"{value!r}: expected a hf: or tfds: name, a datasets.Dataset or DatasetDict, or a "
        "tensorflow_datasets builder"
    )


def _pick_split(splits: Sequence[str], split: str | None, role: str, source: str, slices: bool) -> str:
    """The split named (a TFDS slice such as train[:10%] when `slices`), else the role's default."""
    if split:
        if (split.split("[")[0] if slices else split) in splits:
            return split
        asked = f"split {split!r}"
    else:
        for name in DEFAULT_SPLITS[role]:
            if name in splits:
                return name
        asked = f"{role} split (tried {', '.join(DEFAULT_SPLITS[role])})"
    raise ValueError(
        f"{source}: no {asked}; its splits are {', '.join(splits) or '(none)'}; name one as "
        f"{source.split('@')[0]}@SPLIT"
    )


# --- Hugging Face datasets -----------------------------------------------------


def _hf_load(source: LibrarySource):
    datasets = _import("hf", str(source))
    folder = Path(source.name)
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        return datasets.load_from_disk(str(folder))
    try:
        return datasets.load_dataset(source.name, source.config)
    except Exception as error:  # the Hub's and the builders' many error types
        where = "a folder without save_to_disk files" if folder.is_dir() else "no such folder"
        raise FileNotFoundError(
            f"{source}: {where}, and datasets.load_dataset({source.name!r}"
            + (f", {source.config!r}" if source.config else "")
            + f") failed ({type(error).__name__}: {error})"
        ) from error


def _hf_split(dataset, split: str | None, role: str, source: str) -> Table:
    if hasattr(dataset, "keys"):  # a DatasetDict
        name = _pick_split(list(dataset.keys()), split, role, source, slices=False)
        dataset = dataset[name]
        source = f"{source.split('@')[0]}@{name}" if source.startswith("hf:") else f"{source}[{name!r}]"
    elif split is not None and dataset.split is not None and split != str(dataset.split):
        raise ValueError(f"{source}: a single Dataset of split {dataset.split!r}; it has no split {split!r}")

    def read(columns: tuple[str, ...]) -> Iterator[tuple]:
        for batch in dataset.select_columns(list(columns)).iter(batch_size=1000):
            yield from zip(*(batch[column] for column in columns))

    return Table(source, tuple(dataset.column_names), _class_names(dataset.features), dataset.num_rows, read,
                 _digest("hf", dataset._fingerprint))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _class_names(features) -> dict[str, list[str]]:
    """Class-label columns (and sequences of them) -> names, for either library."""
    names = {}
    for column, feature in features.items():
        inner = getattr(feature, "feature", None)  # a sequence's element
        for candidate in (feature, inner):
            if candidate is not None and type(candidate).__name__ == "ClassLabel":
                names[column] = [str(name) for name in candidate.names]
    return names


# --- TensorFlow Datasets ---------------------------------------------------------


def _tfds_builder(source: LibrarySource):
    tfds = _import("tfds", str(source))
    data_dir = os.environ.get("TFDS_DATA_DIR") or None
    try:
        builder = tfds.builder(source.name, data_dir=data_dir)
    except Exception as error:  # DatasetNotFoundError and the registry's other errors
        raise FileNotFoundError(
            f"{source}: TFDS has no dataset {source.name!r} (in {data_dir or 'its default data dir'}, "
            f"or registered in this process) ({type(error).__name__}: {error})"
        ) from error
    if not builder.is_prepared():
        print(f"{source}: preparing it in {builder.data_dir} (download_and_prepare)")
        builder.download_and_prepare()
    return builder


def _tfds_split(builder, split: str | None, role: str, source: str) -> Table:
    import tensorflow_datasets as tfds

    name = _pick_split(list(builder.info.splits.keys()), split, role, source, slices=True)
    if source.startswith("tfds:"):
        source = f"{source.split('@')[0]}@{name}"
    features = builder.info.features
    num_rows = builder.info.splits[name].num_examples if name in builder.info.splits else None

    def read(columns: tuple[str, ...]) -> Iterator[tuple]:
        dataset = builder.as_dataset(split=name, shuffle_files=False)
        for example in tfds.as_numpy(dataset):
            yield tuple(_python(example[column]) for column in columns)

    return Table(source, tuple(features.keys()), _class_names(features), num_rows, read,
                 _digest("tfds", builder.info.full_name, name, str(builder.data_dir)))


def _python(value: Any) -> Any:
    """A TFDS NumPy value as plain Python: text bytes as str, arrays as lists."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, dict):
        return {key: _python(item) for key, item in value.items()}
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return _python(value.tolist())
    if isinstance(value, list):
        return [_python(item) for item in value]
    return value
