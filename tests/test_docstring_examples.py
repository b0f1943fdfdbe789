"""Every `>>>` example in the package's docstrings runs and prints what it shows.

The modules are found by scanning the sources, so a new example is tested
the day it is written; each module must have attempted at least one.
"""

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "electra_keras"
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)


def test_examples_were_found():
    assert len(MODULES) >= 20 and "electra_keras.config" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name}: no example ran (all skipped?)"
    assert result.failed == 0
