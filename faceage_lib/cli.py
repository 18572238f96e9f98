"""The ``faceage`` command (also ``python -m faceage_lib``).

Building the parser imports nothing heavy; each subcommand imports what it needs when it runs,
so ``faceage predict`` loads neither TensorFlow nor the training or evaluation code.

Exit codes: 0 done; 1 an error stopped the command (one line on stderr); 2 wrong usage;
3 done, but some items failed (photos ``predict`` could not read, entries ``feedback export``
found damaged), each named on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from . import __version__
from .config import MEMBER_TFLITE_WEIGHTS, TFLITE_WEIGHTS, VIDEO_EXTENSIONS

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
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
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


#: The commands, in the order ``faceage --help`` lists them.
COMMANDS = (
    "data",
    "train",
    "export",
    "attach-gender",
    "calibrate",
    "evaluate",
    "predict",
    "summarize",
    "report",
    "app",
    "feedback",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; ``only``: build just that command of :data:`COMMANDS` (a cold start
    of ``faceage predict`` skips the other commands' options: about 8 ms here)."""

    def wanted(name: str) -> bool:
        return only is None or name == only

    parser = argparse.ArgumentParser(
        prog="faceage", description="Age and gender from face photos.", epilog=EXIT_CODES, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"faceage {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    def add(group, name: str, help_text: str) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)

    def data_options(command):
        command.add_argument(
            "--data-dir",
            nargs="+",
            metavar="DIR",
            help="datasets: a UTKFace folder, .zip or .tar.gz, and/or labelled folders (with "
            "labels.csv or train/val/test_labels.csv: file,age[,gender], as APPA-REAL has) "
            "(default: UTKFace, downloaded from Kaggle)",
        )
        command.add_argument(
            "--work-dir", help="where manifests and crop caches go (default: ~/.cache/faceage, or $FACEAGE_HOME)"
        )

    def model_option(command, what: str = "model folder or .tflite"):
        command.add_argument("--model", help=f"{what} (default: $FACEAGE_MODEL_DIR, else the shipped model)")

    def format_option(command, choices: tuple[str, ...]):
        command.add_argument("--format", choices=choices, default=choices[0], help="output format")

    if wanted("data"):
        command = add(commands, "data", "find or download the datasets, label, de-duplicate, split")
        data_options(command)
        format_option(command, ("table", "json"))
        command.set_defaults(run=run_data)

    if wanted("train"):
        command = add(commands, "train", "train a model on the datasets' train splits")
        data_options(command)
        target = command.add_mutually_exclusive_group(required=True)
        target.add_argument(
            "--out",
            help="output folder (checkpoints each epoch, log, exported model); default: none, give it or --resume",
        )
        target.add_argument(
            "--resume",
            metavar="RUN",
            help="continue the interrupted run in this --out folder from its last finished epoch, "
            "with its own settings (default: none: a new run)",
        )
        train_config_options(command)
        command.set_defaults(run=run_train)

    if wanted("export"):
        command = add(
            commands,
            "export",
            "calibrate and export a training run's best model again (e.g. where "
            "TensorFlow is installed, after training on JAX or PyTorch elsewhere), or several runs "
            "averaged as one model",
        )
        data_options(command)
        command.add_argument(
            "--run",
            required=True,
            nargs="+",
            dest="run_dirs",
            help="the training run's --out folder; several: their models averaged as one "
            "(an ensemble, written to --out)",
        )
        command.add_argument(
            "--out",
            help="where an ensemble of several runs goes (default: none; a single run is exported in its folder)",
        )
        command.add_argument(
            "--weights", nargs="+", type=float, help="one weight per run of an ensemble (default: equal)"
        )
        command.add_argument(
            "--tflite-weights",
            choices=TFLITE_WEIGHTS,
            default="float32",
            help="how the .tflite stores its weights: float16 is half the file (answers within 0.01 years), "
            "dynamic-int8 a quarter and about 4x faster on a CPU (val MAE within 0.01 years: "
            "benchmarks/tflite_weights.py)",
        )
        command.set_defaults(run=run_export)

    if wanted("attach-gender"):
        command = add(
            commands,
            "attach-gender",
            "attach dlib's gender network (CC0) to a model folder as its gender member, on its own aligned "
            "crop; choose its weight on val and recalibrate the folder (as faceage calibrate)",
        )
        command.add_argument("model_dir", metavar="MODEL_DIR", help="the model folder (its manifest is rewritten)")
        data_options(command)
        command.add_argument(
            "--weight",
            type=float,
            help="the member's share of p_female, in [0, 1] (default: the most accurate on val of 0, 0.1, ..., 1)",
        )
        command.add_argument(
            "--tflite-weights",
            choices=TFLITE_WEIGHTS,
            default=MEMBER_TFLITE_WEIGHTS,
            help=f"how the member's .tflite stores its weights (default {MEMBER_TFLITE_WEIGHTS}: 2.7x faster than "
            "float16, val gender accuracy within one face: benchmarks/member_weights.py)",
        )
        command.add_argument(
            "--fine-tune",
            type=int,
            default=0,
            metavar="EPOCHS",
            help="first fine-tune dlib's network this many epochs on the train splits' gender labels, keeping "
            "the epoch most accurate on val (dlib's own weights included); 0: as dlib made it",
        )
        command.set_defaults(run=run_attach_gender)

    if wanted("calibrate"):
        command = add(
            commands,
            "calibrate",
            "refit a model folder's gender threshold (with its members) and its p_under_18 map on the val splits",
        )
        command.add_argument("model_dir", metavar="MODEL_DIR", help="the model folder (its manifest is rewritten)")
        data_options(command)
        command.set_defaults(run=run_calibrate)

    if wanted("evaluate"):
        command = add(commands, "evaluate", "evaluate a model on each dataset's test split")
        data_options(command)
        model_option(command)
        command.add_argument(
            "--flip", action="store_true", help="average with the mirrored crop (test-time augmentation)"
        )
        format_option(command, ("table", "json"))
        command.set_defaults(run=run_evaluate)

    if wanted("predict"):
        command = add(
            commands, "predict", "age and gender of every face in photos or folders, or of each person in videos"
        )
        command.add_argument(
            "paths",
            nargs="*",
            metavar="PATH",
            help="image files, folders (searched recursively) or globs ('photos/**/*.jpg'); or video "
            "files (mp4, webm, mov)",
        )
        command.add_argument(
            "--from-list", metavar="FILE", help="also the paths in FILE, one a line, # for comments (default: none)"
        )
        model_option(command)
        format_option(command, ("json", "jsonl", "csv", "parquet"))
        command.add_argument(
            "--out",
            help="write to this file, in a folder that exists (default: standard output; "
            "parquet, --resume and --engine ray need it)",
        )
        command.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes, each with its own model on one thread (--engine ray: actors)",
        )
        command.add_argument(
            "--resume",
            action="store_true",
            help="skip the photos --out already holds (after an interruption) and append the rest",
        )
        command.add_argument(
            "--engine",
            choices=("local", "ray"),
            default="local",
            help="local processes, or a Ray Data job writing a folder of Parquet files (pip install 'faceage[scale]')",
        )
        command.add_argument(
            "--address",
            help="the Ray cluster to join, e.g. ray://head:10001 (default: $RAY_ADDRESS, else a local Ray instance)",
        )
        command.add_argument("--flip", action="store_true", help="average with the mirrored crop")
        command.add_argument(
            "--challenge-age",
            type=float,
            metavar="AGE",
            help="add check: pass|challenge per face, challenge where the estimated age is under AGE (age assurance "
            "sets it above the legal age, e.g. 25 for 18: the model card gives how many minors pass at each; "
            "default: no check)",
        )
        command.add_argument("--quiet", action="store_true", help="no progress bar")
        command.add_argument("--frames", action="store_true", help="videos: every analysed frame's faces too (JSON)")
        command.set_defaults(run=run_predict)

    if wanted("summarize"):
        command = add(
            commands,
            "summarize",
            "faces, photos without a face, ages by gender and the model's error, from the results of predict",
        )
        command.add_argument(
            "results",
            metavar="RESULTS",
            help="a predict output: .json, .jsonl, .csv, .parquet, or a Ray job's Parquet folder",
        )
        command.add_argument(
            "--group-by",
            metavar="PART",
            help="also per path component: 'parent' (the photo's folder) or an index into the path "
            "(0 the first part; default: none)",
        )
        command.add_argument(
            "--plot",
            metavar="FILE.png",
            help="also save the age distribution as a bar chart; with --group-by, a panel per group too, "
            "for the 12 groups with the most faces (default: no plot)",
        )
        model_option(command, "the model folder whose measured error to show")
        command.set_defaults(run=run_summarize)

    if wanted("report"):
        command = add(commands, "report", "evaluation plots, metrics.json and report.md")
        data_options(command)
        model_option(command)
        command.add_argument("--out", required=True, help="folder for the report")
        command.add_argument("--flip", action="store_true", help="average with the mirrored crop")
        command.set_defaults(run=run_report)

    if wanted("app"):
        command = add(commands, "app", "start the Gradio app")
        command.add_argument("--share", action="store_true", help="also create a public Gradio share link")
        command.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network)")
        command.add_argument("--port", type=int, default=7860, help="port to listen on")
        model_option(command, "model folder")
        command.set_defaults(run=run_app)

    if wanted("feedback"):
        feedback = add(
            commands,
            "feedback",
            "the consented feedback store ($FACEAGE_DB_URL, else a SQLite file in $FACEAGE_HOME or "
            "~/.local/share/faceage)",
        )
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
        command.add_argument(
            flag, type=kind, default=field.default, choices=field.metadata.get("choices"), help=help_text
        )


def run_export(args) -> int:
    from .errors import FaceAgeError
    from .training.ensemble import export_ensemble
    from .training.export import export_run

    if len(args.run_dirs) == 1:
        if args.out or args.weights:
            raise FaceAgeError("--out and --weights are for an ensemble of several runs")
        out = export_run(args.run_dirs[0], args.data_dir, args.work_dir, args.tflite_weights)
    elif not args.out:
        raise FaceAgeError("an ensemble of several runs needs --out (a new folder)")
    else:
        out = export_ensemble(args.run_dirs, args.out, args.weights, args.data_dir, args.work_dir, args.tflite_weights)
    print(f"model exported to {out}")
    return 0


def run_attach_gender(args) -> int:
    from .errors import FaceAgeError
    from .training.gender_finetune import GenderFineTune
    from .training.gender_member import attach_gender

    if args.weight is not None and not 0 <= args.weight <= 1:
        raise FaceAgeError(f"--weight must be in [0, 1], not {args.weight}")
    if args.fine_tune < 0:
        raise FaceAgeError(f"--fine-tune is a number of epochs (0: none), not {args.fine_tune}")

    figures = attach_gender(
        args.model_dir,
        args.data_dir,
        args.weight,
        args.work_dir,
        tflite_weights=args.tflite_weights,
        fine_tune=GenderFineTune(epochs=args.fine_tune) if args.fine_tune else None,
    )
    print(json.dumps(figures, indent=2))
    print(f"gender member attached to {args.model_dir} (weight {figures['weight']})")
    return 0


def run_calibrate(args) -> int:
    from .training.gender_member import calibrate_model

    print(json.dumps(calibrate_model(args.model_dir, args.data_dir, args.work_dir), indent=2))
    print(f"{args.model_dir} recalibrated")
    return 0


def run_train(args) -> int:
    from .errors import FaceAgeError
    from .training.config import TrainConfig
    from .training.fit import resume, train

    fields = dataclasses.fields(TrainConfig)
    if args.resume:
        given = [f"--{f.name.replace('_', '-')}" for f in fields if getattr(args, f.name) != f.default]
        if given:
            raise FaceAgeError(
                f"--resume continues the run with its own settings (config.json): drop {', '.join(given)}"
            )
        out = resume(args.data_dir, args.resume, args.work_dir)
    else:
        config = TrainConfig(**{field.name: getattr(args, field.name) for field in fields})
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


def check_output_file(name: str, folder_ok: bool = False) -> None:
    """Fail early, before any work, if results could not be written to ``name`` (a file, or a folder if
    ``folder_ok``)."""
    from .errors import FaceAgeError

    path = Path(name)
    if path.is_dir() and not folder_ok:
        raise FaceAgeError(f"--out {name} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise FaceAgeError(f"--out {name}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise FaceAgeError(f"--out {name}: the folder {folder} cannot be written to")


def run_predict(args) -> int:
    from .errors import FaceAgeError

    if args.engine == "ray" and args.format != "parquet":
        raise FaceAgeError("--engine ray writes a folder of Parquet files: add --format parquet")
    if not args.out:
        if args.format == "parquet" or args.resume:
            raise FaceAgeError("--format parquet and --resume write to a file: give --out")
    elif "://" in args.out:  # a URI (s3://...) is Ray's to write
        if args.engine != "ray":
            raise FaceAgeError(f"--out {args.out}: a URI is written by --engine ray; give a local file")
    else:
        check_output_file(args.out, folder_ok=args.engine == "ray")
    if not (args.paths or args.from_list):
        raise FaceAgeError("give photos, folders or globs to predict, or --from-list FILE")
    if args.challenge_age is not None and not 0 < args.challenge_age <= 120:
        raise FaceAgeError(f"--challenge-age is an age in years (e.g. 25), not {args.challenge_age:g}")
    videos = any(Path(path).suffix.lower() in VIDEO_EXTENSIONS for path in args.paths)
    if args.challenge_age is not None and (videos or args.engine == "ray"):
        raise FaceAgeError("--challenge-age is for photos on the local engine (with Ray, compare the age column)")
    if videos:
        return run_predict_videos(args)
    if args.engine == "ray":
        from .batch.ray_job import predict_on_ray

        summary = predict_on_ray(
            args.paths,
            args.out,
            args.workers,
            args.model,
            args.flip,
            args.address,
            list_file=args.from_list,
            resume=args.resume,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    else:
        from .batch.job import predict_corpus

        summary = predict_corpus(
            args.paths,
            args.format,
            args.out,
            args.workers,
            args.model,
            args.flip,
            args.resume,
            progress=not args.quiet and sys.stderr.isatty(),
            list_file=args.from_list,
            challenge_age=args.challenge_age,
        )
    if summary.skipped:
        print(f"faceage: {summary.skipped} photos were already in {args.out}", file=sys.stderr)
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def run_predict_videos(args) -> int:
    """``faceage predict`` on videos: one record per video, a summary per person (see faceage_lib.video)."""
    import csv

    from .batch.formats import csv_cell
    from .errors import FaceAgeError
    from .inference.predictor import Predictor
    from .video import predict_videos

    if not all(Path(path).suffix.lower() in VIDEO_EXTENSIONS for path in args.paths):
        raise FaceAgeError("give videos on their own, not mixed with photos or folders")
    predictor = Predictor(args.model, flip=args.flip)
    records = predict_videos(
        predictor, args.paths, per_frame=args.frames, progress=not args.quiet and sys.stderr.isatty()
    )
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


VIDEO_CSV_FIELDS = (
    "path",
    "person",
    "age",
    "age_low",
    "age_high",
    "gender",
    "gender_prob",
    "p_female",
    "p_under_18",
    "seconds_seen",
    "first_seen_s",
    "last_seen_s",
    "error",
)


def _stdout():
    """Standard output, in a ``with`` block that leaves it open."""
    from contextlib import nullcontext

    return nullcontext(sys.stdout)


def run_summarize(args) -> int:
    from .batch.summary import load_results, plot_distribution, summarize

    frame = load_results(args.results)
    print(summarize(frame, args.group_by, args.model))
    if args.plot:
        drawn = plot_distribution(frame, args.plot, args.group_by)
        groups = f" (all faces and {len(drawn)} groups: {', '.join(drawn)})" if args.group_by is not None else ""
        print(f"plot written to {args.plot}{groups}")
    return EXIT_OK


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
            print(
                f"{entry.id:>6}  {entry.created_at:%Y-%m-%d %H:%M}  {predicted:<16}  "
                f"{entry.true_age} {entry.true_gender or '-'}"
            )
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
