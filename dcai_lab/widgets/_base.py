"""What the kit's widgets share: where they can run, and how they show themselves.

A widget class defines ``_build()`` (a dict of ipywidgets controls, the outer one under
``"box"``), ``_refresh()`` (update the controls from the widget's state) and
``_show_static()`` (what to show where no widget front end runs). Displayed in a notebook,
:class:`WidgetView` shows the live controls, or the static picture where
:func:`static_widgets` is True.
"""

from __future__ import annotations

import os

__all__ = ["WidgetView", "static_widgets"]


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


class WidgetView:
    """The ipywidgets view of a widget, built once, on first display."""

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
