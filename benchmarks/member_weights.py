"""What each way of storing the gender member's ``.tflite`` weights costs: file size, one face's time,
and its gender figures on val (float32, float16, dynamic-int8; see faceage_lib.config.TFLITE_WEIGHTS).

    python benchmarks/member_weights.py --data-dir ../shared/utkface ../shared/appa-real

For each kind, dlib's gender network is attached to a copy of ``--model-dir`` with that kind of
weights and the shipped weight in the blend (faceage_lib.training.gender_member.write_member), and
run on the val faces as calibration sees them (val_faces: the model's and the member's crops, from
the crop cache). Reported: the member's val gender accuracy alone and blended, overall and on
UTKFace's Asian faces (race 2), the largest difference of its p_female to float32's, and one face's
time (median of 300 calls, the estimator's thread count). Writes
benchmarks/results/member_weights.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from faceage_lib.config import TFLITE_WEIGHTS
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.runtime import TFLiteModel
from faceage_lib.training.dlib_gender import P_FEMALE, dlib_gender
from faceage_lib.training.gender_member import MEMBER, gender_accuracy, gender_crop, val_faces, write_member

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tflite_weights import one_face_ms  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ASIAN = 2  # UTKFace's race code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="models")
    parser.add_argument("--data-dir", nargs="+", required=True)
    parser.add_argument("--work-dir")
    args = parser.parse_args()

    weight = AgeGenderEstimator(args.model_dir).members[MEMBER].weight
    network = dlib_gender(pretrained=True)
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as scratch:
        for kind in TFLITE_WEIGHTS:
            folder = shutil.copytree(args.model_dir, Path(scratch) / kind)
            write_member(folder, network, gender_crop(), weight, P_FEMALE, weights=kind)
            val = val_faces(folder, args.data_dir, args.work_dir, progress=False)
            genders = val.genders()
            race = val.rows["race"] if "race" in val.rows else None
            asian = np.zeros(len(genders), bool) if race is None else (race == ASIAN).fillna(False).to_numpy(bool)
            blend = (1 - weight) * val.main_p_female + weight * val.member_p_female
            reference = val.member_p_female if reference is None else reference
            size = gender_crop().size
            crop = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
            rows.append(
                {
                    "weights": kind,
                    "bytes": (folder / "gender.tflite").stat().st_size,
                    "one_face_ms": one_face_ms(TFLiteModel(folder / "gender.tflite"), crop),
                    "val_faces_with_gender": int(val.gendered.sum()),
                    "member_alone": gender_accuracy(val.member_p_female, genders),
                    "blend": gender_accuracy(blend, genders),
                    "blend_asian": gender_accuracy(blend[asian], genders[asian]) if asian.any() else None,
                    "largest_p_female_difference_to_float32": float(np.abs(val.member_p_female - reference).max()),
                }
            )
            print(rows[-1], flush=True)
    result = {"model_dir": args.model_dir, "weight": weight, "load_average_1_min": os.getloadavg()[0], "kinds": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "member_weights.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"Gender member (weight {weight} in the blend); val faces with a gender label: "
        f"{rows[0]['val_faces_with_gender']}",
        "",
        "| weights | file | one face, member only | member alone | blend | blend, Asian faces | p_female moved |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        asian = "-" if row["blend_asian"] is None else f"{100 * row['blend_asian']:.2f}%"
        lines.append(
            f"| {row['weights']} | {row['bytes'] / 1e3:.0f} KB | {row['one_face_ms']:.3f} ms "
            f"| {100 * row['member_alone']:.2f}% | {100 * row['blend']:.2f}% | {asian} "
            f"| {row['largest_p_female_difference_to_float32']:.4f} |"
        )
    (RESULTS / "member_weights.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
