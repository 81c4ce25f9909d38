"""A built corpus dataset (ravdess, cremad): where a `tfds build` put it, its actors, folds as
TFDS splits, and the examples of a split with the features a model takes."""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from emorec import ravdess
from emorec.errors import UserError, UserValueError


def dataset_dir(data_dir: str, config: str, name: str = "ravdess") -> str:
    """The newest built version of <name>/<config> under a TFDS data_dir."""
    root = os.path.join(os.path.expanduser(data_dir), name, config)
    versions = (
        sorted(
            (d for d in tf.io.gfile.listdir(root) if d.strip("/")[0].isdigit()),
            key=lambda v: tuple(int(p) for p in v.strip("/").split(".")),
        )
        if tf.io.gfile.exists(root)
        else []
    )
    if not versions:
        raise UserError(
            f"no built {name}/{config} in {data_dir}: build it with `tfds build datasets/{name} "
            f"--config={config} --manual_dir=... --data_dir={data_dir}`"
        )
    return os.path.join(root, versions[-1].strip("/"))


def missing_files(path: str) -> list[str]:
    """What a built dataset's folder lacks of what its build recorded: dataset_info.json, or
    the shards its splits list (a copy cut short, a file deleted)."""
    info = os.path.join(path, "dataset_info.json")
    if not tf.io.gfile.exists(info):
        return [info]
    splits = tfds.builder_from_directory(path).info.splits.values()
    return [str(f) for split in splits for f in split.filepaths if not tf.io.gfile.exists(f)]


def damaged_files(builder) -> list[str]:
    """The dataset's shards that do not read to their end (a TFRecord's length or checksum
    wrong): which file a DataLossError came from."""
    damaged = []
    for split in builder.info.splits.values():
        for path in split.filepaths:
            try:
                for _ in tf.data.TFRecordDataset(str(path)):
                    pass
            except tf.errors.DataLossError:
                damaged.append(str(path))
    return damaged


def load_builder(data_dir: str, config: str, name: str = "ravdess"):
    """The built dataset, read without the builder's code; FileNotFoundError when it is not
    whole."""
    path = dataset_dir(data_dir, config, name)
    missing = missing_files(path)
    if missing:
        raise UserError(
            f"{path} is not whole: {len(missing)} of its files are missing ({missing[0]}): build "
            f"it again with `tfds build datasets/{name} --config={config} --manual_dir=... "
            f"--data_dir={data_dir} --overwrite`"
        )
    return tfds.builder_from_directory(path)


def actors_of(builder) -> list[int]:
    return sorted(int(name.split("_")[1]) for name in builder.info.splits)


def splits_of(fold: ravdess.Fold) -> dict[str, str]:
    """TFDS split strings of a fold: {'train', 'validation', 'test'}, e.g. 'actor_01+actor_02'."""
    return {part: "+".join(f"actor_{a:02d}" for a in getattr(fold, part)) for part in ("train", "validation", "test")}


def fold_splits(fold: int, num_folds: int = 6, actors=ravdess.ACTORS) -> dict[str, str]:
    """TFDS split strings for fold `fold` (1-based) of `num_folds` over `actors`."""
    folds = ravdess.folds(num_folds, actors)
    if not 1 <= fold <= len(folds):
        raise ValueError(f"fold must be 1..{len(folds)}, got {fold}")
    return splits_of(folds[fold - 1])


def examples(builder, split: str, faces: bool, audio: bool, skip_faces: bool = False) -> tf.data.Dataset:
    """The split's examples in file order (training shuffles per epoch itself, evaluation
    keeps it), with the features asked for; a clear error when the dataset lacks one.
    `skip_faces` reads everything else without decoding the crops."""
    features = builder.info.features
    for key, needed in (("faces", faces), ("waveform", audio)):
        if needed and key not in features:
            raise UserValueError(
                f"the model takes {key!r} but {builder.info.name}/{builder.info.config_name} has "
                "none: build a config that has it (`av` has both)"
            )
    decoders = {"faces": tfds.decode.SkipDecoding()} if skip_faces and "faces" in features else None
    return builder.as_dataset(
        split=split, shuffle_files=False, decoders=decoders, read_config=tfds.ReadConfig(try_autocache=False)
    )
