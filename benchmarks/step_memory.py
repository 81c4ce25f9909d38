"""Memory of a training step per window, for choosing a batch size on an accelerator.

    .venv/bin/python -m benchmarks.step_memory [--configs=trainers/configs/r3d.cfg,...]

Each flagfile's model (its frames and face side, random weights: memory does not depend on
them) in a process of its own, compiled as the trainer compiles it (AdamW, no XLA, float32),
takes one training step at batch 2 and one at batch 6; the growth of the process's peak
resident memory between the two, over 4 windows, is what a window costs (activations kept for
the backward pass, their gradients, the step's workspace); what stays is the model, its
gradients and AdamW's two moments. Measured with TensorFlow's CPU allocator: cuDNN's
workspaces and XLA's buffer reuse differ on an accelerator, and mixed precision halves the
activations, so read it as an estimate to start the batch search from.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys

from absl import app, flags

from benchmarks.common import ROOT, config_flags, print_table, random_inputs, read_config

CONFIGS = ["resnet_lstm", "resnet_transformer", "r3d", "mvitv2", "per_frame", "mvitv2_wave_cnn1d"]
_CONFIGS = flags.DEFINE_list("configs", [f"trainers/configs/{c}.cfg" for c in CONFIGS], "Flagfiles to measure.")
_RUN = flags.DEFINE_string("run", None, "Internal: measure this flagfile in this process.")
BATCHES = (2, 6)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(config: str) -> dict:
    import keras
    import numpy as np

    from emorec import models

    name, frames, options = read_config(config)
    size = int(config_flags(config)["image_size"])
    model = models.build(name, num_classes=7, frames=frames or 16, image_size=size, **options)
    model.compile(keras.optimizers.AdamW(1e-4), "sparse_categorical_crossentropy", jit_compile=False)
    peaks = []
    for batch in BATCHES:
        y = np.zeros((batch, frames) if name == "per_frame" else (batch,), np.int32)
        model.train_on_batch(random_inputs(model, batch), y)
        peaks.append(_peak_mb())
    return {"model": name, "size": size, "params": model.count_params(), "peaks": peaks}


def main(argv):
    del argv
    if _RUN.value:
        print(json.dumps(measure(_RUN.value)))
        return
    rows = []
    for config in _CONFIGS.value:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.step_memory", f"--run={config}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        low, high = result["peaks"]
        per_window = (high - low) / (BATCHES[1] - BATCHES[0])
        rows.append(
            [
                config.rsplit("/", 1)[-1],
                f"{result['model']} at {result['size']} px",
                f"{result['params'] / 1e6:.1f} M",
                f"{low - BATCHES[0] * per_window:.0f}",
                f"{per_window:.0f}",
            ]
        )
    print_table(
        f"`python -m benchmarks.step_memory` on {platform.machine()}, float32, TensorFlow's CPU allocator: "
        f"peak resident memory of a training step at batch {BATCHES[0]} and {BATCHES[1]}",
        ["flagfile", "model", "parameters", "MB without windows (process, model, AdamW)", "MB per window"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
