"""What a prediction run leaves: the timeline as JSON and CSV, a plot, an annotated video; for a
photo, its faces as JSON and CSV and an annotated copy."""

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
        self.paths = {
            "json": os.path.join(out_dir, f"{stem}.timeline.json"),
            "csv": os.path.join(out_dir, f"{stem}.timeline.csv"),
        }
        with folders.writing(self.paths["csv"]):
            self._file = open(self.paths["csv"], "w", newline="")
            self._csv = csv.writer(self._file)
            self._csv.writerow(["time", "frame", *self.class_names, "label", "face"])

    def add(self, rows: list[dict]):
        with folders.writing(self.paths["csv"]):
            for row in rows:
                face = "" if row["face"] is None else int(row["face"])
                self._csv.writerow(
                    [
                        row["time"],
                        row["frame"],
                        *(row["probabilities"][c] for c in self.class_names),
                        row["label"],
                        face,
                    ]
                )
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


def free_stem(out_dir: str, stem: str, source: str, kind: str = "timeline") -> str:
    """`stem`, or `stem-2`, `stem-3`, ... when `out_dir` holds another input's outputs of that
    `kind` (timeline, faces) under that name (a rerun of the same input replaces its own)."""
    for k in range(1, 10_000):
        candidate = stem if k == 1 else f"{stem}-{k}"
        previous = os.path.join(out_dir, f"{candidate}.{kind}.json")
        if not os.path.exists(os.path.join(out_dir, f"{candidate}.{kind}.csv")) and not os.path.exists(previous):
            return candidate
        if os.path.exists(previous):
            try:
                with open(previous) as f:
                    if json.load(f).get("input") == source:
                        return candidate
            except (OSError, ValueError):
                pass  # unreadable: not known to be ours, so left alone
    raise UserError(f"{out_dir} holds outputs of 10,000 inputs named {stem}: give another --out")


def corners(box) -> tuple[int, int, int, int]:
    """A face box (cx, cy, side) as the pixels of its corners (x0, y0, x1, y1)."""
    cx, cy, side = box
    return int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2)


def draw(image: np.ndarray, box, label: str | None, probability: float | None, scale: float = 1.0) -> np.ndarray:
    """`image` (drawn on in place) with the face box (`corners`; None: no face) and the
    emotion; `scale` sizes the lines and the text (1 for a frame some 640 pixels wide)."""
    thickness = max(round(2 * scale), 1)
    if box is not None:
        x0, y0, x1, y1 = box
        cv2.rectangle(image, (x0, y0), (x1, y1), (60, 220, 60), thickness)
        anchor = (x0, max(y0 - round(8 * scale), round(16 * scale)))
    else:
        anchor = (round(8 * scale), round(24 * scale))
    text = f"{label} {probability:.0%}" if label else "..."
    text = text if box is not None else f"{text} (no face)"
    for colour, width in (((0, 0, 0), thickness + 2), ((255, 255, 255), thickness)):  # outlined: read on white too
        cv2.putText(image, text, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, colour, width, cv2.LINE_AA)
    return image


class AnnotatedVideo:
    """An H.264 copy of the input with the face box and the current emotion drawn on each
    frame; the input's audio, if any, is carried over. A frame that comes before the first
    prediction waits for it and shows it: the window that prediction read covers the frame
    (an input shorter than a window is predicted only at its end, `close`)."""

    def __init__(self, path: str, size: tuple[int, int], fps: float, audio_from: str | None = None):
        width, height = size
        cmd = video.piped_rgb(width, height, f"{fps or 30:.5f}")
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
        frame = draw(np.ascontiguousarray(image).copy(), None if box is None else corners(box), label, probability)
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
    span = (
        f"{len(rows)} predictions from {rows[0]['time']:.2f} s to {rows[-1]['time']:.2f} s"
        if len(rows) > 1
        else f"1 prediction at {rows[0]['time']:.2f} s"
    )
    lines = [
        f"{span}; mostly {top} "
        f"({counts[top] / len(rows):.0%}); "
        + ", ".join(f"{c} {n}" for c, n in sorted(counts.items(), key=lambda x: -x[1]))
    ]
    if changes:
        lines.append(
            "changes: "
            + ", ".join(f"{t:.2f} s -> {label}" for t, label in changes[:8])
            + (" ..." if len(changes) > 8 else "")
        )
    if faceless:
        lines.append(f"{faceless} prediction(s) without a face found")
    return "\n".join(lines)


def write_faces(out_dir: str, stem: str, class_names, faces: list[dict], meta: dict) -> dict:
    """A photo's faces: faces.csv (a row per face: its box in the photo's pixels, the
    probabilities, the top label) and faces.json ({meta, faces})."""
    paths = {"json": os.path.join(out_dir, f"{stem}.faces.json"), "csv": os.path.join(out_dir, f"{stem}.faces.csv")}
    with open(paths["csv"], "w", newline="") as f:
        table = csv.writer(f)
        table.writerow(["face", "x", "y", "w", "h", *class_names, "label"])
        table.writerows(
            [face["face"], *face["box"], *(face["probabilities"][c] for c in class_names), face["label"]]
            for face in faces
        )
    with open(paths["json"], "w") as f:
        json.dump({**meta, "faces": faces}, f, indent=1)
    return paths


def write_annotated_photo(path: str, image: np.ndarray, faces: list[dict]) -> str:
    """A copy of the photo with each face's box and emotion drawn as the annotated video draws
    them, the lines and text as large against the photo as against a 640-pixel frame."""
    drawn = np.ascontiguousarray(image).copy()
    for face in faces:
        x, y, w, h = face["box"]
        draw(
            drawn,
            (x, y, x + w, y + h),
            face["label"],
            max(face["probabilities"].values()),
            max(image.shape[1] / 640, 1.0),
        )
    ok, encoded = cv2.imencode(os.path.splitext(path)[1], cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {path}")
    with open(path, "wb") as f:  # not cv2.imwrite: it cannot open every name a file system holds
        f.write(encoded.tobytes())
    return path


def photo_summary(faces: list[dict]) -> str:
    """How many faces, then a line for each: where it is, its emotion and the runner-up."""
    lines = [f"{len(faces)} face{'s' * (len(faces) != 1)}"]
    for face in faces:
        (top, p), (second, q) = sorted(face["probabilities"].items(), key=lambda x: -x[1])[:2]
        x, y, w, h = face["box"]
        lines.append(f"  face {face['face']} at x {x}, y {y}, {w} x {h}: {top} {p:.0%} (then {second} {q:.0%})")
    return "\n".join(lines)
