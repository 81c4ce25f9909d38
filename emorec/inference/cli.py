"""emorec-predict: emotion over time in a video file, an audio file or a camera.

    emorec-predict INPUT --model saved_models/NAME/VERSION [--mode queue|per-frame] [--annotate]
    emorec-predict 0 --serving localhost --serving_model demo --protocol grpc   # camera 0, TF Serving

Writes INPUT.timeline.csv as predictions come (a stopped run keeps its rows; Ctrl-C ends a
camera run), then INPUT.timeline.json (time, frame, per-class probabilities, top label,
whether a face was found), INPUT.timeline.png and, with --annotate, INPUT.annotated.mp4 to
--out, and prints a short summary. The class names are the model's own.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
from emorec import enrolment, plots, serving
from emorec.inference import outputs
from emorec.inference.predictor import Predictor, run_stream
from emorec.inference.sources import check_file, open_input
from emorec.media import audio, faces
from emorec.media.video import MediaError


def parse(argv):
    parser = argparse.ArgumentParser(prog="emorec-predict", description=__doc__.split("\n")[0])
    parser.add_argument("input", help="a video file, an audio file (audio-only models), or a camera index (0, 1, ...)")
    parser.add_argument("--model", help="a SavedModel folder: saved_models/NAME/VERSION")
    parser.add_argument("--serving", help="a TF Serving host instead of --model")
    parser.add_argument("--serving_model", help="the model's name on TF Serving")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--rest_port", type=int, default=8501)
    parser.add_argument("--grpc_port", type=int, default=8500)
    parser.add_argument("--mode", choices=("queue", "per-frame"), default="queue")
    parser.add_argument("--stride", type=int, help="queue mode: frames between predictions (default W/2)")
    parser.add_argument("--smoothing", type=float, default=0.0, help="queue mode: moving-average weight of the past, 0..1")
    parser.add_argument("--detect_every", type=int, default=2, help="run the face detector on every n-th frame")
    parser.add_argument("--max_width", type=int, help="frames are scaled down to this width (default: the "
                        "export's face pipeline, the width its training frames were decoded at)")
    parser.add_argument("--max_frames", type=int, help="stop after this many frames (cameras run until stopped)")
    parser.add_argument("--speaker_audio", nargs="+", metavar="FILE",
                        help="speaker-normalised models: other recordings of the same speaker to take the "
                             "speaker's statistics from (default: the input's own audio)")
    parser.add_argument("--out", default="predictions", help="output folder")
    parser.add_argument("--annotate", action="store_true", help="also write a copy of the video with box and emotion")
    args = parser.parse_args(argv)
    if bool(args.model) == bool(args.serving):
        parser.error("give either --model (a local SavedModel) or --serving (a TF Serving host)")
    if args.serving and not args.serving_model:
        parser.error("--serving needs --serving_model, the model's name on TF Serving")
    return args


def load_model(args):
    """(the model, what the export says of itself: `serving.read_export_info`)."""
    if args.model:
        model = serving.LocalModel(args.model)
    else:
        model = serving.ServingClient.from_server(args.serving_model, args.serving, args.rest_port,
                                                  grpc_port=args.grpc_port, protocol=args.protocol)
    return model, serving.read_export_info(model)


def check_out(out: str):
    """--out is made and written to before any work, so that it cannot fail at the end."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise RuntimeError(f"--out {out} cannot be written to ({e.strerror})") from None


def speaker_stats(model, paths):
    """The speaker's statistics from their other recordings (the model's own enrolment), or None."""
    if not paths:
        return None
    return enrolment.speaker_stats(model, [audio.load_audio(p) for p in paths])


def track_ahead(source, pipeline: faces.FacePipeline):
    """A file's face boxes found as the dataset builder finds them (a first pass over the
    whole file, then interpolation), so that the model sees the crops it trained on; None
    for a camera, or a file without any face (the stream marks those frames)."""
    if source.rewind is None:
        return None
    from tqdm import tqdm

    detector = faces.pipeline_detector(pipeline)
    frames = (frame.image for frame in tqdm(source.rewind(), total=source.count, unit="frame", desc="faces",
                                            leave=False))
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


def run(args) -> dict:
    check_out(args.out)
    if not args.input.isdigit():
        check_file(args.input)  # said before the model loads, not after
    model, info = load_model(args)
    class_names, pipeline = info["class_names"], faces.FacePipeline.from_dict(info["face_pipeline"])
    source = open_input(args.input, args.max_width or pipeline.decode_width, pipeline.fast_decode)
    if "faces" in model.signature and not source.has_video:
        raise ValueError(f"{args.input} has no picture, and this model takes faces: use an audio-only model")
    if "speaker_stats" in model.signature and not args.speaker_audio:
        print("note: this model normalises per speaker and no --speaker_audio was given, so the speaker's "
              "statistics come from this input's own audio; a short input tells little about its speaker "
              "(a single window: nothing), so give other recordings of the same speaker", file=sys.stderr)
    predictor = Predictor(model, class_names, args.mode, args.stride, args.smoothing, source.waveform,
                          args.detect_every, source_name=source.name, speaker_stats=speaker_stats(model, args.speaker_audio),
                          pipeline=pipeline, tracked=track_ahead(source, pipeline) if "faces" in model.signature else None)
    input_id = f"camera {args.input}" if args.input.isdigit() else os.path.abspath(args.input)
    stem = outputs.free_stem(args.out, "camera" if args.input.isdigit() else
                             os.path.splitext(os.path.basename(args.input))[0], input_id)
    if stem != os.path.splitext(os.path.basename(args.input))[0] and not args.input.isdigit():
        print(f"note: {args.out} holds another input's outputs under that name: these are {stem}.*", file=sys.stderr)
    if args.annotate and not source.has_video:
        print(f"note: {args.input} has no picture: nothing to annotate", file=sys.stderr)
    timeline = outputs.Timeline(args.out, stem, class_names)
    progress, annotated = None, None
    if source.count:  # files: a progress bar; cameras run until stopped
        from tqdm import tqdm
        progress = tqdm(total=min(source.count, args.max_frames or source.count), unit="frame", desc=stem)

    def on_frame(frame, last):
        nonlocal annotated
        if args.annotate and source.has_video:
            if annotated is None:
                height, width = frame.image.shape[:2]
                annotated = outputs.AnnotatedVideo(os.path.join(args.out, f"{stem}.annotated.mp4"), (width, height),
                                                   source.fps, None if args.input.isdigit() else args.input)
            annotated.write(frame.image, predictor.box, last and last["label"],
                            last and max(last["probabilities"].values()))
        if progress:
            progress.update()

    result = run_stream(predictor, source.frames, args.max_frames, on_frame, timeline.add)
    if progress:
        progress.close()
    rows, count, seconds = result["rows"], result["frames"], result["seconds"]
    meta = {"input": input_id, "stopped": result["stopped"], "mode": args.mode,
            "model": args.model or f"{args.serving}/{args.serving_model}",
            "window_frames": predictor.window, "stride": predictor.stride, "class_names": list(class_names),
            "frames": count, "seconds": round(seconds, 3), "frames_per_second": round(count / max(seconds, 1e-9), 2),
            "time_split": {"decode": round(result["decode"], 3), **{k: round(v, 3) for k, v in predictor.seconds.items()}}}
    paths = timeline.close(meta)
    if rows:
        paths["plot"] = plots.timeline(rows, class_names, os.path.join(args.out, f"{stem}.timeline.png"),
                                       f"{stem}: {args.mode} prediction")
    if annotated:
        paths["video"] = annotated.close()
    return {"rows": rows, "meta": meta, "paths": paths, "class_names": class_names}


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        result = run(args)
    except (MediaError, ValueError, RuntimeError, OSError) as e:  # ConnectionError and FileNotFoundError too
        print(f"emorec-predict: {e}", file=sys.stderr)
        return 2
    meta = result["meta"]
    print(outputs.summary(result["rows"], result["class_names"]))
    print(f"{meta['frames']} frames in {meta['seconds']:.1f} s ({meta['frames_per_second']:.0f} frames/s); "
          + ", ".join(f"{k} {v:.2f} s" for k, v in meta["time_split"].items()))
    print("wrote " + ", ".join(result["paths"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
