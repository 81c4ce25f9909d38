"""TFDS builder test on dummy_data/: a tiny synthetic CREMA-D in its official layout (tones)."""

import tensorflow_datasets as tfds

from datasets.cremad import cremad_dataset_builder


class CremaDAudioTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = cremad_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["audio"]
    SPLITS = {"actor_1001": 2, "actor_1002": 2}
    SKIP_CHECKSUMS = True  # manual download: nothing is fetched


if __name__ == "__main__":
    tfds.testing.test_main()
