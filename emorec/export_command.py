"""`emorec-export PRESET`: a preset written as a SavedModel for TF Serving and as TFLite, by
`emorec.export`; the command's options and refusals, said before the model loads."""

from __future__ import annotations

import argparse
import os
import sys

from emorec import folders, models, presets
from emorec.errors import UserError
from emorec.export import export, export_tflite, preset_metadata, version_path


def main(argv=None) -> int:
    """emorec-export PRESET: the preset as a SavedModel for TF Serving and, with --tflite, as TFLite."""

    parser = argparse.ArgumentParser(prog="emorec-export", description=main.__doc__.split(":")[0])
    parser.add_argument(
        "preset", help=f"a preset ({', '.join(presets.names())}), or the folder of one trainers/preset.py wrote"
    )
    parser.add_argument("--export_dir", default="saved_models", help="SavedModels go to EXPORT_DIR/PRESET/VERSION")
    parser.add_argument("--version", type=int, help="default: one past the newest there; from 1")
    parser.add_argument("--overwrite", action="store_true", help="replace --version if it exists (refused otherwise)")
    parser.add_argument("--tflite", action="store_true", help="also EXPORT_DIR/PRESET.tflite (float32)")
    parser.add_argument("--int8", action="store_true", help="also EXPORT_DIR/PRESET.int8.tflite (int8 weights)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    card = presets.card(args.preset)  # each refusal said before the model loads
    version_path(args.export_dir, card["name"], args.version, args.overwrite)
    if args.int8 and not card.get("tflite_int8", {}).get("holds"):
        raise UserError(
            f"{args.preset} is not offered with int8 weights: "
            f"{card.get('tflite_int8', {}).get('measured', 'not measured')}; export float32 (--tflite)"
        )
    folders.refuse_unwritable(f"--export_dir {args.export_dir}", args.export_dir)  # made here: the last check
    model = models.from_preset(args.preset)
    metadata = preset_metadata(card)
    # Named by its card: a preset given as a folder's path exports under its name, not the path.
    written = [export(model, args.export_dir, card["name"], card["classes"], args.version, metadata, args.overwrite)]
    for wanted, int8, suffix in ((args.tflite, False, ".tflite"), (args.int8, True, ".int8.tflite")):
        if wanted:
            written.append(
                export_tflite(
                    model, os.path.join(args.export_dir, card["name"] + suffix), card["classes"], metadata, int8=int8
                )
            )
    print("wrote " + ", ".join(written))
    return 0
