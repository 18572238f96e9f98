"""``tf.data`` input for training and evaluation, from the cached face crops.

Decoding, detection and cropping happen once (:mod:`faceage_lib.training.crops`); each epoch only
augments in-memory crops, so the two CPU cores spend their time on the model.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras


def augmenter(seed: int = 0) -> keras.Sequential:
    """Flip, small rotation / shift / zoom, brightness and contrast, on [0, 255] images."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.03, fill_mode="reflect", seed=seed + 1),  # +-11 degrees
        keras.layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=seed + 3),
        keras.layers.RandomBrightness(0.15, value_range=(0, 255), seed=seed + 4),
        keras.layers.RandomContrast(0.2, seed=seed + 5),
    ], name="augment")


def make_dataset(crops: np.ndarray, ages: np.ndarray, genders: np.ndarray, batch_size: int = 128,
                 training: bool = False, seed: int = 0) -> tf.data.Dataset:
    """Batches of (float32 crops in [0, 255], {"age_probs", "age", "gender"} targets)."""
    ages = np.asarray(ages, np.float32)
    targets = {"age_probs": ages, "age": ages, "gender": np.asarray(genders, np.float32)}
    dataset = tf.data.Dataset.from_tensor_slices((crops, targets))
    if training:
        dataset = dataset.shuffle(len(crops), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        augment = augmenter(seed)
        dataset = dataset.map(lambda x, y: (tf.clip_by_value(augment(x, training=True), 0, 255), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
