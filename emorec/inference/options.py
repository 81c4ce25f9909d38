"""emorec-predict: emotion over time in a video or audio file, a folder of them or a camera; per face in a photo.

    emorec-predict INPUT                                  # the default preset: no model to train first
    emorec-predict photo.jpg [--annotate]                 # a row per face: its box, its emotion
    emorec-predict INPUT --preset NAME                    # another preset (--list-presets)
    emorec-predict INPUT --runtime tf                     # the preset in TensorFlow rather than LiteRT
    emorec-predict INPUT --model saved_models/NAME/VERSION [--mode queue|per-frame] [--annotate]
    emorec-predict 0 --serving localhost --serving_model demo --protocol grpc   # camera 0, TF Serving

A preset made of members (faces and voice) runs the members the input has: both on a video
with sound, the voice on an audio file, the faces on a silent video or a photo. A folder is taken
as one speaker's clips, in name order (its photos are predicted as photos; its sub-folders and
files of no media extension are named and passed over): a speaker-normalised model learns the
speaker from each clip for the next (--speaker=cold: every clip, every window, as a new speaker's).

Writes INPUT.timeline.csv as predictions come (a stopped run keeps its rows; Ctrl-C ends a
camera run), then INPUT.timeline.json (time, frame, per-class probabilities, top label,
whether a face was found), INPUT.timeline.png (for two predictions or more: a clip shorter
than two windows has one) and, with --annotate, INPUT.annotated.mp4 to
--out, and prints a short summary. The class names are the model's own.

A photo (.jpg, .jpeg, .png, .bmp, .webp) needs a model of faces alone: every face the detector
finds is cropped as a video's faces are and predicted as a one-frame video's; a row per face (its
box x, y, w, h in the photo's pixels, per-class probabilities, top label) goes to
INPUT.faces.csv and INPUT.faces.json, and with --annotate the photo with boxes and labels to
INPUT.annotated.EXT. A photo without a face is said in one line ("INPUT: no face found", no
files, exit status 0, as a faceless video is predicted rather than refused).
"""

from __future__ import annotations

import argparse
import os

from emorec import litert, presets


def parse(argv):
    parser = argparse.ArgumentParser(prog="emorec-predict", description=__doc__.split("\n")[0])
    parser.add_argument(
        "input",
        nargs="?",
        help="a video file, an audio file, a photo, a folder of them (one "
        "speaker's clips), or a camera index (0, 1, ...)",
    )
    parser.add_argument("--preset", help=f"a preset that ships with emorec (default {presets.DEFAULT}; --list-presets)")
    parser.add_argument("--list-presets", action="store_true", help="list the presets with their measured accuracy")
    parser.add_argument(
        "--runtime",
        choices=("lite", "tf"),
        default=os.environ.get("EMOREC_RUNTIME") or ("lite" if litert.installed() else "tf"),
        help="how a preset runs. lite: its TFLite file, made once with TensorFlow and cached "
        "(EMOREC_CACHE, default ~/.cache/emorec), run by LiteRT without starting TensorFlow "
        "(by tf.lite where LiteRT is not installed); the default where ai-edge-litert is "
        "installed. tf: the Keras model in TensorFlow; the default otherwise. EMOREC_RUNTIME "
        "sets the default",
    )
    parser.add_argument("--model", help="a SavedModel folder (saved_models/NAME/VERSION) or a .tflite file")
    parser.add_argument("--serving", help="a TF Serving host instead of --model")
    parser.add_argument("--serving_model", help="the model's name on TF Serving")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--rest_port", type=int, default=8501)
    parser.add_argument("--grpc_port", type=int, default=8500)
    parser.add_argument("--mode", choices=("queue", "per-frame"), default="queue")
    parser.add_argument("--stride", type=int, help="queue mode: frames between predictions (default W/2)")
    parser.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        help="queue mode: moving-average weight of the past, 0 (none, the default) to under 1",
    )
    parser.add_argument("--detect_every", type=int, default=2, help="run the face detector on every n-th frame")
    parser.add_argument(
        "--max_width",
        type=int,
        help="frames are scaled down to this width (default: the "
        "export's face pipeline, the width its training frames were decoded at)",
    )
    parser.add_argument("--max_frames", type=int, help="stop after this many frames (cameras run until stopped)")
    parser.add_argument(
        "--speaker_audio",
        nargs="+",
        metavar="FILE",
        help="speaker-normalised models: other recordings of the same speaker to take the "
        "speaker's statistics from (an enrolment)",
    )
    parser.add_argument(
        "--speaker",
        choices=("online", "cold"),
        default="online",
        help="models with a prior of the training speakers: learn the speaker as the input goes "
        "(online, the default), or take every window as a new speaker's (cold)",
    )
    parser.add_argument("--out", default="predictions", help="output folder")
    parser.add_argument(
        "--annotate", action="store_true", help="also write a copy of the video (or photo) with box and emotion"
    )
    args = parser.parse_args(argv)
    for option, value, allowed in out_of_range(args):  # before any work, as the trainer's flags are
        parser.exit(2, f"{parser.prog}: --{option} {value}: must be {allowed}\n")
    if args.list_presets:
        return args
    if args.input is None:
        parser.error("give an INPUT: a video or audio file, a photo, a folder of them, or a camera index")
    if sum(bool(x) for x in (args.model, args.serving, args.preset)) > 1:
        parser.error(
            "give one of --preset (a preset), --model (a local SavedModel or .tflite) and --serving (a TF Serving host)"
        )
    if args.serving and not args.serving_model:
        parser.error("--serving needs --serving_model, the model's name on TF Serving")
    if not (args.model or args.serving):
        args.preset = args.preset or presets.DEFAULT
    return args


# Each numeric option's range, in the words a refusal says it (argparse checks the type only).
OPTION_RANGES = {
    "smoothing": (
        lambda v: 0 <= v < 1,
        "in [0, 1): the weight of the past in the moving average, 0 for none "
        "(1 would repeat the first prediction for ever)",
    ),
    "stride": (lambda v: v >= 1, "at least 1 frame"),
    "detect_every": (lambda v: v >= 1, "at least 1 (every frame)"),
    "max_width": (lambda v: v >= 1, "at least 1 pixel"),
    "max_frames": (lambda v: v >= 1, "at least 1"),
    "rest_port": (lambda v: 1 <= v <= 65535, "a port, 1 to 65535"),
    "grpc_port": (lambda v: 1 <= v <= 65535, "a port, 1 to 65535"),
}


def out_of_range(args) -> list[tuple[str, object, str]]:
    """(option, value, its range) for each option given a value outside its range."""
    return [
        (option, getattr(args, option), allowed)
        for option, (holds, allowed) in OPTION_RANGES.items()
        if getattr(args, option) is not None and not holds(getattr(args, option))
    ]
