"""What a prediction run leaves: the timeline as JSON and CSV, a plot, an annotated video."""
from __future__ import annotations

import csv
import json
import os
import subprocess

import cv2
import numpy as np

from emorec import folders
from emorec.errors import UserError
from emorec.media import video


class Timeline:
    """timeline.csv written row by row as predictions come (a stopped run, a camera's
    included, keeps every row it had), and timeline.json ({meta, rows}) when it closes."""

    def __init__(self, out_dir: str, stem: str, class_names):
        self.class_names, self.rows = list(class_names), []
        self.paths = {"json": os.path.join(out_dir, f"{stem}.timeline.json"),
                      "csv": os.path.join(out_dir, f"{stem}.timeline.csv")}
        with folders.writing(self.paths["csv"]):
            self._file = open(self.paths["csv"], "w", newline="")
            self._csv = csv.writer(self._file)
            self._csv.writerow(["time", "frame", *self.class_names, "label", "face"])

    def add(self, rows: list[dict]):
        with folders.writing(self.paths["csv"]):
            for row in rows:
                face = "" if row["face"] is None else int(row["face"])
                self._csv.writerow([row["time"], row["frame"], *(row["probabilities"][c] for c in self.class_names),
                                    row["label"], face])
            self._file.flush()
        self.rows += rows

    def close(self, meta: dict) -> dict:
        """The json is there only once whole: it is what says the input's timeline is complete."""
        with folders.writing(self.paths["csv"]):
            self._file.close()
        folders.write_whole(self.paths["json"], json.dumps({**meta, "rows": self.rows}, indent=1))
        return dict(self.paths)


def shown(name: str) -> str:
    """`name` as it can be printed and drawn: the bytes of a file name that are not UTF-8
    (which Python holds as lone surrogates, and a UTF-8 stdout or matplotlib's text refuses)
    as \\x escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def free_stem(out_dir: str, stem: str, source: str) -> str:
    """`stem`, or `stem-2`, `stem-3`, ... when `out_dir` holds another input's outputs under
    that name (a rerun of the same input replaces its own)."""
    for k in range(1, 10_000):
        candidate = stem if k == 1 else f"{stem}-{k}"
        previous = os.path.join(out_dir, f"{candidate}.timeline.json")
        if not os.path.exists(os.path.join(out_dir, f"{candidate}.timeline.csv")) and not os.path.exists(previous):
            return candidate
        if os.path.exists(previous):
            try:
                with open(previous) as f:
                    if json.load(f).get("input") == source:
                        return candidate
            except (OSError, ValueError):
                pass  # unreadable: not known to be ours, so left alone
    raise UserError(f"{out_dir} holds outputs of 10,000 inputs named {stem}: give another --out")


class AnnotatedVideo:
    """An H.264 copy of the input with the face box and the current emotion drawn on each
    frame; the input's audio, if any, is carried over. A frame that comes before the first
    prediction waits for it and shows it: the window that prediction read covers the frame
    (an input shorter than a window is predicted only at its end, `close`)."""

    def __init__(self, path: str, size: tuple[int, int], fps: float, audio_from: str | None = None):
        width, height = size
        cmd = [video.ffmpeg(), "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", f"{fps or 30:.5f}", "-i", "-"]
        if audio_from:
            cmd += ["-i", audio_from, "-map", "0:v", "-map", "1:a?", "-c:a", "aac"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", path]
        self.path, self.waiting = path, []
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, image: np.ndarray, box, label: str | None, probability: float | None):
        """Draws the frame with the last prediction (`label`), or keeps it until there is one."""
        if label is None:
            self.waiting.append((image, box))
            return
        self._draw_waiting(label, probability)
        self._draw(image, box, label, probability)

    def _draw_waiting(self, label: str | None, probability: float | None):
        waiting, self.waiting = self.waiting, []
        for image, box in waiting:
            self._draw(image, box, label, probability)

    def _draw(self, image: np.ndarray, box, label: str | None, probability: float | None):
        frame = np.ascontiguousarray(image).copy()
        if box is not None:
            cx, cy, side = box
            x0, y0, x1, y1 = (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))
            cv2.rectangle(frame, (x0, y0), (x1, y1), (60, 220, 60), 2)
            anchor = (x0, max(y0 - 8, 16))
        else:
            anchor = (8, 24)
        text = f"{label} {probability:.0%}" if label else "..."
        cv2.putText(frame, text if box is not None else f"{text} (no face)", anchor,
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        try:
            self.process.stdin.write(frame.tobytes())
        except BrokenPipeError:  # ffmpeg ended early: its own words say why, not "Broken pipe"
            self.process.stdin = None
            self.close()

    def close(self, label: str | None = None, probability: float | None = None) -> str:
        """`label`, `probability`: the last prediction, for the frames still waiting for one
        ("..." where there is none: a run stopped before its first)."""
        if self.process.stdin:
            self._draw_waiting(label, probability)
            self.process.stdin.close()
        if self.process.wait():
            said = self.process.stderr.read().decode(errors="replace").strip().splitlines() or ["no reason given"]
            raise UserError(f"ffmpeg could not write {self.path}: {said[-1]}")
        return self.path


def summary(rows: list[dict], class_names) -> str:
    """A few lines a person reads: the dominant emotion, where it changes, faceless stretches."""
    if not rows:
        return "no prediction (the input is shorter than one window)"
    labels = [r["label"] for r in rows]
    counts = {c: labels.count(c) for c in class_names if c in labels}
    top = max(counts, key=counts.get)
    changes = [(rows[i]["time"], labels[i]) for i in range(1, len(rows)) if labels[i] != labels[i - 1]]
    faceless = sum(r["face"] is False for r in rows)
    span = (f"{len(rows)} predictions from {rows[0]['time']:.2f} s to {rows[-1]['time']:.2f} s" if len(rows) > 1
            else f"1 prediction at {rows[0]['time']:.2f} s")
    lines = [f"{span}; mostly {top} "
             f"({counts[top] / len(rows):.0%}); "
             + ", ".join(f"{c} {n}" for c, n in sorted(counts.items(), key=lambda x: -x[1]))]
    if changes:
        lines.append("changes: " + ", ".join(f"{t:.2f} s -> {label}" for t, label in changes[:8])
                     + (" ..." if len(changes) > 8 else ""))
    if faceless:
        lines.append(f"{faceless} prediction(s) without a face found")
    return "\n".join(lines)

