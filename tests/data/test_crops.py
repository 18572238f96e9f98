"""faceage_lib.data.crops: the training crop cache cuts the crop inference cuts, and is rebuilt when that changes.

``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) has one face; ``skimage.data.chelsea()`` is a cat.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

import faceage_lib.data.crops
from faceage_lib.errors import DatasetError
from faceage_lib.inference.crop import CropSpec, crop_face, eye_angle
from faceage_lib.inference.detectors import Face
from faceage_lib.inference.images import load_image

# --------------------------------------------------------------------------- training uses the same crop


def test_training_crops_are_the_predictors_model_inputs(tmp_path, predictor, astronaut):
    """The crop training caches is, pixel for pixel, what the predictor gives the model for the same photo."""
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    size = predictor.estimator.img_size
    crops, detected = faceage_lib.data.crops.build_crops([str(path)], size, progress=False)
    assert detected.tolist() == [True]
    np.testing.assert_array_equal(crops, predictor.analyze(path).crops)


def test_build_crops_equals_inference_crop(tmp_path, detector, astronaut):
    face_path, cat_path = tmp_path / "astronaut.png", tmp_path / "cat.jpg"
    Image.fromarray(astronaut).save(face_path)
    Image.fromarray(samples.chelsea()).save(cat_path, quality=90)
    crops, detected = faceage_lib.data.crops.build_crops([str(face_path), str(cat_path)], 48, progress=False)
    assert crops.shape == (2, 48, 48, 3) and crops.dtype == np.uint8
    assert detected.tolist() == [True, False]
    image = load_image(face_path)
    np.testing.assert_array_equal(crops[0], crop_face(image, detector.detect(image)[0], 48))
    # no face: the whole frame, as for an undetected UTKFace chip
    cat = load_image(cat_path)
    whole = Face.from_box((0, 0, cat.shape[1], cat.shape[0]))
    assert whole.box == (0.0, 0.0, float(cat.shape[1]), float(cat.shape[0]))
    assert eye_angle(whole) == 0
    np.testing.assert_array_equal(crops[1], crop_face(cat, whole, 48))


def test_crop_cache_is_built_once(tmp_path, astronaut, monkeypatch):
    import pandas as pd

    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    table = pd.DataFrame({"path": [str(path)], "hash": ["h1"]})
    first = faceage_lib.data.crops.load_or_build_crops(table, 32, tmp_path / "cache", progress=False)
    assert (tmp_path / "cache" / "crops_utkface_32.npz").is_file()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("crops rebuilt although cached")

    monkeypatch.setattr(faceage_lib.data.crops, "build_crops", no_rebuild)
    second = faceage_lib.data.crops.load_or_build_crops(table, 32, tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(second.rows(table), first.rows(table))
    assert second.detected.tolist() == [True]
    with pytest.raises(DatasetError, match="1 of 1 manifest rows have no cached crop .*unknown"):
        second.rows(pd.DataFrame({"hash": ["unknown"]}))


def test_only_the_rows_missing_from_the_cache_are_cropped(tmp_path, astronaut, monkeypatch):
    """Evaluating the test split crops the test split: rows the cache lacks are built and added, the rest reused."""
    import pandas as pd

    paths = []
    for name in ("a", "b"):
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(astronaut).save(paths[-1])
    crops = faceage_lib.data.crops
    first = pd.DataFrame({"path": [str(paths[0])], "hash": ["h1"]})
    both = pd.DataFrame({"path": [str(p) for p in paths], "hash": ["h1", "h2"]})
    built = []
    real_build = crops.build_crops
    monkeypatch.setattr(
        crops, "build_crops", lambda paths, *a, **k: built.append(list(paths)) or real_build(paths, *a, **k)
    )
    crops.load_or_build_crops(first, 32, tmp_path / "cache", progress=False)
    cached = crops.load_or_build_crops(both, 32, tmp_path / "cache", progress=False)
    assert built == [[str(paths[0])], [str(paths[1])]]  # b only, the second time
    assert sorted(cached.hashes) == ["h1", "h2"] and cached.rows(both).shape == (2, 32, 32, 3)
    crops.load_or_build_crops(first, 32, tmp_path / "cache", progress=False)
    assert len(built) == 2


def test_crop_cache_made_under_another_key_is_rebuilt(tmp_path, astronaut, monkeypatch):
    """Changing the crop, the detector or its version must not reuse old crops (the file is keyed by size only)."""
    import pandas as pd

    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    table = pd.DataFrame({"path": [str(path)], "hash": ["h1"]})
    crops = faceage_lib.data.crops
    crops.load_or_build_crops(table, 32, tmp_path, progress=False)
    built = []
    real_build = crops.build_crops
    monkeypatch.setattr(crops, "build_crops", lambda *a, **k: built.append(1) or real_build(*a, **k))
    crops.load_or_build_crops(table, 32, tmp_path, progress=False)
    assert built == []
    crops.load_or_build_crops(table, CropSpec(32, version=CropSpec(32).version + 1), tmp_path, progress=False)
    assert built == [1]
    crops.load_or_build_crops(table, CropSpec(32, scale=1.2), tmp_path, progress=False)
    assert built == [1, 1]
    monkeypatch.setattr(type(crops.get_detector()), "version", "changed")
    crops.load_or_build_crops(table, 32, tmp_path, progress=False)
    assert built == [1, 1, 1]


def test_a_packed_cache_travels_and_is_used_where_the_raw_one_is_missing(tmp_path, astronaut, monkeypatch):
    import pandas as pd

    from faceage_lib.data import crops as crops_module

    paths = []
    for k, shift in enumerate((0, 20, 40)):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(np.roll(astronaut, shift, axis=1)).save(paths[-1])
    table = pd.DataFrame({"path": [str(p) for p in paths], "hash": ["h0", "h1", "h2"]})
    raw = crops_module.load_or_build_crops(table, 64, tmp_path / "here", progress=False)
    packed = crops_module.pack_crops(tmp_path / "here" / "crops_utkface_64.npz")
    assert packed.name == "crops_utkface_64.jpeg.npz"
    assert packed.stat().st_size < (tmp_path / "here" / "crops_utkface_64.npz").stat().st_size / 3

    elsewhere = tmp_path / "gpu_box"
    elsewhere.mkdir()
    packed.rename(elsewhere / packed.name)  # only the packed file travels
    monkeypatch.setattr(crops_module, "build_crops", lambda *a, **k: pytest.fail("crops rebuilt"))
    unpacked = crops_module.load_or_build_crops(table, 64, elsewhere, progress=False)
    assert unpacked.hashes.tolist() == raw.hashes.tolist() and unpacked.detected.tolist() == raw.detected.tolist()
    assert unpacked.crops.shape == raw.crops.shape and unpacked.crops.dtype == np.uint8
    assert np.abs(unpacked.crops.astype(int) - raw.crops.astype(int)).mean() < 4  # JPEG quality 90


def test_template_crops_have_their_own_cache_beside_the_box_crops_of_their_size(tmp_path, astronaut):
    import pandas as pd

    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    table = pd.DataFrame({"path": [str(path)], "hash": ["h1"]})
    template = CropSpec(32, align="template", template=((9.5, 9.5), (22.5, 9.5), (16.0, 17.0), (16.0, 23.0)))
    box = faceage_lib.data.crops.load_or_build_crops(table, 32, tmp_path, progress=False)
    aligned = faceage_lib.data.crops.load_or_build_crops(table, template, tmp_path, progress=False)
    assert (tmp_path / "crops_utkface_32.npz").is_file() and (tmp_path / "crops_utkface_32_template.npz").is_file()
    image = load_image(path)
    face = faceage_lib.data.crops.get_detector().detect(image)[0]
    np.testing.assert_array_equal(aligned.rows(table)[0], crop_face(image, face, template))
    np.testing.assert_array_equal(
        faceage_lib.data.crops.load_or_build_crops(table, 32, tmp_path, progress=False).rows(table), box.rows(table)
    )
