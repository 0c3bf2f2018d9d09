"""Interactive views for the notebooks (ipywidgets), each with a static fallback.

- :func:`uncertainty_explorer`: a model's uncertainty over the pool, round by round (notebook 01).
- :func:`neighbors_explorer`: a labeled image's nearest neighbours and SEALS's growing candidate pool (notebook 02).
- :func:`cluster_explorer`: the clusters of the prototype pruning metric, easiest to hardest (notebook 03).
- :func:`labeling_widget`: label images by hand; it can be the oracle of an active learning loop (notebook 04).

Displayed in JupyterLab, each shows live controls. Where no widget front end runs
(``DCAI_STATIC_WIDGETS=1``, which ``make test`` and ``make solutions`` set so that
stored outputs are plain pictures nbval can compare, or outside an IPython kernel),
the explorers show the same picture as a static matplotlib figure instead.

>>> from dcai_lab.widgets import cluster_explorer   # each widget lives in a module of its own
>>> callable(cluster_explorer)
True
"""

from __future__ import annotations

import importlib
import io
import os

__all__ = ["uncertainty_explorer", "neighbors_explorer", "cluster_explorer", "labeling_widget",
           "static_widgets", "figure_png", "WidgetView"]

# widget name -> the module that defines it (imported on first use, so `import dcai_lab.widgets` stays light)
_HOMES = {
    "uncertainty_explorer": "dcai_lab._uncertainty_widget",
    "UncertaintyExplorer": "dcai_lab._uncertainty_widget",
    "neighbors_explorer": "dcai_lab._neighbors_widget",
    "NeighborsExplorer": "dcai_lab._neighbors_widget",
    "cluster_explorer": "dcai_lab._cluster_widget",
    "ClusterExplorer": "dcai_lab._cluster_widget",
    "labeling_widget": "dcai_lab.labeling",
    "LabelingWidget": "dcai_lab.labeling",
    "LabelingStopped": "dcai_lab.labeling",
}


def static_widgets() -> bool:
    """True where no widget front end can run: ``DCAI_STATIC_WIDGETS=1``, or not inside an IPython kernel."""
    if os.environ.get("DCAI_STATIC_WIDGETS") == "1":
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or not hasattr(shell, "kernel")


def figure_png(fig, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image``); the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


class WidgetView:
    """What the kit's widgets share: the ipywidgets view is built once, on first display.

    A widget class defines ``_build()`` (a dict of ipywidgets controls, the outer one
    under ``"box"``), ``_refresh()`` (update the controls from the widget's state) and
    ``_show_static()`` (what to show where no widget front end runs).
    """

    _ui: dict | None = None

    def widget(self):
        """The ipywidgets view (built once)."""
        if self._ui is None:
            self._ui = self._build()
            self._refresh()
        return self._ui["box"]

    def _show_static(self) -> None:
        from IPython.display import display

        display(self.widget())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if static_widgets():
            self._show_static()
        else:
            display(self.widget())


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'dcai_lab.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
