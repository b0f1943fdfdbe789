"""Training machinery: optimizers and schedules, distribution strategies, the pretraining run."""

from electra_keras.training.optimizers import WarmupLinearDecay, electra_adamw

__all__ = ["WarmupLinearDecay", "electra_adamw"]
