"""The ``faceage`` command (also ``python -m faceage_lib``).

Building the parser imports nothing heavy; each subcommand imports what it needs when it runs,
so ``faceage predict`` loads neither TensorFlow nor the training or evaluation code.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from .errors import FaceAgeError

    try:
        return args.run(args) or 0
    except FaceAgeError as error:
        print(f"faceage: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceage", description="Age and gender from face photos.")
    commands = parser.add_subparsers(metavar="COMMAND")

    def data_options(command, required=False):
        command.add_argument("--data-dir", required=required,
                             help="UTKFace folder, .zip or .tar.gz (default: download from Kaggle)")
        command.add_argument("--work-dir", help="where manifests and crop caches go (default: ~/.cache/faceage)")

    command = commands.add_parser("data", help="find or download UTKFace, label, de-duplicate, split")
    data_options(command)
    command.add_argument("--format", choices=("table", "json"), default="table")
    command.set_defaults(run=run_data)

    command = commands.add_parser("train", help="train a model on the manifest's train split")
    data_options(command)
    command.add_argument("--out", required=True, help="output folder (checkpoints, log, exported model)")
    train_config_options(command)
    command.set_defaults(run=run_train)

    command = commands.add_parser("evaluate", help="evaluate a model on the test split")
    data_options(command)
    command.add_argument("--model", help="model folder or .tflite (default: the shipped model)")
    command.add_argument("--flip", action="store_true", help="average with the mirrored crop (test-time augmentation)")
    command.add_argument("--format", choices=("table", "json"), default="table")
    command.set_defaults(run=run_evaluate)

    command = commands.add_parser("predict", help="age and gender of every face in photos or folders")
    command.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    command.add_argument("--model", help="model folder or .tflite (default: the shipped model)")
    command.add_argument("--format", choices=("json", "csv"), default="json")
    command.add_argument("--out", help="write here instead of standard output")
    command.add_argument("--flip", action="store_true", help="average with the mirrored crop")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(run=run_predict)

    command = commands.add_parser("report", help="evaluation plots, metrics.json and report.md")
    data_options(command)
    command.add_argument("--model", help="model folder or .tflite (default: the shipped model)")
    command.add_argument("--out", required=True, help="folder for the report")
    command.add_argument("--flip", action="store_true")
    command.set_defaults(run=run_report)

    command = commands.add_parser("app", help="start the Gradio app")
    command.add_argument("--share", action="store_true", help="create a public Gradio share link")
    command.add_argument("--host", default="127.0.0.1")
    command.add_argument("--port", type=int, default=7860)
    command.add_argument("--model", help="model folder (default: the shipped model)")
    command.set_defaults(run=run_app)

    feedback = commands.add_parser("feedback", help="the consented feedback store").add_subparsers(metavar="ACTION")
    command = feedback.add_parser("export", help="write stored crops as UTKFace-style files")
    command.add_argument("--out", required=True)
    command.set_defaults(run=run_feedback_export)
    command = feedback.add_parser("delete", help="remove one entry")
    command.add_argument("--id", type=int, required=True)
    command.set_defaults(run=run_feedback_delete)
    return parser


# --------------------------------------------------------------------------- data, train, evaluate


def run_data(args) -> int:
    from .training.utkface import load_utkface

    summary = load_utkface(args.data_dir, args.work_dir).summary()
    if args.format == "json":
        print(json.dumps(summary, indent=2))
        return 0
    print(f"UTKFace folder      {summary['root']}")
    print(f"image files         {summary['files']}")
    print(f"labelled            {summary['labelled']}")
    print(f"duplicates removed  {summary['duplicates_removed']}")
    print(f"unique images       {summary['unique_images']}")
    print("split               " + ", ".join(f"{k} {v}" for k, v in summary["split"].items()))
    print(f"manifest            {summary['manifest']}")
    print(f"skipped             {len(summary['skipped'])}")
    for entry in summary["skipped"]:
        print(f"  {entry['file']}: {entry['reason']}")
    return 0


def train_config_options(command: argparse.ArgumentParser) -> None:
    """One option per field of :class:`faceage_lib.training.config.TrainConfig` (a plain dataclass)."""
    from .training.config import TrainConfig

    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        help_text = field.metadata["help"]
        if field.type in ("bool", bool):
            command.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=help_text)
            continue
        kind = {"int": int, "float": float, "str": str, "int | None": int}[str(field.type)]
        command.add_argument(flag, type=kind, default=field.default, choices=field.metadata.get("choices"),
                             help=help_text)


def run_train(args) -> int:
    from .training.config import TrainConfig
    from .training.fit import train

    config = TrainConfig(**{field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)})
    out = train(args.data_dir, args.out, config, args.work_dir)
    print(f"model exported to {out}")
    return 0


def run_evaluate(args) -> int:
    from .evaluation.evaluate import evaluate
    from .evaluation.metrics import format_metrics

    result = evaluate(args.data_dir, args.model, args.work_dir, args.flip)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_metrics(result))
    return 0


# --------------------------------------------------------------------------- predict


def image_files(paths: list[str]) -> list[Path]:
    """The given files, plus image files found recursively in the given folders, in order."""
    from .inference.images import IMAGE_EXTENSIONS

    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            found.append(path)  # a missing or bad file is reported in its own "error"
    return found


def predict_records(predictor, files: list[Path], progress: bool) -> list[dict]:
    """One ``{"path", "faces", "error"}`` record per file; a bad file does not stop the run."""
    from .errors import ImageError

    if progress:
        from tqdm import tqdm

        files_iter = tqdm(files, desc="predict", unit="img", file=sys.stderr)
    else:
        files_iter = files
    records = []
    for path in files_iter:
        try:
            faces = [face.to_dict() for face in predictor.predict(path)]
            records.append({"path": str(path), "faces": faces, "error": None})
        except ImageError as error:
            records.append({"path": str(path), "faces": [], "error": str(error)})
    return records


CSV_FIELDS = ("path", "face", "x1", "y1", "x2", "y2", "score", "age", "age_low", "age_high",
              "gender", "gender_prob", "p_female", "error")


def write_csv(records: list[dict], stream) -> None:
    """One row per face; an image with no face or an error gets one row with empty face fields."""
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for record in records:
        if not record["faces"]:
            writer.writerow({"path": record["path"], "error": record["error"] or ""})
        for index, face in enumerate(record["faces"]):
            x1, y1, x2, y2 = face["box"]
            writer.writerow({"path": record["path"], "face": index, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                             **{k: face[k] for k in CSV_FIELDS[6:-1]}, "error": ""})


def run_predict(args) -> int:
    from .inference.predictor import Predictor

    files = image_files(args.paths)
    predictor = Predictor(args.model, flip=args.flip)
    progress = not args.quiet and len(files) > 1 and sys.stderr.isatty()
    records = predict_records(predictor, files, progress)
    stream = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        if args.format == "json":
            json.dump(records, stream, indent=2)
            stream.write("\n")
        else:
            write_csv(records, stream)
    finally:
        if args.out:
            stream.close()
    return 0


# --------------------------------------------------------------------------- report, app, feedback


def run_report(args) -> int:
    from .evaluation.report import write_report

    path = write_report(args.data_dir, args.out, args.model, args.work_dir, args.flip)
    print(f"report written to {path}")
    return 0


def run_app(args) -> int:
    from .app.page import launch

    launch(model_dir=args.model, share=args.share, host=args.host, port=args.port)
    return 0


def run_feedback_export(args) -> int:
    from .app.feedback import FeedbackStore

    written = FeedbackStore().export(args.out)
    print(f"{len(written)} crops written to {args.out}")
    return 0


def run_feedback_delete(args) -> int:
    from .app.feedback import FeedbackStore

    if not FeedbackStore().delete(args.id):
        print(f"faceage: no feedback entry with id {args.id}", file=sys.stderr)
        return 1
    print(f"deleted entry {args.id}")
    return 0
