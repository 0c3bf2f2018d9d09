"""The course's command line: ``python -m dcai_lab.course release | execute | grade | handout``.

    python -m dcai_lab.course release notebooks/solutions notebooks   # make release
    python -m dcai_lab.course execute notebooks/solutions/*.ipynb     # make solutions
    python -m dcai_lab.course grade submissions/ --out grades.csv     # make grade
    python -m dcai_lab.course handout build/handout                   # make handout
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from dcai_lab.course.notebooks import NBFORMAT_VERSION, execute_notebook, release

GiB, MiB = 2**30, 2**20


def _parser() -> argparse.ArgumentParser:
    from dcai_lab.course.grading import Options
    from dcai_lab.course.sandbox import Limits

    defaults, limits = Options(), Limits()
    parser = argparse.ArgumentParser(prog="python -m dcai_lab.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="build student notebooks from solution notebooks")
    p.add_argument("source_dir", nargs="?", default="notebooks/solutions")
    p.add_argument("release_dir", nargs="?", default="notebooks")
    p.add_argument("--only", nargs="+", default=None, metavar="NOTEBOOK", help="release only these notebooks")
    p = sub.add_parser("execute", help="run notebooks in place, storing their outputs")
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    p = sub.add_parser("handout", help="build the folder handed to students (no solutions, no hidden tests)")
    p.add_argument("dest", nargs="?", type=Path, default=Path("build/handout"))
    p.add_argument("--source", type=Path, default=Path("notebooks/solutions"))
    p.add_argument("--with-answers", action="store_true",
                   help="add the answers pages (written answers) for self-study; leave them out for a class")

    p = sub.add_parser("grade", help="autograde a folder of submissions into a CSV, feedback and gradebooks",
                       description="Autograde one folder per student, each kernel in a bubblewrap sandbox.")
    p.add_argument("submissions_dir", type=Path)
    p.add_argument("--source", type=Path, default=Path("notebooks/solutions"), help="the solution notebooks")
    p.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV (default grades.csv)")
    p.add_argument("--jobs", type=int, default=None, help="students graded at a time (default: CPU cores)")
    p.add_argument("--timeout", type=float, default=defaults.cell_timeout,
                   help=f"seconds per cell before it is interrupted (default {defaults.cell_timeout:g})")
    p.add_argument("--notebook-timeout", type=float, default=defaults.notebook_timeout,
                   help=f"seconds per notebook before its kernel is shut down (default {defaults.notebook_timeout:g})")
    p.add_argument("--feedback", type=Path, default=Path("feedback"), metavar="DIR",
                   help="write <student>.html and <student>.md reports here (default feedback/)")
    p.add_argument("--canvas", type=Path, default=None, metavar="CSV", help="also write a Canvas gradebook import")
    p.add_argument("--moodle", type=Path, default=None, metavar="CSV", help="also write a Moodle grade import")
    p.add_argument("--library-calls", choices=("zero", "flag", "allow"), default=defaults.library_calls,
                   help="an exercise answered by calling the library's own implementation: score it 0 (default), "
                        "keep its points and list it for review (flag), or say nothing (allow)")
    p.add_argument("--keep-executed", type=Path, default=None, metavar="DIR",
                   help="save the executed notebooks as DIR/<student>/<notebook> (hidden tests removed)")
    p.add_argument("--keep-hidden-tests", action="store_true",
                   help="with --keep-executed: keep the hidden tests and full tracebacks (do not return these "
                        "notebooks to students)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run student code WITHOUT bubblewrap, with your rights (unsafe; the CSV says so)")
    p.add_argument("--memory", type=float, default=limits.memory / GiB,
                   help=f"GiB of memory per kernel process (default {limits.memory / GiB:g})")
    p.add_argument("--cpu-seconds", type=int, default=limits.cpu_seconds,
                   help=f"CPU seconds per kernel process (default {limits.cpu_seconds})")
    p.add_argument("--file-size", type=float, default=limits.file_size / MiB,
                   help=f"MiB per file a notebook writes (default {limits.file_size / MiB:g})")
    p.add_argument("--processes", type=int, default=limits.processes,
                   help=f"processes and threads per kernel (default {limits.processes})")
    p.add_argument("--tmp-size", type=float, default=limits.tmp_size / MiB,
                   help=f"MiB of the sandbox's private /tmp (default {limits.tmp_size / MiB:g})")
    p.add_argument("--threads", type=int, default=limits.threads,
                   help=f"threads of the numerical libraries per kernel (default {limits.threads})")
    p.add_argument("--max-file-size", type=float, default=defaults.max_file_size / MiB,
                   help=f"MiB: larger submitted files are refused (default {defaults.max_file_size / MiB:g})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "release":
            for path in release(args.source_dir, args.release_dir, args.only):
                print(f"released {path}")
        elif args.command == "execute":
            for path in args.notebooks:
                nb = execute_notebook(nbformat.read(path, NBFORMAT_VERSION), path.parent, args.timeout)
                nbformat.write(nb, path)
                print(f"executed {path}")
        elif args.command == "handout":
            from dcai_lab.course.handout import build_handout

            folder = build_handout(args.dest, args.source, with_answers=args.with_answers)
            print(f"handout written to {folder}: hand out this folder"
                  + (" (with the answers pages, for self-study)" if args.with_answers else " (it holds no answer)"))
        else:
            _grade(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command != "grade":
            raise
        print(f"\ninterrupted: {args.out} is as it was; the students graded so far are in {args.out}.partial",
              file=sys.stderr)
        sys.stderr.flush()
        from dcai_lab.course.autograde import remove_temporary_copies

        remove_temporary_copies()
        os._exit(130)  # at once: the running notebooks' kernels end with the grader (bubblewrap's --die-with-parent)
    return 0


def _grade(args) -> None:
    from dcai_lab.course.grading import Options, grade
    from dcai_lab.course.sandbox import Limits

    limits = Limits(memory=int(args.memory * GiB), cpu_seconds=args.cpu_seconds, file_size=int(args.file_size * MiB),
                    processes=args.processes, tmp_size=int(args.tmp_size * MiB), threads=args.threads)
    options = Options(cell_timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                      sandbox=not args.no_sandbox, limits=limits, library_calls=args.library_calls,
                      max_file_size=int(args.max_file_size * MiB), keep_executed=args.keep_executed,
                      keep_hidden_tests=args.keep_hidden_tests)
    rows = grade(args.submissions_dir, args.source, args.out, options, jobs=args.jobs, feedback_dir=args.feedback,
                 canvas=args.canvas, moodle=args.moodle, progress=True)
    for row in rows:
        line = f"{row['student']}: {row['total']:g} / {row['max_total']:g}"
        if row["review"]:
            line += f"  REVIEW: {row['review']}"
        print(line)
    print(f"wrote {args.out}" + (f", feedback in {args.feedback}/" if args.feedback else ""))
    if args.no_sandbox:
        print("graded WITHOUT a sandbox (--no-sandbox): student code ran with your rights", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
