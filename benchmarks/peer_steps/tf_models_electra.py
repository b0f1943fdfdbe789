"""The ELECTRA pretraining step of tf-models-official (the TF Model Garden),
timed for benchmarks/pretraining_throughput.py --peer tf-models.

Runs inside the peer virtualenv (TensorFlow 2.20, tf-keras, tf-models-official
2.20; see benchmarks/peers.py), so it imports nothing from electra_keras.

    python tf_models_electra.py CONFIG.json BATCHES.npz

CONFIG.json: the model and step sizes (see `build_pretrainer` and `main`).
BATCHES.npz: pre-masked batches stacked on a first axis, the arrays our
`mask_batch` produces: masked_token_ids, padding_mask, segment_ids,
masked_positions, masked_ids, masked_weights (token_ids too, unused: the
pretrainer restores the original ids from masked_ids itself).

The model is built as `official/nlp/tasks/electra_task.py` builds it: two
`BertEncoder`s, the generator reusing the discriminator's word-embedding
layer (tf-models ties only the word table; each encoder keeps its own
position and segment tables, embedding LayerNorm and projection), and
`ElectraPretrainer` on top. The step is the task's `train_step`: forward,
loss = MLM + rtd_weight * RTD as the task's `build_losses` computes them,
gradients, tf-models' `AdamWeightDecay` (the 'adamw' of its ELECTRA
experiment: weight decay 0.01 except LayerNorm and biases, global-norm
clipping at 1.0 inside apply_gradients) under its polynomial warmup and
decay, then the task's metric updates.

Protocol (stdout carries only these JSON lines; everything else goes to stderr):

    -> {"ready": true, "parameters": n, "trained_parameters": m, "versions": {...}}
    <- run N
    -> {"seconds": s, "loss": l}      N steps, timed until the last loss is read
    <- quit
    -> {"error": "..."}               instead of an answer, when something fails
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tf-models' ELECTRA task feeds the pretrainer these names.
INPUT_NAMES = {
    "input_word_ids": "masked_token_ids",
    "input_mask": "padding_mask",
    "input_type_ids": "segment_ids",
    "masked_lm_positions": "masked_positions",
    "masked_lm_ids": "masked_ids",
    "masked_lm_weights": "masked_weights",
}
# The exclusions of tf-models' 'electra/pretraining' experiment (configs/pretraining_experiments.py).
NO_WEIGHT_DECAY = ["LayerNorm", "layer_norm", "bias"]


def build_pretrainer(config):
    """Generator and discriminator `BertEncoder`s and the `ElectraPretrainer`, as electra_task builds them."""
    import tf_keras
    from official.modeling import tf_utils
    from official.nlp.modeling import models, networks

    def encoder(prefix, embedding_layer=None):
        return networks.BertEncoder(
            vocab_size=config["vocab_size"],
            hidden_size=config[f"{prefix}hidden_size"],
            num_layers=config[f"{prefix}num_layers"],
            num_attention_heads=config[f"{prefix}num_heads"],
            intermediate_size=config[f"{prefix}intermediate_size"],
            activation=tf_utils.get_activation(config["hidden_act"]),
            dropout_rate=config["dropout_rate"],
            attention_dropout_rate=config["attention_dropout_rate"],
            max_sequence_length=config["max_position_embeddings"],
            type_vocab_size=config["type_vocab_size"],
            initializer=tf_keras.initializers.TruncatedNormal(stddev=config["initializer_range"]),
            # Word, position and segment tables of this width, projected to the
            # hidden size when it differs (ELECTRA-small: 128 -> 256).
            embedding_width=config["embedding_size"],
            embedding_layer=embedding_layer,
            dict_outputs=True,
        )

    # tie_embeddings=True, electra_task's default: the generator gets the discriminator's word-embedding layer.
    discriminator = encoder("")
    generator = encoder("generator_", embedding_layer=discriminator.get_embedding_layer())
    return models.ElectraPretrainer(
        generator_network=generator,
        discriminator_network=discriminator,
        vocab_size=config["vocab_size"],
        num_classes=2,  # ElectraPretrainerConfig's default; the head is unused without next-sentence labels
        num_token_predictions=config["num_predictions"],
        mlm_activation=tf_utils.get_activation(config["hidden_act"]),
        mlm_initializer=tf_keras.initializers.TruncatedNormal(stddev=config["initializer_range"]),
    )


class TfModelsElectraStep:
    """tf-models' ELECTRA pretrainer, its optimizer and a compiled train step over cycled batches."""

    def __init__(self, config, batches):
        import tensorflow as tf
        import tf_keras
        from official.modeling.optimization import legacy_adamw, lr_schedule

        tf_keras.utils.set_random_seed(config["seed"])
        self.rtd_weight = float(config["rtd_weight"])
        self.model = build_pretrainer(config)
        schedule = lr_schedule.PolynomialWarmUp(
            tf_keras.optimizers.schedules.PolynomialDecay(
                config["learning_rate"], config["total_steps"], end_learning_rate=0.0, power=1.0),
            warmup_steps=config["warmup_steps"],
        )
        self.optimizer = legacy_adamw.AdamWeightDecay(
            learning_rate=schedule, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
            weight_decay_rate=0.01, exclude_from_weight_decay=NO_WEIGHT_DECAY, gradient_clip_norm=1.0,
        )
        self.metrics = {
            "masked_lm_accuracy": tf_keras.metrics.SparseCategoricalAccuracy(),
            "lm_example_loss": tf_keras.metrics.Mean(),
            "discriminator_accuracy": tf_keras.metrics.SparseCategoricalAccuracy(),
            "discriminator_loss": tf_keras.metrics.Mean(),
            "total_loss": tf_keras.metrics.Mean(),
        }

        def as_inputs(batch):
            inputs = {name: tf.cast(batch[source], tf.int32) for name, source in INPUT_NAMES.items()}
            inputs["masked_lm_weights"] = tf.cast(batch["masked_weights"], tf.float32)
            return inputs

        columns = {source: batches[source] for source in INPUT_NAMES.values()}
        dataset = tf.data.Dataset.from_tensor_slices(columns).map(as_inputs).repeat().prefetch(2)
        self.iterator = iter(dataset)
        # Variables before the first traced step, as a Keras model is built before fit.
        first = next(iter(dataset.take(1)))
        self.model(first, training=False)
        self.parameters = int(sum(v.shape.num_elements() for v in self.model.trainable_variables))
        self.trained_parameters = None  # set when the step is traced
        self.train_step = tf.function(self._train_step)

    def objective(self, inputs, outputs):
        """MLM + rtd_weight * RTD, as electra_task.build_losses computes them."""
        import tensorflow as tf
        import tf_keras

        lm_losses = tf_keras.losses.sparse_categorical_crossentropy(
            inputs["masked_lm_ids"], tf.cast(outputs["lm_outputs"], tf.float32), from_logits=True)
        weights = inputs["masked_lm_weights"]
        mlm_loss = tf.math.divide_no_nan(tf.reduce_sum(lm_losses * weights), tf.reduce_sum(weights))
        rtd_labels = tf.cast(outputs["disc_label"], tf.float32)
        token_weights = tf.cast(inputs["input_mask"], tf.float32)
        rtd_losses = tf.nn.sigmoid_cross_entropy_with_logits(logits=outputs["disc_logits"], labels=rtd_labels)
        rtd_loss = tf.math.divide_no_nan(tf.reduce_sum(token_weights * rtd_losses), tf.reduce_sum(token_weights))
        return mlm_loss, rtd_loss, mlm_loss + self.rtd_weight * rtd_loss

    def _train_step(self, iterator):
        import tensorflow as tf

        inputs = next(iterator)
        with tf.GradientTape() as tape:
            outputs = self.model(inputs, training=True)
            mlm_loss, rtd_loss, loss = self.objective(inputs, outputs)
            if self.model.losses:
                loss += tf.add_n(self.model.losses)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        # The encoders' poolers and the generator's sentence head are not in
        # the loss; the task passes their None gradients on and the optimizer
        # drops them with a warning. Dropped here, quietly.
        pairs = [(gradient, variable) for gradient, variable in zip(gradients, variables) if gradient is not None]
        self.trained_parameters = int(sum(variable.shape.num_elements() for _, variable in pairs))
        self.optimizer.apply_gradients(pairs)

        # electra_task.process_metrics and the means build_losses updates.
        self.metrics["lm_example_loss"].update_state(mlm_loss)
        self.metrics["discriminator_loss"].update_state(rtd_loss)
        self.metrics["total_loss"].update_state(loss)
        self.metrics["masked_lm_accuracy"].update_state(
            inputs["masked_lm_ids"], outputs["lm_outputs"], inputs["masked_lm_weights"])
        logits = outputs["disc_logits"][..., None]
        self.metrics["discriminator_accuracy"].update_state(
            outputs["disc_label"], tf.concat([-logits, logits], -1), inputs["input_mask"])
        return loss

    def run(self, steps):
        """(seconds, last loss) of `steps` steps; reading the loss waits for them to finish."""
        started = time.perf_counter()
        loss = None
        for _ in range(steps):
            loss = self.train_step(self.iterator)
        value = float(loss.numpy()) if loss is not None else float("nan")
        return time.perf_counter() - started, value


def versions():
    from importlib import metadata

    found = {}
    for name in ("tensorflow", "tf-keras", "tf-models-official"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def short_error(error):
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}"


def main(argv):
    # The protocol owns the real stdout; anything else that prints (TF, absl,
    # C++ logging through fd 1) is sent to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message):
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    if len(argv) != 3:
        send({"error": f"usage: {argv[0]} CONFIG.json BATCHES.npz (got {len(argv) - 1} arguments)"})
        return 2
    try:
        import numpy as np

        with open(argv[1]) as config_file:
            config = json.load(config_file)
        with np.load(argv[2]) as arrays:
            batches = {name: arrays[name] for name in arrays.files}
        step = TfModelsElectraStep(config, batches)
        step.run(max(1, int(config.get("warmup", 1))))  # tracing
        send({"ready": True, "parameters": step.parameters, "trained_parameters": step.trained_parameters,
              "versions": versions()})
    except Exception as error:  # reported to the parent, which prints it in its table
        import traceback

        traceback.print_exc()
        send({"error": short_error(error)})
        return 1

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words == ["quit"]:
            return 0
        if len(words) == 2 and words[0] == "run" and words[1].isdigit():
            try:
                seconds, loss = step.run(int(words[1]))
            except Exception as error:
                import traceback

                traceback.print_exc()
                send({"error": short_error(error)})
                return 1
            send({"seconds": seconds, "loss": loss})
        else:
            send({"error": f"unknown command {line.strip()!r}; expected 'run N' or 'quit'"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
