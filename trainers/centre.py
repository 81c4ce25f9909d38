"""Per-speaker centring (emorec.centring) of a finished run, alpha chosen per fold on that
fold's validation actors.

    python -m trainers.centre RUN_DIR [--model_dir=RUN_DIR_centred] [--step=0.1]

The validation probabilities come from the fold's model that learnt from training actors
only, so alpha never sees a clip it is scored on, and the test actors are seen by nothing but
the final scoring (their own clips' mean output, not their labels, is what centres them).
Writes the run in trainers.train's layout: trainers.compare tables it, trainers.paired and
trainers.fuse read it.
"""
from __future__ import annotations

import os

from absl import app, flags

import numpy as np

from emorec import centring, ravdess
from trainers import predictions

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Where the centred run goes; default RUN_DIR + '_centred'.")
_STEP = flags.DEFINE_float("step", 0.1, "Grid step of alpha over [0, 1].")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("give one run folder to centre")
    run_dir = os.path.normpath(argv[1])
    model_dir = _MODEL_DIR.value or run_dir + "_centred"
    member = predictions.summary(run_dir)
    class_names = ravdess.class_names(member["classes"])
    results = []
    for fold in predictions.common_folds([run_dir]):
        parts = predictions.load(os.path.join(run_dir, f"fold_{fold}"))
        speakers = {part: predictions.speakers(names) for part, (_, _, names) in parts.items()}
        probabilities, labels, _ = parts["validation"]
        alpha = centring.choose_alpha(probabilities, labels, speakers["validation"], _STEP.value)
        centred = {part: (centring.centre(p, speakers[part], alpha), labels, names)
                   for part, (p, labels, names) in parts.items()}
        result = predictions.write_fold(os.path.join(model_dir, f"fold_{fold}"), centred, class_names,
                                        {"fold": fold, "alpha": alpha})
        results.append(result)
        before = np.mean(parts["test"][0].argmax(1) == parts["test"][1])
        print(f"fold {fold}: alpha {alpha:.1f}, validation {result['validation']['clip']['accuracy']:.3f}, "
              f"test {result['test']['clip']['accuracy']:.3f} ({before:.3f} uncentred)")
    summary = predictions.write_summary(model_dir, results, [run_dir], member["model"])
    test = summary["test_clip_accuracy"]
    print(f"{os.path.basename(run_dir)} centred per speaker: clip-level test accuracy {test['mean']:.3f} ± "
          f"{test['std']:.3f} (UAR {summary['test_clip_uar']['mean']:.3f}) over {len(results)} folds; {model_dir}")


if __name__ == "__main__":
    app.run(main)
