"""Streaming inference: frames from a file, camera or stream, through a local SavedModel or
TF Serving, into a timeline (`emorec-predict` is the command line)."""
from emorec.inference.predictor import Predictor, run_stream
from emorec.inference.sources import Frame, open_camera, open_file, open_input

__all__ = ["Predictor", "run_stream", "Frame", "open_camera", "open_file", "open_input"]
