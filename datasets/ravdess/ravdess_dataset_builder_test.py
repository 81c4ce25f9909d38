"""TFDS builder test on dummy_data/: a tiny synthetic sample (see emorec.synthetic)."""

import tensorflow_datasets as tfds

from datasets.ravdess import ravdess_dataset_builder


class RavdessAvTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = ravdess_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["av", "audio", "video"]
    SPLITS = {"actor_01": 2, "actor_02": 2}
    SKIP_CHECKSUMS = True  # manual download: nothing is fetched


if __name__ == "__main__":
    tfds.testing.test_main()
