"""The kernel of a graded submission, in a sandbox: student code cannot reach anything but its own copy.

Each submission runs in a fresh temporary copy of its folder, with a kernel started by
`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, Debian's ``bubblewrap``):

- its own namespaces (``--unshare-all``): no network, its own process tree, so ``--die-with-parent``
  ends every process the notebook started when the grader stops the kernel;
- a file system made of the system, the Python installation, the virtual environment and the kit's
  library and data, all read-only; the copy of the submission, read-write; a private ``/tmp`` in memory.
  Other students' folders, the instructor's notebooks and the grader's output are not there at all;
- the environment rebuilt from scratch (no variable of the grader's leaks in): ``DCAI_GRADING=1``
  (explore mode off), static widgets, no progress bars, fixed hash seed and thread counts;
- resource limits set inside before the kernel starts (:mod:`dcai_lab.course.kernel_launcher`): memory,
  CPU time, file size, processes. When the grader runs as root, the kernel runs as an unprivileged user of
  its own (a number of ``SANDBOX_UIDS``), so that the process limit holds.

The kernel talks to the grader over ZeroMQ ``ipc`` sockets in a folder shared with the sandbox (no TCP at
all, so kernels do not warn about unencrypted TCP), and is interrupted by message, not by signal.
Without a sandbox (``sandbox=False``, the grader's ``--no-sandbox``) the same kernel runs with the same
environment and limits but with the grader's rights.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

__all__ = ["Limits", "find_bwrap", "require_bwrap", "GradingKernelManager", "SANDBOX_UIDS"]

SANDBOX_UIDS = range(1_900_000_000, 1_900_000_000 + 10_000_000)  # the users root's graded kernels run as
KIT = Path(__file__).resolve().parents[2]
# Of the kit, the sandbox holds only what a student's notebook reads: never the notebooks or the tests.
KIT_READ_ONLY = ("dcai_lab", "data", "benchmarks/results")
ETC_FILES = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
             "alternatives", "mime.types", "fonts")
# Same results on every CPU and whatever --jobs is: these pass through from the grader's environment.
PASSED_ON = ("OPENBLAS_CORETYPE", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA",
             "FAISS_OPT_LEVEL", "LANG", "LC_ALL", "TZ")


@dataclass(frozen=True)
class Limits:
    """Resource limits of a graded kernel, per process (``setrlimit``); see INSTRUCTORS.md.

    Parameters
    ----------
    memory : bytes of data memory (heap and private mappings, ``RLIMIT_DATA``); beyond it an
        allocation fails with ``MemoryError``.
    cpu_seconds : CPU time (``RLIMIT_CPU``); beyond it the kernel is killed.
    file_size : bytes of any one file written (``RLIMIT_FSIZE``); a bigger write fails with ``OSError``.
    processes : processes and threads of the kernel's user (``RLIMIT_NPROC``; enforced in the sandbox);
        a fork bomb gets ``BlockingIOError``.
    tmp_size : bytes of the private ``/tmp`` (memory-backed) in the sandbox.
    threads : threads of the numerical libraries (OpenMP, BLAS, torch); the same for every ``--jobs``.
    """

    memory: int = 6 * 2**30
    cpu_seconds: int = 900
    file_size: int = 256 * 2**20
    processes: int = 128
    tmp_size: int = 512 * 2**20
    threads: int = 1

    def __post_init__(self):
        for name in ("memory", "cpu_seconds", "file_size", "processes", "tmp_size", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"the {name} limit must be a positive whole number, got {value!r}")

    def launcher_args(self, sandbox: bool, uid: int | None) -> list[str]:
        """The kernel launcher's options; the process limit only in the sandbox, where the kernel's user
        owns no other process (outside it, it would count all of the grader's)."""
        args = ["--memory", str(self.memory), "--cpu-seconds", str(self.cpu_seconds),
                "--file-size", str(self.file_size)]
        if sandbox and (uid is not None or os.geteuid() != 0):
            args += ["--processes", str(self.processes)]
        if uid is not None:
            args += ["--uid", str(uid)]
        return args


def find_bwrap() -> str | None:
    """The path of ``bwrap``, or None if bubblewrap is not installed."""
    return shutil.which("bwrap")


def require_bwrap() -> str:
    """The path of ``bwrap``; raises ``ValueError`` saying how to install it, or how to grade without it."""
    path = find_bwrap()
    if path is None:
        raise ValueError("bubblewrap (bwrap) is not installed, and the grader runs student code only inside it: "
                         "install it (Debian/Ubuntu: sudo apt-get install bubblewrap), or pass --no-sandbox to "
                         "grade with the grader's own rights (unsafe: any submission can read and change your "
                         "files; the CSV says so)")
    return path


def kernel_environment(home: str, limits: Limits) -> dict[str, str]:
    """The whole environment of a graded kernel (nothing else of the grader's is passed on)."""
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    threads = str(limits.threads)
    env.update({
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "USER": "student",
        "LOGNAME": "student", "TMPDIR": str(Path(home).parent), "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython", "JUPYTER_PLATFORM_DIRS": "1", "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "DCAI_GRADING": "1",
        "DCAI_STATIC_WIDGETS": "1", "TQDM_DISABLE": "1",
        "MPLBACKEND": os.environ.get("MPLBACKEND", "module://matplotlib_inline.backend_inline"),
        "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
        "NUMEXPR_NUM_THREADS": threads,
    })
    env.setdefault("LANG", "C.UTF-8")
    return env


def _matplotlib_cache() -> str | None:
    """The grader's matplotlib font cache, copied into the kernel's home (no "building the font cache")."""
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(os.path.expanduser("~"), ".cache", "matplotlib")
    return folder if any(Path(folder).glob("fontlist-*.json")) else None


def bwrap_command(bwrap: str, workdir: str, conn_dir: str, limits: Limits, env: dict[str, str]) -> list[str]:
    """``bwrap ...  --`` : the sandbox around a command (see the module's docstring)."""
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.geteuid() != 0:
        cmd += ["--unshare-user"]
    else:  # root: no user namespace (the kernel must become a real unprivileged user); it may switch once
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    made: set[str] = {"/tmp", "/dev/shm"}

    def parents(path: str) -> list[str]:
        out = []
        for parent in reversed(Path(path).parents[:-1]):  # every ancestor but "/"
            if str(parent) not in made:
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    # the private /tmp first: the kit or the submission's copy may live under /tmp, bound into it below
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs",
            "/tmp", "--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/dev/shm"]
    cmd += parents("/etc/x")
    for name in ETC_FILES:
        cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    read_only = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    read_only |= {str(KIT / part) for part in KIT_READ_ONLY if (KIT / part).exists()}
    mpl = _matplotlib_cache()
    for path in sorted(p for p in read_only if not p.startswith("/usr/")):
        cmd += parents(path) + ["--ro-bind", path, path]
    if mpl is not None:
        cmd += parents("/opt/dcai/x") + ["--ro-bind", mpl, "/opt/dcai/matplotlib"]
    for path in (workdir, conn_dir):
        cmd += parents(path) + ["--bind", path, path]
    cmd += ["--chdir", workdir, "--clearenv"]
    for name, value in env.items():
        cmd += ["--setenv", name, value]
    return cmd + ["--"]


class GradingKernelManager(AsyncKernelManager):
    """A python3 kernel for grading: ipc sockets in ``conn_dir``, limits, and (``sandbox=True``) bubblewrap.

    Parameters
    ----------
    workdir : the submission's temporary copy: the kernel's working directory, the one folder it may write.
    conn_dir : a fresh private folder for the connection file and the sockets (removed by the caller).
    sandbox : run the kernel in bubblewrap (``require_bwrap`` first).
    limits : resource limits (:class:`Limits`).
    uid : when the grader is root, the unprivileged user the sandboxed kernel runs as (a number of
        ``SANDBOX_UIDS`` used by no other kernel at the same time); ignored otherwise.
    """

    def __init__(self, workdir: str | Path, conn_dir: str | Path, sandbox: bool, limits: Limits,
                 uid: int | None = None, **kwargs):
        conn_dir = str(conn_dir)
        super().__init__(transport="ipc", ip=os.path.join(conn_dir, "kernel"),
                         connection_file=os.path.join(conn_dir, "kernel.json"), **kwargs)
        self.workdir, self.conn_dir, self.sandbox, self.limits = str(workdir), conn_dir, sandbox, limits
        self.uid = uid if sandbox and os.geteuid() == 0 else None
        home = "/tmp/home" if sandbox else tempfile.mkdtemp(prefix="home-", dir=conn_dir)
        env = kernel_environment(home, limits)
        launcher = [sys.executable, "-m", "dcai_lab.course.kernel_launcher", *limits.launcher_args(sandbox, self.uid)]
        mpl = _matplotlib_cache()
        if mpl is not None:
            launcher += ["--matplotlib-cache", "/opt/dcai/matplotlib" if sandbox else mpl]
        launcher += ["-f", "{connection_file}"]
        argv = (bwrap_command(require_bwrap(), self.workdir, conn_dir, limits, env) if sandbox else []) + launcher
        self._kernel_spec = KernelSpec(argv=argv, display_name="Python 3 (graded)", language="python",
                                       interrupt_mode="message", env={} if sandbox else env)
        self._sandbox_env = env
        if self.uid is not None:  # the kernel's user must write its folders, read its connection file
            for path in (conn_dir, self.workdir):
                _chown_tree(path, self.uid)

    @property
    def kernel_spec(self):
        return self._kernel_spec

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self.uid is not None:
            os.chown(self.connection_file, self.uid, self.uid)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if not self.sandbox:  # the kernel's whole environment, also without bubblewrap's --clearenv; and
            # ipykernel's parent poller, so that the kernel exits with the grader (the sandbox does it otherwise)
            kw["env"] = {**self._sandbox_env, "JPY_PARENT_PID": str(os.getpid())}
        kw["cwd"] = self.workdir
        log = open(os.path.join(self.conn_dir, "kernel.log"), "ab")  # the kernel's own messages, not the screen
        kw.update(stdout=log, stderr=log)
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            log.close()


def _chown_tree(path: str, uid: int) -> None:
    os.chown(path, uid, uid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
