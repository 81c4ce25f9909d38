"""What every corpus's TFDS builder shares (datasets/ravdess, datasets/cremad): one split per
speaker of a corpus's clips (`emorec.corpora`), each clip's face crops, 16 kHz waveform and
log-mel made by `emorec.media.clip_features` (in threads, or as an Apache Beam pipeline), and
every clip that cannot be used named with its reason in a summary printed at the end and saved
as `build_summary.json` beside the data. EMOREC_STRICT=1 makes any of them an error instead.

A builder names its corpus's clips for a config (`_scan`) and the fields of its own it stores
(`_clip_features`, `_clip_fields`); the rest is here.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import errno
import functools
import hashlib
import itertools
import json
import os

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from emorec import corpora, error_chain, errors, interrupted
from emorec.data import datasets
from emorec.media import clip_features, features, video
from emorec.media.faces import FacePipeline

SUMMARY_FILE = "build_summary.json"
_PROBLEMS_DIR = "_problems"


@dataclasses.dataclass
class CorpusConfig(tfds.core.BuilderConfig):
    with_faces: bool = True
    with_audio: bool = True
    face_pipeline: FacePipeline = FacePipeline()  # recorded in the dataset's metadata


class BuildError(errors.UserError):
    """A build that cannot be made as asked: `tfds build` says it in one line."""


class CorpusBuilder(tfds.core.GeneratorBasedBuilder):
    """A corpus as a TFDS dataset, one split per speaker (`actor_<speaker>`).

    TFDS's builder methods make it (`_info`, `_split_generators`, `_generate_examples`), and
    TFDS's own loop builds it, locally or on Beam. Two of TFDS's entry points are wrapped, each
    calling TFDS's: `download_and_prepare`, for what must be refused or said before TFDS starts
    (a data_dir built from other files, an interrupted build's leftovers, a data_dir that cannot
    be written, a full disk) and `_download_and_prepare`, for the build's summary of clips used
    and passed over, after TFDS has written the splits or failed. TFDS has no hook before a build
    or after its last split; a corpus's subclass implements only `_scan`, `_source_files`,
    `_clip_features` and `_clip_fields`."""

    TITLE = "corpus"  # the summary's first word
    HOMEPAGE = CITATION = LICENSE = ""
    # Called once per clip processed, without Beam (whose workers run elsewhere): a caller's
    # progress bar, such as `make demo`'s.
    on_clip = None

    @abc.abstractmethod
    def _scan(self, root: str) -> corpora.Scan:
        """The config's clips under the manual folder, and every file passed over."""

    def _source_files(self, root: str) -> corpora.Scan:
        """The files a build's record fingerprints: by default those of `_scan`."""
        return self._scan(root)

    def _clip_features(self) -> dict:
        """The corpus's own per-clip fields: {name: TFDS feature}."""
        return {}

    def _clip_fields(self, clip: corpora.Clip) -> dict:
        """The values of `_clip_features` for a clip."""
        return {}

    def _labels(self) -> tuple[str, ...]:
        """The label feature's names (a clip's emotion is stored as its index here)."""
        return corpora.EMOTIONS

    def _split(self, speaker: str) -> str:
        """The split of a speaker's clips."""
        return f"actor_{speaker}"

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        size = config.face_pipeline.size
        feats = {
            "name": tfds.features.Text(doc="the clip's file name"),
            "label": tfds.features.ClassLabel(names=self._labels()),
            "actor": np.int32,
            **self._clip_features(),
        }
        if config.with_faces:
            feats.update(
                faces=tfds.features.Video(
                    (None, size, size, 3), encoding_format="jpeg", doc="uint8 RGB face crop of every frame"
                ),
                timestamps=tfds.features.Tensor(shape=(None,), dtype=np.float32, doc="seconds, per frame"),
                fps=tfds.features.Scalar(np.float32, doc="the source's nominal frame rate"),
                face_detected=tfds.features.Tensor(
                    shape=(None,), dtype=np.bool_, doc="whether the detector found the face in that frame"
                ),
                face_fraction=tfds.features.Scalar(np.float32, doc="detected / examined frames"),
            )
        if config.with_audio:
            bytes_ = tfds.features.Encoding.BYTES
            feats.update(
                waveform=tfds.features.Tensor(
                    shape=(None,), dtype=np.float32, encoding=bytes_, doc=f"mono, {features.SAMPLE_RATE} Hz"
                ),
                log_mel=tfds.features.Tensor(
                    shape=(None, features.NUM_MELS),
                    dtype=np.float32,
                    encoding=bytes_,
                    doc=f"{features.WINDOW_MS} ms windows, {features.HOP_MS} ms hop",
                ),
            )
        # What made the crops travels with them: the trainer copies it into every export.
        metadata = tfds.core.MetadataDict(face_pipeline=config.face_pipeline.to_dict()) if config.with_faces else None
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(feats),
            supervised_keys=None,
            metadata=metadata,
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
            license=self.LICENSE,
        )

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
            wanted = self.source_record(str(config.manual_dir))
            if built is None:
                print(
                    f"Reusing {self.data_path}, built before builds recorded their source files: it may not "
                    f"be {wanted['manual_dir']} (tfds build --overwrite rebuilds it from there)"
                )
            elif built["fingerprint"] != wanted["fingerprint"]:
                raise BuildError(
                    f"{self.data_path} holds {self.name}/{self.builder_config.name} built from {built['manual_dir']} "
                    f"({built['files']} files), not from {wanted['manual_dir']} ({wanted['files']} files): "
                    "use another --data_dir, or rebuild it with tfds build --overwrite"
                )
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
                raise BuildError(
                    f"no space left on the device of --data_dir {self._data_dir_root}: free some, or "
                    "build to another --data_dir (nothing of this build was kept)"
                ) from None
            raise

    def _download_and_prepare(self, dl_manager, download_config):
        self._use_beam = bool(download_config.beam_runner or download_config.beam_options)
        # Paths as strings: they travel to Beam workers. epath works on GCS data dirs too.
        self._problems_dir = str(epath.Path(self.data_dir) / _PROBLEMS_DIR)
        epath.Path(self._problems_dir).mkdir(parents=True, exist_ok=True)
        self._found = 0

        def report(folder: str):
            epath.Path(folder).mkdir(parents=True, exist_ok=True)
            summary = write_summary(
                folder, self._problems_dir, self._found, self.source_record(self._manual_dir(dl_manager))
            )
            print(format_summary(summary, self.TITLE))
            return summary

        try:
            super()._download_and_prepare(dl_manager, download_config)
        except Exception as error:  # a build that failed says what it found (not one stopped by Ctrl-C,
            if not interrupted(error):  # also wrapped: nothing was written, no summary)
                report(self._failed_summary_dir)
            raise
        summary = report(str(self.data_dir))
        if summary["problems"] and clip_features.strict():
            raise BuildError(
                f"EMOREC_STRICT=1 and {len(summary['problem_clips'])} clip(s) could not be used "
                f"(see above); the dataset was not written"
            )

    @property
    def _failed_summary_dir(self) -> str:
        """Where a failed build's summary goes: TFDS removes the unfinished version's folder, not its parent."""
        return str(self.data_path.parent)

    def _clips(self, root: str) -> list[corpora.Clip]:
        scan = self._scan(root)
        for location, reason in scan.skipped:
            kind, _, detail = reason.partition(": ")
            record_problem(self._problems_dir, location, kind, detail, stage="scan")
        if not scan.clips:
            raise BuildError(
                f"no {self.TITLE} clips for config {self.builder_config.name!r} in {root}"
                + (
                    f" ({len(scan.skipped)} files passed over, each listed above with its reason)"
                    if scan.skipped
                    else ""
                )
                + f": {self._instructions()}"
            )
        return scan.clips

    def _instructions(self) -> str:
        return " ".join(self.MANUAL_DOWNLOAD_INSTRUCTIONS.split())

    def _manual_dir(self, dl_manager) -> str:
        """--manual_dir; BuildError, in one line, for one that is a file, missing or empty (TFDS
        asserts, or lists a file as a folder: tracebacks)."""
        try:
            return str(dl_manager.manual_dir)
        except NotADirectoryError as e:
            raise BuildError(f"--manual_dir {e.filename} is a file, not a folder: {self._instructions()}") from None
        except AssertionError as e:  # "Manual directory X does not exist or is empty. Create it ..."
            said = str(e).split(". ")[0].replace("Manual directory ", "--manual_dir ", 1)
            raise BuildError(f"{said}: {self._instructions()}") from None

    def source_record(self, manual_dir: str) -> dict:
        """What a build read: the folder and a fingerprint of every file of the corpus in it (where,
        and how many bytes), so that a later build can tell whether it would read the same."""
        scan = self._source_files(manual_dir)
        files = sorted({clip.path for clip in scan.clips} | {location.split("!")[0] for location, _ in scan.skipped})
        digest = hashlib.sha256()
        for path in map(epath.Path, files):
            size = path.stat().length if path.exists() else -1
            digest.update(f"{str(path).removeprefix(str(manual_dir))}|{size}\n".encode())
        return {
            "manual_dir": str(epath.Path(manual_dir).resolve()),
            "files": len(files),
            "fingerprint": digest.hexdigest(),
        }

    def _split_generators(self, dl_manager):
        root = self._manual_dir(dl_manager)
        clips = self._clips(root)
        self._found = len(clips)
        config = self.builder_config
        process = functools.partial(
            _example,
            problems_dir=self._problems_dir,
            with_faces=config.with_faces,
            with_audio=config.with_audio,
            pipeline=config.face_pipeline,
            fields=self._clip_fields,
        )
        if self.on_clip is not None and not self._use_beam:
            process = _reporting(process, self.on_clip)
        by_speaker = collections.defaultdict(list)
        for clip in clips:
            by_speaker[clip.speaker].append(clip)
        # TFDS cannot write an empty split: find each speaker's first usable clip now (its
        # example is kept, not recomputed) and leave out speakers that have none.
        speakers = sorted(by_speaker)
        firsts = clip_features.map_in_threads(
            functools.partial(_first_usable, process), [by_speaker[s] for s in speakers]
        )
        kept = []
        for speaker, (first, rest) in zip(speakers, firsts):
            if first:
                kept.append((speaker, first, rest))
            else:
                record_problem(
                    self._problems_dir,
                    self._split(speaker),
                    "empty split",
                    f"none of its {len(by_speaker[speaker])} clip(s) could be used; the split is left out",
                    "split",
                )
        if not kept:
            raise BuildError(
                f"none of the {len(clips)} clips in {root} could be used: each one's "
                f"reason is listed above and in {self._failed_summary_dir}/{SUMMARY_FILE}"
            )
        # Locally, one pool runs over every speaker's clips in the order TFDS writes the splits:
        # the next speaker's clips are processed while this one's are written, so no core idles
        # at a split's end.
        stream = (
            None
            if self._use_beam
            else clip_features.map_in_threads(
                lambda clip: (clip, process(clip)), [clip for _, _, rest in kept for clip in rest]
            )
        )
        return {
            self._split(speaker): self._generate_examples(first, rest, process, stream) for speaker, first, rest in kept
        }

    def _generate_examples(self, first, clips, process, stream):
        if self._use_beam:
            beam = tfds.core.lazy_imports.apache_beam

            @beam.ptransform_fn
            def examples_of_speaker(start):
                done = start | "first usable clip" >> beam.Create(first)
                rest = start | "clips" >> beam.Create(clips) | "process" >> beam.FlatMap(process)
                return (done, rest) | beam.Flatten()

            return examples_of_speaker()
        return itertools.chain(first, _taken(stream, clips))


def _reporting(process, on_clip):
    def run(clip):
        try:
            return process(clip)
        finally:
            on_clip()

    return run


def _taken(stream, clips):
    """The examples of `clips` from the stream shared by all splits, which holds them next."""
    for clip in clips:
        done, result = next(stream)
        if done is not clip:
            raise RuntimeError(f"TFDS asked for the splits out of order: {clip.location} was due, {done.location} came")
        yield from result


def _no_space(error: BaseException | None) -> bool:
    """Whether a disk ran full somewhere in `error`'s chain (TFDS and TensorFlow wrap the OSError)."""
    return any(
        getattr(e, "errno", None) == errno.ENOSPC or "No space left on device" in str(e) for e in error_chain(error)
    )


def _first_usable(process, clips):
    """(the first usable clip's [(key, example)], the clips after it); ([], []) if none is."""
    for i, clip in enumerate(clips):
        result = process(clip)
        if result:
            return result, clips[i + 1 :]
    return [], []


def _example(clip: corpora.Clip, problems_dir: str, fields, **options):
    """[(key, example)] for a usable clip; [] and a problem record for any other."""
    try:
        example = clip_features.clip_example(clip, **options)
    except video.MediaError as e:
        record_problem(problems_dir, clip.location, e.reason, e.detail, stage="decode")
        return []
    except Exception as e:  # noqa: BLE001  one clip never stops a build: it is named and counted
        record_problem(problems_dir, clip.location, "unreadable", f"{type(e).__name__}: {e}", stage="decode")
        return []
    doubts = clip_features.doubts(
        example.get("waveform"),
        len(example["timestamps"]) / float(example["fps"]) if "timestamps" in example else None,
        example.get("face_fraction"),
    )
    left_out = [(reason, detail) for reason, detail, kept in doubts if not kept]
    # A clip left out is listed for why it was left out, not also as written with a note.
    for reason, detail in left_out or [(reason, detail) for reason, detail, _ in doubts]:
        record_problem(problems_dir, clip.location, reason, detail, stage="decode" if left_out else "kept")
    if left_out:
        return []
    example.update(fields(clip))
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


def write_summary(data_dir: str, problems_dir: str, found: int, source: dict | None = None) -> dict:
    problems = []
    for path in epath.Path(problems_dir).iterdir():
        problems.append(json.loads(path.read_text()))
        path.unlink()
    epath.Path(problems_dir).rmdir()
    problems.sort(key=lambda p: p["clip"])
    # A clip can break several rules; it is written once or not at all.
    unusable = len({p["clip"] for p in problems if p["stage"] == "decode"})
    summary = {
        "source": source,
        "clips_found": found,
        "examples_written": found - unusable,
        "problems": dict(collections.Counter(p["reason"] for p in problems if p["stage"] != "kept")),
        "problem_clips": [p for p in problems if p["stage"] != "kept"],
        "kept_with_notes": [p for p in problems if p["stage"] == "kept"],
    }
    (epath.Path(data_dir) / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return summary


def format_summary(summary: dict, title: str) -> str:
    lines = [f"{title} build: {summary['examples_written']} of {summary['clips_found']} clips written"]
    if summary["problems"]:
        lines.append("Not written, by reason: " + ", ".join(f"{n} {r}" for r, n in sorted(summary["problems"].items())))
        lines += [f"  {p['clip']}: {p['reason']} ({p['detail']})" for p in summary["problem_clips"]]
    if summary["kept_with_notes"]:
        lines.append("Written, with a note:")
        lines += [f"  {p['clip']}: {p['reason']} ({p['detail']})" for p in summary["kept_with_notes"]]
    return "\n".join(lines)
