"""The ``faceage`` command (also ``python -m faceage_lib``).

Subcommands import what they need when they run, so ``faceage predict`` never loads TensorFlow.
"""

from __future__ import annotations

import argparse
import csv
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
    from .train import TrainConfig  # a plain dataclass: cheap to import

    defaults = TrainConfig()
    command.add_argument("--epochs", type=int, default=defaults.epochs)
    command.add_argument("--img-size", type=int, default=defaults.img_size)
    command.add_argument("--backbone", default=defaults.backbone,
                         help="compact (default), mobilenetv3small, mobilenetv3large, efficientnetb0")
    command.add_argument("--pretrained", action="store_true", help="ImageNet weights for keras.applications backbones")
    command.add_argument("--width", type=int, default=defaults.width, help="filters of the compact CNN's first stage")
    command.add_argument("--batch-size", type=int, default=defaults.batch_size)
    command.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    command.add_argument("--patience", type=int, default=defaults.patience)
    command.add_argument("--seed", type=int, default=defaults.seed)
    command.add_argument("--limit", type=int, help="train on at most this many images (a quick try)")
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
    from .data import load_utkface

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


def run_train(args) -> int:
    from .train import TrainConfig, train

    config = TrainConfig(img_size=args.img_size, backbone=args.backbone, pretrained=args.pretrained,
                         width=args.width, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, patience=args.patience, seed=args.seed,
                         limit=args.limit)
    out = train(args.data_dir, args.out, config, args.work_dir)
    print(f"model exported to {out}")
    return 0


def run_evaluate(args) -> int:
    from .evaluate import evaluate
    from .metrics import format_metrics

    result = evaluate(args.data_dir, args.model, args.work_dir, args.flip)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_metrics(result))
    return 0


# --------------------------------------------------------------------------- predict


def image_files(paths: list[str]) -> list[Path]:
    """The given files, plus image files found recursively in the given folders, in order."""
    from .images import IMAGE_EXTENSIONS

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
              "gender", "gender_prob", "error")


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
                             **{k: face[k] for k in CSV_FIELDS[6:12]}, "error": ""})


def run_predict(args) -> int:
    from .predictor import Predictor

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
    from .report import write_report

    path = write_report(args.data_dir, args.out, args.model, args.work_dir, args.flip)
    print(f"report written to {path}")
    return 0


def run_app(args) -> int:
    from .app import launch

    launch(model_dir=args.model, share=args.share, host=args.host, port=args.port)
    return 0


def run_feedback_export(args) -> int:
    from .feedback import FeedbackStore

    written = FeedbackStore().export(args.out)
    print(f"{len(written)} crops written to {args.out}")
    return 0


def run_feedback_delete(args) -> int:
    from .feedback import FeedbackStore

    if not FeedbackStore().delete(args.id):
        print(f"faceage: no feedback entry with id {args.id}", file=sys.stderr)
        return 1
    print(f"deleted entry {args.id}")
    return 0
