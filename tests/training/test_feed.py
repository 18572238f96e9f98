"""faceage_lib.training.feed: the tf.data input and its augmentation."""

from __future__ import annotations

import numpy as np


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- pipeline


def test_make_dataset_shapes_dtypes_and_values():
    from faceage_lib.training.feed import make_dataset

    crops = _crops(10)
    ages, genders = np.arange(10) + 20, np.arange(10) % 2
    batches = list(make_dataset(crops, ages, genders, batch_size=4).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    for x, y in batches:
        assert x.dtype == np.float32
        assert x.shape[1:] == (32, 32, 3)
        assert 0 <= x.min() and x.max() <= 255
        assert set(y) == {"age_probs", "age", "gender"}
        for target in y.values():
            assert target.dtype == np.float32 and target.shape == (len(x),)
    # not training: no shuffle, no augmentation, the crops exactly
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), crops.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([y["age"] for _, y in batches]), ages)
    np.testing.assert_array_equal(np.concatenate([y["age_probs"] for _, y in batches]), ages)
    np.testing.assert_array_equal(np.concatenate([y["gender"] for _, y in batches]), genders)


def test_training_dataset_augments_within_range():
    from faceage_lib.training.feed import make_dataset

    crops = _crops(12)
    ages, genders = np.arange(12) + 30, np.arange(12) % 2
    batches = list(make_dataset(crops, ages, genders, batch_size=5, training=True, seed=1).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [5, 5, 2]
    images = np.concatenate([x for x, _ in batches])
    assert images.dtype == np.float32 and images.shape == (12, 32, 32, 3)
    assert images.min() >= 0 and images.max() <= 255
    # shuffled together: every image keeps its labels, all images are there once
    seen_ages = np.concatenate([y["age"] for _, y in batches])
    seen_genders = np.concatenate([y["gender"] for _, y in batches])
    assert sorted(seen_ages) == sorted(ages)
    np.testing.assert_array_equal(seen_genders, (seen_ages - 30) % 2)
    # augmented: the pixels differ from the originals
    originals = crops[(seen_ages - 30).astype(int)].astype(np.float32)
    assert np.mean(np.abs(images - originals)) > 5


def test_augmenter_keeps_shape_and_range():
    from faceage_lib.training.feed import augmenter

    batch = np.full((3, 40, 40, 3), 250, np.float32)
    out = np.clip(np.asarray(augmenter(0)(batch, training=True)), 0, 255)
    assert out.shape == (3, 40, 40, 3)
    assert out.min() >= 0 and out.max() <= 255
    np.testing.assert_array_equal(np.asarray(augmenter(0)(batch, training=False)), batch)
