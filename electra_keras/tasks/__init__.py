"""Fine-tuning task models: classification/regression, token classification, span QA."""

from electra_keras.tasks.classifier import TextClassifier
from electra_keras.tasks.pretrained import load_pretrained
from electra_keras.tasks.question_answering import SpanQuestionAnswerer
from electra_keras.tasks.token_classifier import TokenClassifier

__all__ = ["SpanQuestionAnswerer", "TextClassifier", "TokenClassifier", "load_pretrained"]
