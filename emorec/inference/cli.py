"""emorec-predict's work: each input predicted by the model its options name (`options`, where
the command's usage is written), a preset's members chosen by what the input has, the outputs
written as predictions come."""

from __future__ import annotations

import os
import sys

import numpy as np

from emorec import checks, enrolment, folders, presets, tflite
from emorec.errors import UserError
from emorec.inference import outputs, photos
from emorec.inference.options import parse
from emorec.inference.predictor import Predictor, run_stream
from emorec.inference.sources import (
    MEDIA_EXTENSIONS,
    AudioAhead,
    check_file,
    file_problem,
    is_photo,
    open_input,
    open_photo,
)
from emorec.media import audio, clip_features, faces, video
from emorec.media.features import FPS
from emorec.media.video import MediaError


def preset_for(name: str, source, faces_found: bool = True) -> tuple[str, str | None]:
    """(`name` or the member of it that reads what the input has (voice; faces: a picture in
    which the detector finds a face, `faces_found`), a note saying so). A member left out is
    not averaged in: the face model's reading of a faceless crop is no evidence."""
    card = presets.card(name)
    has = {"voice": source.waveform is not None, "faces": source.has_video and faces_found}
    if all(has[m] for m in card["modalities"]) or "members" not in card:
        return name, None
    lacks = "no sound" if not has["voice"] else "no picture" if not source.has_video else "no face the detector finds"
    # An audio file has no picture by its kind: the preset's header line names the member that answers.
    audio_file = os.path.splitext(source.name)[1].lower() in video.AUDIO_EXTENSIONS
    for member in card["members"]:
        if all(has[m] for m in presets.card(member)["modalities"]):
            return member, None if audio_file else (
                f"{source.name} has {lacks}: preset {member}, the "
                f"{' + '.join(presets.card(member)['modalities'])} of {name}, answers alone"
            )
    raise UserError(f"{source.name} has {lacks}, and nothing else that preset {name} reads")


def load_model(args, preset: str | None = None):
    """(the model, what it says of itself: `checks.read_export_info`, what it is in a line). TensorFlow
    is imported only where the model needs it: not for a preset run by LiteRT (`--runtime lite`)."""
    if preset and args.runtime == "lite":
        from emorec import preset_tflite

        model = preset_tflite.model(preset)
        return model, model.export_info(), f"preset {presets.headline(preset)}"
    from emorec import serving

    if preset:
        from emorec import models

        card = presets.card(preset)
        model = serving.KerasModel(
            models.from_preset(preset), card["classes"], face_pipeline=card["face_pipeline"], name=f"preset {preset}"
        )
        return model, checks.read_export_info(model), f"preset {presets.headline(preset)}"
    if args.model:
        model = tflite.TFLiteModel(args.model) if args.model.endswith(".tflite") else serving.LocalModel(args.model)
    else:
        model = serving.ServingClient.from_server(
            args.serving_model, args.serving, args.rest_port, grpc_port=args.grpc_port, protocol=args.protocol
        )
    return model, checks.read_export_info(model), f"model {model.describe()}"


def inputs_of(spec: str) -> list[str]:
    """The input, or a folder's media files (`MEDIA_EXTENSIONS`) in name order; every other
    entry of the folder is said by name, one line each, so that none is passed over unseen."""
    if spec.isdigit() or not os.path.isdir(spec):
        return [spec]
    found = []
    for path in sorted(os.path.join(spec, name) for name in os.listdir(spec)):
        reason = not_an_input(path)
        if reason:
            print(f"note: {path}: {reason}: passed over", file=sys.stderr)
        else:
            found.append(path)
    if not found:
        raise UserError(f"{spec}: a folder with no audio, video or photo file in it ({', '.join(MEDIA_EXTENSIONS)})")
    return found


def not_an_input(path: str) -> str | None:
    """Why a folder's entry is not predicted, None for a media file. A sub-folder is not
    searched: it may hold another speaker's clips, and a folder is taken as one speaker's."""
    if os.path.isdir(path):
        return "a sub-folder (its files are not searched: give it as an input of its own)"
    if not path.lower().endswith(MEDIA_EXTENSIONS):
        return (
            "not an audio, video or photo file (a folder's files are read by their extension: "
            f"{', '.join(MEDIA_EXTENSIONS)})"
        )
    return file_problem(path)


def check_out(out: str):
    """--out is made and written to before any work, so that it cannot fail at the end."""
    folders.refuse_unwritable(f"--out {out}", out)


# An input shorter than the model's window is padded as training pads it; it is said only where
# more than half the window is padding (an ordinary 4.0 s clip in a 4.27 s window is not worth a
# word; half a sentence is: the middle 2.2 s of 40 RAVDESS clips scored 21 of 40 against 27).
NOTED_PADDING = 0.5


def input_notes(source, signature: dict, window_seconds: float) -> list[str]:
    """What the builder's rules (`clip_features.doubts`) say of the part of a file the model
    reads: silence, audio and video of different lengths, less than a window. The input is
    still predicted: these say how far to trust it."""
    if source.count is None:  # a camera: no length to judge
        return []
    waveform = source.waveform if "waveform" in signature else None
    video_seconds = source.count / source.fps if "faces" in signature and source.fps else None
    return [
        f"{source.name}: {reason}: {detail}"
        for reason, detail, _ in clip_features.doubts(
            waveform, video_seconds, window_seconds=window_seconds, noted_padding=NOTED_PADDING
        )
    ]


def track_ahead(source, pipeline: faces.FacePipeline):
    """A file's face boxes found as the dataset builder finds them (a first pass over the
    whole file, then interpolation), so that the model sees the crops it trained on; None
    for a camera, or a file without any face (the stream marks those frames)."""
    if source.rewind is None:
        return None
    from tqdm import tqdm

    detector = faces.pipeline_detector(pipeline)
    frames = (
        frame.image for frame in tqdm(source.rewind(), total=source.count, unit="frame", desc="faces", leave=False)
    )
    found, count = faces.detect(frames, detector, pipeline.detect_every)
    if not found:
        return None
    boxes, detected, examined = faces.interpolate(found, count, pipeline.detect_every)
    # Each frame answers "was a face there" with its nearest examined frame's answer.
    looked = np.flatnonzero(examined)
    after = np.minimum(np.searchsorted(looked, np.arange(count)), len(looked) - 1)
    before = np.maximum(after - 1, 0)
    frames = np.arange(count)
    nearest = np.where(frames - looked[before] <= looked[after] - frames, looked[before], looked[after])
    return boxes, detected[nearest], np.ones(count, bool)


def tracked_faces(source, pipeline: faces.FacePipeline, info: dict, model, ahead: tuple | None):
    """`track_ahead`'s boxes for a model that takes faces: those found before the preset's member
    was chosen (`ahead`: (its face pipeline, the boxes)) where the model's pipeline is that one."""
    if "faces" not in model.signature:
        return None
    if ahead is not None and ahead[0] == info["face_pipeline"]:
        return ahead[1]
    return track_ahead(source, pipeline)


def speaker_recording(path: str) -> np.ndarray:
    """One --speaker_audio's waveform; a file missing or unreadable is a UserError naming the
    option (read once, before the inputs: a folder says it once, not once per file)."""
    problem = file_problem(path)
    if problem is None:
        try:
            return audio.load_audio(path)
        except MediaError as e:
            problem = f"could not be read as audio ({e.reason}: {e.detail.removeprefix(path + ': ')})"
    raise UserError(f"--speaker_audio {path}: {problem}: give another recording of the speaker, or leave it out")


def speaker_recordings(paths: list[str]) -> list[np.ndarray]:
    """--speaker_audio's waveforms, read once for every input, less those that are silent (the
    builder's rule, `clip_features.doubts`), each said: silence tells nothing of the speaker's
    voice, and its windows would count as the speaker heard."""
    kept = []
    for path in paths:
        waveform = speaker_recording(path)
        silent = [detail for reason, detail, _ in clip_features.doubts(waveform) if reason == "silent audio"]
        if silent:
            print(
                f"note: --speaker_audio {path}: silent audio ({silent[0]}): not taken as the speaker's speech",
                file=sys.stderr,
            )
        else:
            kept.append(waveform)
    return kept


def run(args):
    """Predicts every input (a folder's files in turn, a photo as a photo): yields each one's
    result, or its error for a folder's file that cannot be read (the others go on)."""
    if args.preset:
        card = presets.card(args.preset)  # an unknown name is said first
        if args.speaker_audio and "speaker_stats" not in card["inputs"]:
            raise UserError(
                f"--speaker_audio: preset {args.preset} takes no speaker statistics (it reads "
                f"{' + '.join(card['modalities'])}): leave --speaker_audio out"
            )
    check_out(args.out)
    if args.input.isdigit() and os.path.exists(args.input):
        print(
            f"note: {args.input} is read as camera {args.input}; for the file of that name, write ./{args.input}",
            file=sys.stderr,
        )
    paths = inputs_of(args.input)
    for path in paths:
        if not path.isdigit():
            check_file(path)  # said before the model loads, not after
    if args.speaker_audio and all(is_photo(path) for path in paths):
        print("note: --speaker_audio is not used: a photo has no voice to adapt to", file=sys.stderr)
    recordings = speaker_recordings(args.speaker_audio) if args.speaker_audio else None
    loaded, speaker = {}, None  # models by preset (a folder may hold video and audio); one speaker's state
    audio_ahead = AudioAhead()
    try:
        for i, path in enumerate(paths):
            if i + 1 < len(paths):
                audio_ahead.start(paths[i + 1])
            try:
                result = (
                    predict_photo(args, path, loaded, speaker)
                    if is_photo(path)
                    else predict_input(args, path, loaded, speaker, recordings, audio_ahead.load)
                )
            except MediaError as e:
                if len(paths) == 1:
                    raise
                yield {"error": str(e), "input": path}
                continue
            speaker = result.pop("speaker")
            yield result
    finally:
        audio_ahead.close()


def output_stem(out: str, path: str, kind: str = "timeline") -> tuple[str, str]:
    """(what the outputs say the input is, the name they are written under: `outputs.free_stem`),
    a name other than the input's said."""
    if path.isdigit():
        return f"camera {path}", outputs.free_stem(out, "camera", f"camera {path}", kind)
    base = os.path.splitext(os.path.basename(path))[0]
    stem = outputs.free_stem(out, base, os.path.abspath(path), kind)
    if stem != base:
        print(f"note: {out} holds another input's outputs under that name: these are {stem}.*", file=sys.stderr)
    return os.path.abspath(path), stem


def photo_refusal(path: str, described: str, modalities: list[str]) -> str:
    faces_alone = [name for name in presets.names() if presets.card(name)["modalities"] == ["faces"]]
    return (
        f"{path} is a photo, and {described} reads {' + '.join(modalities)}: give a preset "
        f"of faces alone (--preset {' or '.join(faces_alone)}) or a model that takes faces alone"
    )


def predict_photo(args, path: str, loaded: dict, speaker) -> dict:
    """A photo's faces (`photos.predict`) by a model of faces alone: a preset of members runs its
    faces, as on a silent video (`preset_for`). `speaker` passes through: a photo has no voice."""
    key, photo = None, None
    if args.preset:
        pipeline = faces.FacePipeline.from_dict(presets.card(args.preset)["face_pipeline"])
        photo = open_photo(path, args.max_width or pipeline.decode_width)
        key, _ = preset_for(args.preset, photo.source)  # its note unsaid: no one expects a photo's sound
        if presets.card(key)["modalities"] != ["faces"]:  # said before a voice model loads
            raise UserError(photo_refusal(path, f"preset {key}", presets.card(key)["modalities"]))
    if key not in loaded:
        loaded[key] = load_model(args, key)
    model, info, described = loaded[key]
    modalities = [name for name, given in (("faces", "faces"), ("voice", "waveform")) if given in model.signature]
    if modalities != ["faces"]:
        raise UserError(photo_refusal(path, described, modalities))
    class_names, pipeline = info["class_names"], faces.FacePipeline.from_dict(info["face_pipeline"])
    photo = photo or open_photo(path, args.max_width or pipeline.decode_width)
    rows = photos.predict(model, class_names, photo, pipeline, args.mode)
    result = {"input": path, "faces": rows, "class_names": class_names, "described": described, "speaker": speaker}
    if not rows:  # said in one line; no files
        return result
    input_id, stem = output_stem(args.out, path, "faces")
    height, width = photo.image.shape[:2]
    meta = {
        "input": input_id,
        "model": described,
        "mode": args.mode,
        "class_names": list(class_names),
        "width": width,
        "height": height,
    }
    result["paths"] = outputs.write_faces(args.out, stem, class_names, rows, meta)
    if args.annotate:
        result["paths"]["image"] = outputs.write_annotated_photo(
            os.path.join(args.out, f"{stem}.annotated{os.path.splitext(path)[1].lower()}"), photo.image, rows
        )
    return result


def predict_input(
    args, path: str, loaded: dict, speaker, recordings: list[np.ndarray] | None = None, load_audio=None
) -> dict:
    """`recordings`: --speaker_audio's (`speaker_recordings`), None without it; `load_audio`: the
    input's audio (`AudioAhead.load`), decoded here without it."""
    load_audio = load_audio or audio.load_audio
    source, key, ahead, voice_alone = None, None, None, None
    if args.preset:  # the input decides which of a preset's members runs
        card = presets.card(args.preset)
        pipeline = faces.FacePipeline.from_dict(card["face_pipeline"])
        source = open_input(path, args.max_width or pipeline.decode_width, pipeline.fast_decode, load_audio)
        if "faces" in card["modalities"] and source.has_video and source.rewind:  # a file: its faces found first
            ahead = (card["face_pipeline"], track_ahead(source, pipeline))
        # No face found where there is sound: the voice answers alone (a silent one keeps the faces,
        # its frames marked faceless, as there is nothing else to answer from).
        faceless = ahead is not None and ahead[1] is None and source.waveform is not None
        key, note = preset_for(args.preset, source, faces_found=not faceless)
        if faceless:  # said for each file, with its other notes, and kept in its timeline
            voice_alone = note
        elif note and key not in loaded:  # a folder's audio files, or silent videos: said once
            print(f"note: {note}", file=sys.stderr)
        if note and key not in loaded and recordings is not None and "speaker_stats" not in presets.card(key)["inputs"]:
            print(
                f"note: preset {key} takes no speaker statistics: --speaker_audio is not used for it", file=sys.stderr
            )
    if key not in loaded:
        loaded[key] = load_model(args, key)
    model, info, described = loaded[key]
    if recordings is not None and "speaker_stats" not in model.signature and not args.preset:
        raise UserError(f"--speaker_audio: {described} takes no speaker statistics: leave --speaker_audio out")
    class_names, pipeline = info["class_names"], faces.FacePipeline.from_dict(info["face_pipeline"])
    source = source or open_input(path, args.max_width or pipeline.decode_width, pipeline.fast_decode, load_audio)
    if "faces" in model.signature and not source.has_video:
        raise UserError(f"{path} has no picture, and this model takes faces: use an audio-only model")
    prior = "speaker_windows" in model.signature
    if "speaker_stats" in model.signature:
        if recordings and speaker is None:
            speaker = enrolment.enrol(model, recordings)
        if prior and args.speaker == "cold":
            speaker = None
        if not prior and speaker is None:
            given = "every --speaker_audio was silent" if recordings is not None else "no --speaker_audio was given"
            print(
                f"note: this model normalises per speaker and {given}, so the speaker's "
                "statistics come from this input's own audio; a short input tells little about its speaker "
                "(a single window: nothing), so give other recordings of the same speaker",
                file=sys.stderr,
            )
    predictor = Predictor(
        model,
        class_names,
        args.mode,
        args.stride,
        args.smoothing,
        source.waveform,
        args.detect_every,
        source_name=source.name,
        speaker=speaker,
        adapt=args.speaker == "online",
        pipeline=pipeline,
        tracked=tracked_faces(source, pipeline, info, model, ahead),
    )
    notes = [voice_alone] * bool(voice_alone) + input_notes(source, model.signature, predictor.window / FPS)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    input_id, stem = output_stem(args.out, path)
    if args.annotate and not source.has_video:
        print(f"note: {path} has no picture: nothing to annotate", file=sys.stderr)
    timeline = outputs.Timeline(args.out, stem, class_names)
    progress, annotated = None, None
    if source.count:  # files: a progress bar; cameras run until stopped
        from tqdm import tqdm

        progress = tqdm(
            total=min(source.count, args.max_frames or source.count),
            unit="frame",
            desc=outputs.shown(stem),
            leave=False,
        )

    def on_frame(frame, last):
        nonlocal annotated
        if args.annotate and source.has_video:
            if annotated is None:
                height, width = frame.image.shape[:2]
                annotated = outputs.AnnotatedVideo(
                    os.path.join(args.out, f"{stem}.annotated.mp4"),
                    (width, height),
                    source.fps,
                    None if path.isdigit() else path,
                )
            annotated.write(
                frame.image, predictor.box, last and last["label"], last and max(last["probabilities"].values())
            )
        if progress:
            progress.update()

    result = run_stream(predictor, source.frames, args.max_frames, on_frame, timeline.add)
    if progress:
        progress.close()
    rows, count, seconds = result["rows"], result["frames"], result["seconds"]
    meta = {
        "input": input_id,
        "notes": notes,
        "stopped": result["stopped"],
        "mode": args.mode,
        "model": described,
        "window_frames": predictor.window,
        "stride": predictor.stride,
        "class_names": list(class_names),
        "speaker": (
            None
            if predictor.speaker is None
            else {"adapted": predictor.adapt, "windows_heard": predictor.speaker.count}
        ),
        "frames": count,
        "seconds": round(seconds, 3),
        "frames_per_second": round(count / max(seconds, 1e-9), 2),
        "time_split": {"decode": round(result["decode"], 3), **{k: round(v, 3) for k, v in predictor.seconds.items()}},
    }
    paths = timeline.close(meta)
    # A plot of one prediction is one point per class, which the printed line and the CSV say
    # better; a folder of short clips spent more time drawing those than predicting (issue 42).
    if len(rows) > 1:
        from emorec import plots  # matplotlib: a second to import, not needed before the second row

        paths["plot"] = plots.timeline(
            rows,
            class_names,
            os.path.join(args.out, f"{stem}.timeline.png"),
            f"{outputs.shown(stem)}: {args.mode} prediction",
        )
    if annotated:
        paths["video"] = annotated.close(
            *((rows[-1]["label"], max(rows[-1]["probabilities"].values())) if rows else ())
        )
    return {
        "rows": rows,
        "meta": meta,
        "paths": paths,
        "class_names": class_names,
        "input": path,
        "described": described,
        "speaker": predictor.speaker if predictor.adapt else speaker,
    }


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.list_presets:
        print(presets.listing())
        return 0
    failed, described = 0, None
    for result in run(args):
        if "error" in result:
            failed += 1
            print(f"emorec-predict: {result['error']} (passed over)", file=sys.stderr)
            continue
        name = outputs.shown(os.path.basename(result["input"]))
        if "faces" in result and not result["faces"]:
            print(f"{name}: no face found")
            continue
        if result["described"] != described:
            described = result["described"]
            print(described)
        if "faces" in result:
            print(f"{name}: " + outputs.photo_summary(result["faces"]))
        else:
            meta = result["meta"]
            print(f"{name}: " + outputs.summary(result["rows"], result["class_names"]))
            print(
                f"  {meta['frames']} frames in {meta['seconds']:.1f} s ({meta['frames_per_second']:.0f} "
                "frames/s); " + ", ".join(f"{k} {v:.2f} s" for k, v in meta["time_split"].items())
            )
        print("  wrote " + outputs.shown(", ".join(result["paths"].values())))
    return 1 if failed else 0


if __name__ == "__main__":
    from emorec.errors import guarded

    sys.exit(guarded("emorec-predict", main))
