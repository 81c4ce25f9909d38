"""RAVDESS as a TFDS dataset: face crops, 16 kHz audio and log-mel per clip, one split per actor.

    tfds build datasets/ravdess --config=av --manual_dir=/path/to/ravdess --data_dir=DIR
    tfds build datasets/ravdess --config=av ... --beam_pipeline_options="runner=DirectRunner,direct_num_workers=2,direct_running_mode=multi_processing"

Every clip that cannot be used (undecodable, no audio stream, no face, corrupt zip member,
unparsable name, duplicate) is reported by name with its reason in a summary printed at the
end and saved as `build_summary.json` next to the data. EMOREC_STRICT=1 makes any of them
an error instead.
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import functools
import hashlib
import itertools
import json
import os
import sys

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from emorec import error_chain, interrupted, ravdess, visible_stderr
from emorec.data import datasets
from emorec.media import clip_features, features, video
from emorec.media.faces import FacePipeline

_CITATION = """@article{livingstone2018ravdess,
  title={The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS)},
  author={Livingstone, Steven R. and Russo, Frank A.},
  journal={PLoS ONE}, volume={13}, number={5}, pages={e0196391}, year={2018}}"""

SUMMARY_FILE = "build_summary.json"
_PROBLEMS_DIR = "_problems"


@dataclasses.dataclass
class RavdessConfig(tfds.core.BuilderConfig):
    with_faces: bool = True
    with_audio: bool = True
    vocal_channel: int = 1  # 1 speech, 2 song
    face_pipeline: FacePipeline = FacePipeline()  # recorded in the dataset's metadata


def _configs():
    kinds = {"av": (True, True, "face crops, 16 kHz waveform and log-mel of the audio-video clips"),
             "audio": (False, True, "16 kHz waveform and log-mel of the audio-only wavs "
                                    "(or of the audio-video clips' audio when no wavs are given)"),
             "video": (True, False, "face crops of the audio-video and video-only clips")}
    for channel, suffix in ((1, ""), (2, "_song")):
        for kind, (faces, audio, text) in kinds.items():
            yield RavdessConfig(name=kind + suffix, with_faces=faces, with_audio=audio, vocal_channel=channel,
                                description=f"{ravdess.VOCAL_CHANNELS[channel].capitalize()}: {text}.")


class Builder(tfds.core.GeneratorBasedBuilder):
    """RAVDESS (Livingstone & Russo 2018): 24 actors, 8 emotions, speech and song."""

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = {"1.0.0": "Face crops, 16 kHz audio and log-mel; one split per actor.",
                     "1.1.0": "Face crops 0.9 times the detector's box (was 1.3): the face, not the head; "
                              "the face pipeline's settings in the metadata.",
                     "1.2.0": "Faces found by BlazeFace (MediaPipe's short-range model), not OpenCV's Haar cascade.",
                     "1.3.0": "Frames scaled in YUV, then converted to RGB: crop pixels within 2/255 of 1.2.0's "
                              "on average; waveforms and log-mels unchanged."}
    BUILDER_CONFIGS = list(_configs())
    DEFAULT_CONFIG_NAME = "av"
    # Called once per clip processed, without Beam (whose workers run elsewhere): a caller's
    # progress bar, such as `make demo`'s.
    on_clip = None
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download RAVDESS from Zenodo (https://zenodo.org/record/1188976, CC BY-NC-SA 4.0) and put
    the files in the manual folder (--manual_dir) as they come; zips are read in place,
    unpacked `Actor_XX/` folders work too:
      Video_Speech_Actor_01.zip ... Video_Speech_Actor_24.zip   (configs av, video)
      Video_Song_Actor_01.zip ... Video_Song_Actor_24.zip       (av_song, video_song)
      Audio_Speech_Actors_01-24.zip                             (audio)
      Audio_Song_Actors_01-24.zip                               (audio_song)
    Only the files of the configs you build are needed.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        size = config.face_pipeline.size
        feats = {
            "name": tfds.features.Text(doc="the clip's file name"),
            "label": tfds.features.ClassLabel(names=ravdess.EMOTIONS),
            "modality": tfds.features.ClassLabel(names=list(ravdess.MODALITIES.values())),
            "vocal_channel": tfds.features.ClassLabel(names=list(ravdess.VOCAL_CHANNELS.values())),
            "intensity": tfds.features.ClassLabel(names=list(ravdess.INTENSITIES.values())),
            "statement": np.int32, "repetition": np.int32, "actor": np.int32,
            "gender": tfds.features.ClassLabel(names=["male", "female"]),
        }
        if config.with_faces:
            feats.update(
                faces=tfds.features.Video((None, size, size, 3), encoding_format="jpeg",
                                          doc="uint8 RGB face crop of every frame"),
                timestamps=tfds.features.Tensor(shape=(None,), dtype=np.float32, doc="seconds, per frame"),
                fps=tfds.features.Scalar(np.float32, doc="the source's nominal frame rate"),
                face_detected=tfds.features.Tensor(shape=(None,), dtype=np.bool_,
                                                   doc="whether the detector found the face in that frame"),
                face_fraction=tfds.features.Scalar(np.float32, doc="detected / examined frames"))
        if config.with_audio:
            bytes_ = tfds.features.Encoding.BYTES
            feats.update(
                waveform=tfds.features.Tensor(shape=(None,), dtype=np.float32, encoding=bytes_,
                                              doc=f"mono, {features.SAMPLE_RATE} Hz"),
                log_mel=tfds.features.Tensor(shape=(None, features.NUM_MELS), dtype=np.float32, encoding=bytes_,
                                             doc=f"{features.WINDOW_MS} ms windows, {features.HOP_MS} ms hop"))
        # What made the crops travels with them: the trainer copies it into every export.
        metadata = tfds.core.MetadataDict(face_pipeline=config.face_pipeline.to_dict()) if config.with_faces else None
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(feats), supervised_keys=None, metadata=metadata,
            homepage="https://zenodo.org/record/1188976", citation=_CITATION,
            license="CC BY-NC-SA 4.0")

    def download_and_prepare(self, *, download_dir=None, download_config=None, **kwargs):
        """TFDS's, but a dataset built from other source files is never silently reused: it is
        refused in one line (`tfds build --overwrite` rebuilds it). What an interrupted build
        left behind (TFDS's `incomplete.*` folders) is removed first, and said."""
        config = download_config or tfds.download.DownloadConfig()
        for stale in self.data_path.parent.glob(f"incomplete.*_{self.data_path.name}"):
            print(f"Removing {stale}, left by an interrupted build")
            stale.rmtree()
        if self.data_path.exists() and not config.download_mode.overwrite_dataset:
            missing = datasets.missing_files(str(self.data_path))
            if missing:  # TFDS would reuse it, and training would stop at the first missing file
                print(f"Building {self.data_path} again: {len(missing)} of its files are missing ({missing[0]})")
                self.data_path.rmtree()
        if config.manual_dir and not config.download_mode.overwrite_dataset and self.data_path.exists():
            summary_path = self.data_path / SUMMARY_FILE
            built = json.loads(summary_path.read_text()).get("source") if summary_path.exists() else None
            wanted = source_record(str(config.manual_dir))
            if built is None:
                print(f"Reusing {self.data_path}, built before builds recorded their source files: it may not "
                      f"be {wanted['manual_dir']} (tfds build --overwrite rebuilds it from there)")
            elif built["fingerprint"] != wanted["fingerprint"]:
                raise BuildError(
                    f"{self.data_path} holds ravdess/{self.builder_config.name} built from {built['manual_dir']} "
                    f"({built['files']} files), not from {wanted['manual_dir']} ({wanted['files']} files): "
                    "use another --data_dir, or rebuild it with tfds build --overwrite")
        root = self.data_path.parent
        try:  # said now, not when the first shard is written
            root.mkdir(parents=True, exist_ok=True)
            (root / f".emorec-write-check-{os.getpid()}").write_text("")
            (root / f".emorec-write-check-{os.getpid()}").unlink()
        except OSError as e:
            raise BuildError(f"--data_dir {self._data_dir_root} cannot be written to ({e.strerror or e})") from None
        try:
            return super().download_and_prepare(download_dir=download_dir, download_config=download_config, **kwargs)
        except Exception as e:
            if _no_space(e):
                raise BuildError(f"no space left on the device of --data_dir {self._data_dir_root}: free some, or "
                                 "build to another --data_dir (nothing of this build was kept)") from None
            raise

    def _download_and_prepare(self, dl_manager, download_config):
        self._use_beam = bool(download_config.beam_runner or download_config.beam_options)
        # Paths as strings: they travel to Beam workers. epath works on GCS data dirs too.
        self._problems_dir = str(epath.Path(self.data_dir) / _PROBLEMS_DIR)
        epath.Path(self._problems_dir).mkdir(parents=True, exist_ok=True)
        self._found = 0
        def report():
            summary = write_summary(str(self.data_dir), self._problems_dir, self._found,
                                    source_record(str(dl_manager.manual_dir)))
            print(format_summary(summary))
            return summary

        try:
            super()._download_and_prepare(dl_manager, download_config)
        except Exception as error:  # TFDS stopped on an actor none of whose clips could be used: say why
            if not interrupted(error):  # (not on Ctrl-C, also wrapped: nothing was written, no summary)
                report()
            raise
        summary = report()
        if summary["problems"] and clip_features.strict():
            raise RuntimeError(f"EMOREC_STRICT=1 and {len(summary['problem_clips'])} clip(s) could not be used "
                               f"(see above); the dataset was not written")

    def _sources(self, root: str) -> list[ravdess.Source]:
        config = self.builder_config
        channels = (config.vocal_channel,)
        if config.with_faces:
            modalities = (1,) if config.with_audio else (1, 2)
            scan = ravdess.scan(root, modalities, channels)
        else:
            scan = ravdess.scan(root, (3,), channels)
            if not scan.sources:  # no wavs: take the audio of the audio-video clips
                scan = ravdess.scan(root, (1,), channels)
        for location, reason in scan.skipped:
            kind, _, detail = reason.partition(": ")
            record_problem(self._problems_dir, location, kind, detail, stage="scan")
        if not scan.sources:
            raise FileNotFoundError(f"no RAVDESS clips for config {config.name!r} in {root}.\n"
                                    f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        return scan.sources

    def _split_generators(self, dl_manager):
        sources = self._sources(str(dl_manager.manual_dir))
        self._found = len(sources)
        config = self.builder_config
        process = functools.partial(_example, problems_dir=self._problems_dir, with_faces=config.with_faces,
                                    with_audio=config.with_audio, pipeline=config.face_pipeline)
        if self.on_clip is not None and not self._use_beam:
            process = _reporting(process, self.on_clip)
        by_actor = collections.defaultdict(list)
        for source in sources:
            by_actor[source.clip.actor].append(source)
        # TFDS cannot write an empty split: find each actor's first usable clip now (its
        # example is kept, not recomputed) and leave out actors that have none.
        actors = sorted(by_actor)
        firsts = clip_features.map_in_threads(functools.partial(_first_usable, process), [by_actor[a] for a in actors])
        kept = []
        for actor, (first, rest) in zip(actors, firsts):
            if first:
                kept.append((actor, first, rest))
            else:
                record_problem(self._problems_dir, f"actor_{actor:02d}", "empty split",
                               f"none of its {len(by_actor[actor])} clip(s) could be used; the split is left out",
                               "split")
        if not kept:
            raise RuntimeError(f"no usable clip among {len(sources)} in {dl_manager.manual_dir}")
        # Locally, one pool runs over every actor's clips in the order TFDS writes the splits:
        # the next actor's clips are processed while this one's are written, so no core idles
        # at a split's end.
        stream = None if self._use_beam else clip_features.map_in_threads(
            lambda source: (source, process(source)), [source for _, _, rest in kept for source in rest])
        return {f"actor_{actor:02d}": self._generate_examples(first, rest, process, stream)
                for actor, first, rest in kept}

    def _generate_examples(self, first, sources, process, stream):
        if self._use_beam:
            beam = tfds.core.lazy_imports.apache_beam

            @beam.ptransform_fn
            def examples_of_actor(start):
                done = start | "first usable clip" >> beam.Create(first)
                rest = start | "clips" >> beam.Create(sources) | "process" >> beam.FlatMap(process)
                return (done, rest) | beam.Flatten()

            return examples_of_actor()
        return itertools.chain(first, _taken(stream, sources))


def _reporting(process, on_clip):
    def run(source):
        try:
            return process(source)
        finally:
            on_clip()
    return run


def _taken(stream, sources):
    """The examples of `sources` from the stream shared by all splits, which holds them next."""
    for source in sources:
        done, result = next(stream)
        if done is not source:
            raise RuntimeError(f"TFDS asked for the splits out of order: {source.location} was due, "
                               f"{done.location} came")
        yield from result


class BuildError(RuntimeError):
    """A build that cannot be made as asked: `tfds build` says it in one line."""


def _no_space(error: BaseException | None) -> bool:
    """Whether a disk ran full somewhere in `error`'s chain (TFDS and TensorFlow wrap the OSError)."""
    return any(getattr(e, "errno", None) == errno.ENOSPC or "No space left on device" in str(e)
               for e in error_chain(error))


def _one_line(previous):
    """`tfds build`'s exception hook: this builder's refusals and Ctrl-C in one line; anything
    else as before (a traceback: a fault to report)."""
    def hook(kind, error, trace):
        with visible_stderr():
            if issubclass(kind, BuildError):
                print(f"tfds build: {error}", file=sys.stderr)
            elif interrupted(error):
                print("tfds build: stopped (Ctrl-C); nothing was written: the same command builds it again",
                      file=sys.stderr)
            else:
                previous(kind, error, trace)
    return hook


if os.path.basename(sys.argv[0]) == "tfds":  # only the command these words are for
    sys.excepthook = _one_line(sys.excepthook)


def _first_usable(process, clips):
    """(the first usable clip's [(key, example)], the clips after it); ([], []) if none is."""
    for i, source in enumerate(clips):
        result = process(source)
        if result:
            return result, clips[i + 1:]
    return [], []


def _example(source: ravdess.Source, problems_dir: str, **options):
    """[(key, example)] for a usable clip; [] and a problem record for any other."""
    try:
        example = clip_features.clip_example(source, **options)
    except video.MediaError as e:
        record_problem(problems_dir, source.location, e.reason, e.detail, stage="decode")
        return []
    except Exception as e:  # noqa: BLE001  one clip never stops a build: it is named and counted
        record_problem(problems_dir, source.location, "unreadable", f"{type(e).__name__}: {e}", stage="decode")
        return []
    doubts = clip_features.doubts(example.get("waveform"), len(example["timestamps"]) / float(example["fps"])
                                  if "timestamps" in example else None, example.get("face_fraction"))
    left_out = [(reason, detail) for reason, detail, kept in doubts if not kept]
    # A clip left out is listed for why it was left out, not also as written with a note.
    for reason, detail in left_out or [(reason, detail) for reason, detail, _ in doubts]:
        record_problem(problems_dir, source.location, reason, detail, stage="decode" if left_out else "kept")
    if left_out:
        return []
    clip = source.clip
    # Codes (1-based) to the ClassLabel indices; the emotion is the label already.
    example.update(modality=clip.modality - 1, vocal_channel=clip.vocal_channel - 1,
                   intensity=clip.intensity - 1)
    del example["emotion"]
    if "faces" in example:
        # Encoded here, in the worker, rather than frame by frame in TFDS's writer thread;
        # Beam also moves a tenth of the bytes between its stages.
        example["faces"] = [_jpeg(face) for face in example["faces"]]
    return [(example["name"], example)]


def _jpeg(face: np.ndarray, quality: int = 95) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(face, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, "OpenCV could not encode a face crop"
    return data.tobytes()


def record_problem(problems_dir: str, location: str, reason: str, detail: str, stage: str):
    """One file per problem, so that parallel and Beam workers never share a file; named by
    the problem, so that a clip processed again (a Beam runner retrying a bundle, or, Dask's,
    computing it once per use) reports it once.

    stage 'scan': passed over while listing files; 'decode': a listed clip that could not be
    used (or is left out by a rule of `clip_features.doubts`); 'kept': written, with a note."""
    record = {"clip": location, "reason": reason, "detail": detail, "stage": stage}
    name = hashlib.sha256(f"{location}|{reason}|{stage}".encode()).hexdigest()
    (epath.Path(problems_dir) / f"{name}.json").write_text(json.dumps(record))


def source_record(manual_dir: str) -> dict:
    """What a build read: the folder and a fingerprint of every RAVDESS file in it (where,
    and how many bytes), so that a later build can tell whether it would read the same."""
    scan = ravdess.scan(manual_dir)
    files = sorted({source.path for source in scan.sources} | {location.split("!")[0] for location, _ in scan.skipped})
    digest = hashlib.sha256()
    for path in map(epath.Path, files):
        size = path.stat().length if path.exists() else -1
        digest.update(f"{str(path).removeprefix(str(manual_dir))}|{size}\n".encode())
    return {"manual_dir": str(epath.Path(manual_dir).resolve()), "files": len(files), "fingerprint": digest.hexdigest()}


def write_summary(data_dir: str, problems_dir: str, found: int, source: dict | None = None) -> dict:
    problems = []
    for path in epath.Path(problems_dir).iterdir():
        problems.append(json.loads(path.read_text()))
        path.unlink()
    epath.Path(problems_dir).rmdir()
    problems.sort(key=lambda p: p["clip"])
    # A clip can break several rules; it is written once or not at all.
    unusable = len({p["clip"] for p in problems if p["stage"] == "decode"})
    summary = {"source": source, "clips_found": found, "examples_written": found - unusable,
               "problems": dict(collections.Counter(p["reason"] for p in problems if p["stage"] != "kept")),
               "problem_clips": [p for p in problems if p["stage"] != "kept"],
               "kept_with_notes": [p for p in problems if p["stage"] == "kept"]}
    (epath.Path(data_dir) / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"RAVDESS build: {summary['examples_written']} of {summary['clips_found']} clips written"]
    if summary["problems"]:
        lines.append("Not written, by reason: " + ", ".join(f"{n} {r}" for r, n in sorted(summary["problems"].items())))
        lines += [f"  {p['clip']}: {p['reason']} ({p['detail']})" for p in summary["problem_clips"]]
    if summary["kept_with_notes"]:
        lines.append("Written, with a note:")
        lines += [f"  {p['clip']}: {p['reason']} ({p['detail']})" for p in summary["kept_with_notes"]]
    return "\n".join(lines)
