"""Start a graded kernel: resource limits, an unprivileged user, then ipykernel (run inside the sandbox).

    python -m dcai_lab.course.kernel_launcher --memory BYTES --cpu-seconds S --file-size BYTES
        [--processes N] [--uid UID] [--matplotlib-cache DIR] -f CONNECTION_FILE [ipykernel options]

The limits apply to the kernel and every process it starts (``setrlimit`` is inherited). A write past
the file-size limit fails with ``OSError`` instead of killing the kernel (``SIGXFSZ`` is ignored). With
``--uid`` (the grader is root) the kernel drops to that user and no group before it runs any student
code. Started by :class:`dcai_lab.course.sandbox.GradingKernelManager`.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dcai_lab.course.kernel_launcher")
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--file-size", type=int, required=True)
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--matplotlib-cache", default=None)
    parser.add_argument("-f", dest="connection_file", required=True)
    args, kernel_args = parser.parse_known_args(argv)  # the rest is for ipykernel

    limits = {resource.RLIMIT_DATA: args.memory, resource.RLIMIT_CPU: args.cpu_seconds,
              resource.RLIMIT_FSIZE: args.file_size, resource.RLIMIT_CORE: 0}
    if args.processes is not None:
        limits[resource.RLIMIT_NPROC] = args.processes
    for which, value in limits.items():
        ceiling = resource.getrlimit(which)[1]  # an unprivileged user cannot raise its hard limit
        hard = value + 5 if which == resource.RLIMIT_CPU else value  # SIGXCPU first, then SIGKILL
        if ceiling != resource.RLIM_INFINITY:
            value, hard = min(value, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (value, hard))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if args.uid is not None:
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    for name in ("HOME", "MPLCONFIGDIR", "IPYTHONDIR"):
        os.makedirs(os.environ[name], exist_ok=True)
    if args.matplotlib_cache and os.path.isdir(args.matplotlib_cache):
        for name in os.listdir(args.matplotlib_cache):
            if name.startswith("fontlist-") and name.endswith(".json"):
                shutil.copyfile(os.path.join(args.matplotlib_cache, name),
                                os.path.join(os.environ["MPLCONFIGDIR"], name))
    if os.environ.get("JPY_PARENT_PID") != str(os.getppid()):
        # in the sandbox's PID namespace the grader's PID means nothing: ipykernel would see its parent gone
        # and exit; there bubblewrap ends the kernel with the grader. Outside (--no-sandbox) it stays, so
        # that ipykernel exits when the grader does.
        os.environ.pop("JPY_PARENT_PID", None)
    kernel_args = list(dict.fromkeys(["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR",
                                      *kernel_args]))
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", args.connection_file, *kernel_args])


if __name__ == "__main__":
    main()
