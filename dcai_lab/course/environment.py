"""Check that a course machine has what the notebooks need."""

from __future__ import annotations

import importlib
import os
import platform

# The packages the course needs, with the import name of each.
REQUIRED = {"numpy": "numpy", "scikit-learn": "sklearn", "matplotlib": "matplotlib", "torch": "torch",
            "torchvision": "torchvision", "faiss-cpu": "faiss", "ipywidgets": "ipywidgets", "tqdm": "tqdm",
            "pandas": "pandas", "nbgrader": "nbgrader"}


def check_environment(verbose: bool = True) -> dict[str, str]:
    """Import every package the course needs and report versions, CPU threads and offline data.

    Returns ``{package: version}``; raises ``ImportError`` naming every missing
    package and the command that installs them.
    """
    versions, missing = {"python": platform.python_version()}, []
    for package, module in REQUIRED.items():
        try:
            versions[package] = getattr(importlib.import_module(module), "__version__", "?")
        except ImportError:
            missing.append(package)
    if missing:
        raise ImportError(f"missing packages: {', '.join(missing)}. From the repository's top folder run "
                          "`make lab` (it installs everything into .venv), or `pip install -e .`")
    import torch

    from dcai_lab.data import load_digits

    versions["cpu threads (torch)"] = str(torch.get_num_threads())
    versions["cpu cores"] = str(os.cpu_count())
    versions["digits (offline)"] = f"{len(load_digits())} images"
    if verbose:
        width = max(map(len, versions))
        for name, version in versions.items():
            print(f"{name:<{width}}  {version}")
    return versions
