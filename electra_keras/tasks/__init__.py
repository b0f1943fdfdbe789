"""Fine-tuning task models: classification/regression, token classification, span QA."""
