"""Usage: python benchmarks/gender_member.py MODEL_DIR [--variants] [--val-only] (crops cached).

Gender accuracy on UTKFace val/test: all / Asian (race 2) / children 0-14, the model alone,
the member alone and the blend; the 32 px direct warp vs a 64 px warp area-downsampled to 32."""

import json
import sys

import cv2
import numpy as np

from faceage_lib.config import cache_home
from faceage_lib.data.crops import load_or_build_crops
from faceage_lib.data.sources import load_datasets
from faceage_lib.inference.crop import CropSpec
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.training.dlib_gender import template
from faceage_lib.training.gender_member import gender_accuracy

model_dir = sys.argv[1]  # a model folder with a gender member (faceage attach-gender)
est = AgeGenderEstimator(model_dir)
member = est.members["gender"]
w = member.weight
[utk] = load_datasets(["../shared/utkface"])
out = {"weight": w, "gender_min_confidence": est.gender_min_confidence}
for split in ("val",) if "--val-only" in sys.argv else ("val", "test"):  # --val-only: to choose between variants
    rows = utk.split(split)
    main = load_or_build_crops(rows, est.crop, cache_home(), False).rows(rows)
    gcrops = load_or_build_crops(rows, member.crop, cache_home(), False).rows(rows)
    pm = est.predict(main).p_female
    pg = est.member_p_female("gender", gcrops)
    blend = est.predict({est.crop: main, member.crop: gcrops}).p_female
    assert np.allclose(blend, (1 - w) * pm + w * pg)
    g = rows["gender"].to_numpy(float)
    groups = {
        "all": np.ones(len(rows), bool),
        "asian": (rows["race"] == 2).fillna(False).to_numpy(bool),
        "children_0_14": (rows["age"] <= 14).to_numpy(bool),
    }
    res = {}
    for name, m in groups.items():
        res[name] = {
            "n": int(m.sum()),
            "model": gender_accuracy(pm[m], g[m]),
            "member": gender_accuracy(pg[m], g[m]),
            "blend": gender_accuracy(blend[m], g[m]),
            "blend_0.5": gender_accuracy((pm[m] + pg[m]) / 2, g[m]),
        }
    conf = np.maximum(blend, 1 - blend)
    shown = conf >= est.gender_min_confidence
    res["uncertain_share"] = round(float(1 - shown.mean()), 4)
    res["shown_accuracy"] = gender_accuracy(blend[shown], g[shown])
    if split == "val" and "--variants" in sys.argv:
        spec64 = CropSpec(64, align="template", template=template(64))
        c64 = load_or_build_crops(rows, spec64, cache_home(), False).rows(rows)
        down = np.stack([cv2.resize(c, (32, 32), interpolation=cv2.INTER_AREA) for c in c64])
        p64 = est.member_p_female("gender", down)
        res["variant_warp64_area32_member"] = {k: gender_accuracy(p64[m], g[m]) for k, m in groups.items()}
        res["variant_warp64_area32_blend"] = {
            k: gender_accuracy(((1 - w) * pm + w * p64)[m], g[m]) for k, m in groups.items()
        }
    out[split] = res
print(json.dumps(out, indent=1))
