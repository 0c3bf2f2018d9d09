"""The course's command line: ``python -m dcai_lab.course release | execute | grade``.

    python -m dcai_lab.course release notebooks/solutions notebooks   # make release
    python -m dcai_lab.course execute notebooks/solutions/*.ipynb     # make solutions
    python -m dcai_lab.course grade submissions/ --out grades.csv     # make grade
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from dcai_lab.course.grading import grade
from dcai_lab.course.notebooks import NBFORMAT_VERSION, execute_notebook, release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcai_lab.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="build student notebooks from solution notebooks")
    p.add_argument("source_dir", nargs="?", default="notebooks/solutions")
    p.add_argument("release_dir", nargs="?", default="notebooks")
    p.add_argument("--only", nargs="+", default=None, metavar="NOTEBOOK", help="release only these notebooks")
    p = sub.add_parser("execute", help="run notebooks in place, storing their outputs")
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    p = sub.add_parser("grade", help="autograde a folder of submissions into a CSV")
    p.add_argument("submissions_dir", type=Path)
    p.add_argument("--source", type=Path, default=Path("notebooks/solutions"))
    p.add_argument("--out", type=Path, default=Path("grades.csv"))
    p.add_argument("--timeout", type=float, default=60, help="seconds per cell before it is interrupted (default 60)")
    p.add_argument("--notebook-timeout", type=float, default=None,
                   help="seconds per notebook before its kernel is shut down (default 10 times --timeout)")
    p.add_argument("--keep-executed", type=Path, default=None, metavar="DIR",
                   help="save the executed notebooks as DIR/<student>/<notebook>")
    args = parser.parse_args(argv)

    try:
        if args.command == "release":
            for path in release(args.source_dir, args.release_dir, args.only):
                print(f"released {path}")
        elif args.command == "execute":
            for path in args.notebooks:
                nb = execute_notebook(nbformat.read(path, NBFORMAT_VERSION), path.parent, args.timeout)
                nbformat.write(nb, path)
                print(f"executed {path}")
        else:
            rows = grade(args.submissions_dir, args.source, args.out, args.timeout, args.notebook_timeout,
                         args.keep_executed)
            for row in rows:
                print(f"{row['student']}: {row['total']:g} / {row['max_total']:g}"
                      + (f"  ({row['problems']})" if row["problems"] else ""))
            print(f"wrote {args.out}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
