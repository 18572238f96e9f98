"""The ``faceage`` command (also ``python -m faceage_lib``).

Building the parser imports nothing heavy; each subcommand imports what it needs when it runs,
so ``faceage predict`` loads neither TensorFlow nor the training or evaluation code.

Exit codes: 0 done; 1 an error stopped the command (one line on stderr); 2 wrong usage;
3 done, but some items failed (photos ``predict`` could not read, entries ``feedback export``
found damaged), each named on stderr.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from pathlib import Path

from . import __version__
from .config import VIDEO_EXTENSIONS

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_CODES = """exit codes:
  0  done
  1  an error stopped the command (the reason is on stderr)
  2  wrong command-line usage
  3  done, but some items failed: photos that predict could not read, or entries that
     feedback export found damaged (each is named on stderr)"""


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so that a file's name
    cannot forge lines of faceage's output."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    from .errors import FaceAgeError

    try:
        return args.run(args) or EXIT_OK
    except FaceAgeError as error:
        print(f"faceage: {one_line(str(error))}", file=sys.stderr)
    except OSError as error:  # a file or folder the command had to read or write
        where = f": {error.filename}" if error.filename else ""
        print(f"faceage: {one_line(f'{error.strerror or error}{where}')}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return EXIT_ERROR


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help; an option without one (None) says in its help what
    happens then, and a required one has none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.required:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceage", description="Age and gender from face photos.",
                                     epilog=EXIT_CODES, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"faceage {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    def add(group, name: str, help_text: str) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)

    def data_options(command):
        command.add_argument("--data-dir", nargs="+", metavar="DIR",
                             help="datasets: a UTKFace folder, .zip or .tar.gz, and/or labelled folders (with "
                                  "labels.csv or train/val/test_labels.csv: file,age[,gender], as APPA-REAL has) "
                                  "(default: UTKFace, downloaded from Kaggle)")
        command.add_argument("--work-dir", help="where manifests and crop caches go (default: ~/.cache/faceage, "
                                                "or $FACEAGE_HOME)")

    def model_option(command, what: str = "model folder or .tflite"):
        command.add_argument("--model", help=f"{what} (default: $FACEAGE_MODEL_DIR, else the shipped model)")

    def format_option(command, choices: tuple[str, ...]):
        command.add_argument("--format", choices=choices, default=choices[0], help="output format")

    command = add(commands, "data", "find or download the datasets, label, de-duplicate, split")
    data_options(command)
    format_option(command, ("table", "json"))
    command.set_defaults(run=run_data)

    command = add(commands, "train", "train a model on the datasets' train splits")
    data_options(command)
    command.add_argument("--out", required=True, help="output folder (checkpoints, log, exported model)")
    train_config_options(command)
    command.set_defaults(run=run_train)

    command = add(commands, "export", "calibrate and export a training run's best model again (e.g. where "
                                      "TensorFlow is installed, after training on JAX or PyTorch elsewhere)")
    data_options(command)
    command.add_argument("--run", required=True, dest="run_dir", help="the training run's --out folder")
    command.set_defaults(run=run_export)

    command = add(commands, "evaluate", "evaluate a model on each dataset's test split")
    data_options(command)
    model_option(command)
    command.add_argument("--flip", action="store_true", help="average with the mirrored crop (test-time augmentation)")
    format_option(command, ("table", "json"))
    command.set_defaults(run=run_evaluate)

    command = add(commands, "predict", "age and gender of every face in photos or folders, or of each person in videos")
    command.add_argument("paths", nargs="+", metavar="PATH",
                         help="image files or folders (searched recursively); or video files (mp4, webm, mov)")
    model_option(command)
    format_option(command, ("json", "csv"))
    command.add_argument("--out", help="write to this file, in a folder that exists (default: standard output)")
    command.add_argument("--flip", action="store_true", help="average with the mirrored crop")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument("--frames", action="store_true", help="videos: every analysed frame's faces too (JSON)")
    command.set_defaults(run=run_predict)

    command = add(commands, "report", "evaluation plots, metrics.json and report.md")
    data_options(command)
    model_option(command)
    command.add_argument("--out", required=True, help="folder for the report")
    command.add_argument("--flip", action="store_true", help="average with the mirrored crop")
    command.set_defaults(run=run_report)

    command = add(commands, "app", "start the Gradio app")
    command.add_argument("--share", action="store_true", help="also create a public Gradio share link")
    command.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network)")
    command.add_argument("--port", type=int, default=7860, help="port to listen on")
    model_option(command, "model folder")
    command.set_defaults(run=run_app)

    feedback = add(commands, "feedback", "the consented feedback store ($FACEAGE_DB_URL, else a SQLite file "
                                         "in $FACEAGE_HOME or ~/.local/share/faceage)")
    actions = feedback.add_subparsers(metavar="ACTION")
    command = add(actions, "list", "list stored entries (their ids are what delete needs)")
    format_option(command, ("table", "json"))
    command.set_defaults(run=run_feedback_list)
    command = add(actions, "export", "write stored crops as UTKFace-style files")
    command.add_argument("--out", required=True, help="folder for the crops (created if missing)")
    command.set_defaults(run=run_feedback_export)
    command = add(actions, "delete", "remove one entry")
    command.add_argument("--id", type=int, required=True, help="the entry's id, as feedback list shows it")
    command.set_defaults(run=run_feedback_delete)
    return parser


# --------------------------------------------------------------------------- data, train, evaluate


def run_data(args) -> int:
    from .data.sources import load_datasets

    summaries = [dataset.summary() for dataset in load_datasets(args.data_dir, args.work_dir)]
    if args.format == "json":
        print(json.dumps(summaries if len(summaries) > 1 else summaries[0], indent=2))
        return 0
    for summary in summaries:
        print(f"dataset             {summary['name']}")
        print(f"folder              {summary['root']}")
        print(f"image files         {summary['files']}")
        print(f"labelled            {summary['labelled']} ({summary['with_gender']} with a gender)")
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
        kind = {"int": int, "float": float, "str": str, "int | None": int, "str | None": str}[str(field.type)]
        command.add_argument(flag, type=kind, default=field.default, choices=field.metadata.get("choices"),
                             help=help_text)


def run_export(args) -> int:
    from .training.export import export_run

    print(f"model exported to {export_run(args.run_dir, args.data_dir, args.work_dir)}")
    return 0


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

    evaluations = evaluate(args.data_dir, args.model, args.work_dir, args.flip)
    if args.format == "json":
        print(json.dumps({name: evaluation.metrics for name, evaluation in evaluations.items()}, indent=2))
        return 0
    for name, evaluation in evaluations.items():
        print(f"== {name} ({evaluation.metrics['split']} split)\n{format_metrics(evaluation.metrics)}\n")
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
            faces = [{"face": number, **face.to_dict()} for number, face in enumerate(predictor.predict(path), 1)]
            records.append({"path": str(path), "faces": faces, "error": None})
        except ImageError as error:
            records.append({"path": str(path), "faces": [], "error": str(error)})
    return records


#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_FIELDS = ("path", "face", "x1", "y1", "x2", "y2", "score", "age", "age_low", "age_high",
              "gender", "gender_prob", "p_female", "error")


def write_csv(records: list[dict], stream) -> None:
    """One row per face; an image with no face or an error gets one row with empty face fields.

    Text that a spreadsheet would run as a formula (a file named ``=HYPERLINK(...).jpg``) gets a
    leading ``'``, so it shows as text.
    """
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for record in records:
        rows = [{"path": record["path"], "error": record["error"] or ""}] if not record["faces"] else []
        for face in record["faces"]:
            x1, y1, x2, y2 = face["box"]
            rows.append({"path": record["path"], "face": face["face"], "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                         **{k: face[k] for k in CSV_FIELDS[6:-1]}, "error": ""})
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)


def csv_cell(value):
    """``value``, with a ``'`` before text that a spreadsheet would read as a formula."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def check_output_file(name: str) -> None:
    """Fail early, before any work, if results could not be written to ``name``."""
    from .errors import FaceAgeError

    path = Path(name)
    if path.is_dir():
        raise FaceAgeError(f"--out {name} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise FaceAgeError(f"--out {name}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise FaceAgeError(f"--out {name}: the folder {folder} cannot be written to")


def run_predict(args) -> int:
    from .errors import FaceAgeError
    from .inference.predictor import Predictor

    if args.out:
        check_output_file(args.out)
    if any(Path(path).suffix.lower() in VIDEO_EXTENSIONS for path in args.paths):
        return run_predict_videos(args)
    files = image_files(args.paths)
    if not files:
        raise FaceAgeError(f"no image files found in {', '.join(args.paths)}")
    predictor = Predictor(args.model, flip=args.flip)
    progress = not args.quiet and len(files) > 1 and sys.stderr.isatty()
    records = predict_records(predictor, files, progress)
    with open(args.out, "w", newline="") if args.out else _stdout() as stream:
        if args.format == "json":
            json.dump(records, stream, indent=2)
            stream.write("\n")
        else:
            write_csv(records, stream)
    failed = [record for record in records if record["error"]]
    for record in failed:
        where = "" if record["path"] in record["error"] else f"{record['path']}: "
        print(f"faceage: {where}{record['error']}", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


def run_predict_videos(args) -> int:
    """``faceage predict`` on videos: one record per video, a summary per person (see faceage_lib.video)."""
    from .errors import FaceAgeError
    from .inference.predictor import Predictor
    from .video import predict_videos

    if not all(Path(path).suffix.lower() in VIDEO_EXTENSIONS for path in args.paths):
        raise FaceAgeError("give videos on their own, not mixed with photos or folders")
    predictor = Predictor(args.model, flip=args.flip)
    records = predict_videos(predictor, args.paths, per_frame=args.frames,
                             progress=not args.quiet and sys.stderr.isatty())
    with open(args.out, "w", newline="") if args.out else _stdout() as stream:
        if args.format == "json":
            json.dump(records, stream, indent=2)
            stream.write("\n")
        else:
            writer = csv.DictWriter(stream, fieldnames=VIDEO_CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for record in records:
                rows = [{"path": record["path"], **person} for person in record["people"]] or [record]
                for row in rows:
                    row = {**row, "error": record["error"] or ""}
                    writer.writerow({key: csv_cell(value) for key, value in row.items()})
    for record in records:
        if record["error"]:
            print(f"faceage: {record['error']}", file=sys.stderr)
    return EXIT_PARTIAL if any(record["error"] for record in records) else EXIT_OK


VIDEO_CSV_FIELDS = ("path", "person", "age", "age_low", "age_high", "gender", "gender_prob", "p_female",
                    "seconds_seen", "first_seen_s", "last_seen_s", "error")


def _stdout():
    """Standard output, in a ``with`` block that leaves it open."""
    from contextlib import nullcontext

    return nullcontext(sys.stdout)


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


def run_feedback_list(args) -> int:
    from .feedback import FeedbackStore

    entries = FeedbackStore().entries()
    if args.format == "json":
        print(json.dumps([entry.to_dict() for entry in entries], indent=2))
    elif not entries:
        print("no feedback entries")
    else:
        print(f"{'id':>6}  {'date (UTC)':<16}  {'predicted':<16}  true")
        for entry in entries:
            predicted = f"{entry.predicted_age:.0f} {entry.predicted_gender} ({entry.gender_prob:.0%})"
            print(f"{entry.id:>6}  {entry.created_at:%Y-%m-%d %H:%M}  {predicted:<16}  "
                  f"{entry.true_age} {entry.true_gender or '-'}")
    return EXIT_OK


def run_feedback_export(args) -> int:
    from .feedback import FeedbackStore

    result = FeedbackStore().export(args.out)
    print(f"{len(result.written)} crops written to {args.out}")
    for entry_id, reason in result.skipped.items():
        print(f"skipped entry {entry_id}: {reason}")
    for entry_id, reason in result.damaged.items():
        print(f"faceage: entry {entry_id} is damaged, not exported: {reason}", file=sys.stderr)
    return EXIT_PARTIAL if result.damaged else EXIT_OK


def run_feedback_delete(args) -> int:
    from .feedback import FeedbackStore

    if not FeedbackStore().delete(args.id):
        print(f"faceage: no feedback entry with id {args.id} (faceage feedback list shows them)", file=sys.stderr)
        return EXIT_ERROR
    print(f"deleted entry {args.id}")
    return EXIT_OK
