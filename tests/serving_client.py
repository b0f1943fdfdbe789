"""A stand-in for TF Serving, for test_export.py: a fresh process that imports
only tensorflow and tensorflow_text (as the model server links only TF and the
TF-Text kernels), loads SavedModels and calls their signatures.

    python serving_client.py JOBS.json OUT.npz

JOBS.json: a list of {"key", "model", "signature", "inputs": {name: list}}.
OUT.npz: every output as "KEY/OUTPUT"; "modules" lists the imported top-level
packages, so the test can check that electra_keras and keras_hub were never
needed.
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers NormalizeUTF8, WordpieceTokenizeWithOffsets)

jobs_file, out_file = sys.argv[1], sys.argv[2]
results = {}
loaded = {}
for job in json.loads(open(jobs_file).read()):
    model = loaded.get(job["model"]) or tf.saved_model.load(job["model"])
    loaded[job["model"]] = model
    signature = model.signatures[job["signature"]]
    inputs = {}
    for name, value in job["inputs"].items():
        spec = signature.structured_input_signature[1][name]
        inputs[name] = tf.constant(value, dtype=spec.dtype)
    for name, value in signature(**inputs).items():
        results[f"{job['key']}/{name}"] = value.numpy()
results["modules"] = np.array(sorted({name.split(".")[0] for name in sys.modules}))
np.savez(out_file, **results)
