"""Reading a class's submissions without trusting them: nothing is followed, nothing is changed.

Submissions are laid out one folder per student, as nbgrader collects them::

    submissions/<student>/<notebook>.ipynb   (or <student>/<assignment>/<notebook>.ipynb)

Only regular files are read, opened without following links and without blocking, and only up to
``max_file_size`` bytes; a symbolic link, a FIFO, a device, a socket or a bigger file is refused, with
a problem noted, and a student folder that is itself a link is not graded. When a student's folder
holds a notebook more than once (``a/00.ipynb`` and ``b/00.ipynb``), the most recently modified copy
is graded and the others are named. The files are never modified: a submission is graded in a fresh
temporary copy of its folder (:func:`copy_folder`).
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = ["Student", "find_students", "scan_student", "read_notebook", "copy_folder", "MAX_FILE_SIZE",
           "MAX_FOLDER_SIZE"]

MAX_FILE_SIZE = 50 * 2**20  # bytes: a notebook with its outputs is a few MB
MAX_FOLDER_SIZE = 500 * 2**20  # bytes copied of one student's folder
SKIPPED_FOLDERS = (".ipynb_checkpoints", "__pycache__", ".git")


@dataclass
class Student:
    """One student's folder: the notebook files to grade (by notebook name) and what was refused."""

    name: str
    folder: Path
    notebooks: dict[str, Path] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # the regular files of the folder, relative to it
    problems: list[str] = field(default_factory=list)


def find_students(submissions_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """The student folders (sorted by name), and why each student entry that is a link is refused.

    Hidden entries and loose files are not students; a link is (it could point at a classmate's folder).
    """
    folders, refused = [], {}
    for entry in sorted(os.scandir(submissions_dir), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            refused[entry.name] = "the student's folder is a symbolic link: refused, not graded"
        elif entry.is_dir(follow_symlinks=False):
            folders.append(Path(entry.path))
    return folders, refused


def scan_student(folder: Path, names: list[str], max_file_size: int = MAX_FILE_SIZE) -> Student:
    """Find ``names`` (notebook file names) in ``folder`` and list its other regular files."""
    student = Student(folder.name, folder)
    found: dict[str, list[tuple[float, Path]]] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and not _refused(Path(root, d), folder, student))
        for name in sorted(files):
            path = Path(root, name)
            info = os.lstat(path)
            where = path.relative_to(folder)
            kind = _kind(info.st_mode)
            if kind != "file":
                student.problems.append(f"{where}: {kind}: refused")
                continue
            if info.st_size > max_file_size:
                student.problems.append(f"{where}: {info.st_size / 2**20:.0f} MB, over the {max_file_size / 2**20:.0f}"
                                        " MB limit: refused")
                continue
            student.files.append(where)
            if name in names:
                found.setdefault(name, []).append((info.st_mtime, where))
    for name, copies in found.items():
        copies.sort(key=lambda c: (-c[0], str(c[1])))
        student.notebooks[name] = folder / copies[0][1]
        if len(copies) > 1:
            others = ", ".join(str(c[1]) for c in copies[1:])
            student.problems.append(f"{name}: {len(copies)} copies in the folder ({copies[0][1]}, {others}): graded "
                                    f"{copies[0][1]} (the most recently modified)")
    return student


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refused(path: Path, folder: Path, student: Student) -> bool:
    if path.is_symlink():
        student.problems.append(f"{path.relative_to(folder)}: a symbolic link to a folder: refused")
        return True
    return False


def read_notebook(path: Path, max_file_size: int = MAX_FILE_SIZE) -> NotebookNode:
    """Read a notebook file safely (no link followed, no blocking, at most ``max_file_size`` bytes).

    Raises ``ValueError`` (saying why) for anything that is not a readable notebook.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{_kind(info.st_mode)}: refused")
        data = f.read(max_file_size + 1)
    if len(data) > max_file_size:
        raise ValueError(f"over the {max_file_size / 2**20:.0f} MB limit: refused")
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:
        raise ValueError(f"unreadable notebook ({type(exc).__name__})") from None
    if not isinstance(nb.get("cells"), list) or not all(isinstance(c, dict) for c in nb.cells):
        raise ValueError("unreadable notebook (its cells are not a list of cells)")
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            cell["source"] = "".join(map(str, cell["source"])) if isinstance(cell["source"], list) else ""
    return nb


def copy_folder(student: Student, dest: Path, max_total: int = MAX_FOLDER_SIZE) -> list[str]:
    """Copy the student's regular files into ``dest`` (safely, as read); return problems (files left out)."""
    problems, total = [], 0
    for where in student.files:
        source = student.folder / where
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                continue
            if total + info.st_size > max_total:
                problems.append(f"{where}: not copied for grading (the folder is over {max_total / 2**20:.0f} MB)")
                continue
            total += info.st_size
            target = dest / where
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(f, out)
    return problems
