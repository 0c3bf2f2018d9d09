"""What the kit's widgets share: where they can run, and how they show themselves.

A widget class defines ``_build()`` (a dict of ipywidgets controls, the outer one under
``"box"``), ``_show_state(ui)`` (copy the widget's state into the controls) and
``_show_static()`` (what to show where no widget front end runs). Displayed in a notebook,
:class:`WidgetView` shows the live controls, or the static picture where
:func:`static_widgets` is True.

State flows one way at a time. A person moving a control linked with :meth:`WidgetView._link`
sets the widget's attribute (which checks the value); the attribute's setter calls
:meth:`WidgetView._refresh`, which copies the whole state back into the controls. While it
copies, the links do not listen: a control that changes its own value as a side effect (a
``Dropdown`` whose ``options`` are replaced selects its first option) cannot overwrite the
state being shown.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

__all__ = ["WidgetView", "static_widgets", "check_each"]


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


def check_each(values, name: str, check: Callable) -> list:
    """``check(value, name)`` for every value of a non-empty list, e.g. the rounds a static figure shows.

    >>> check_each([0, 2], "rounds", lambda v, name: v)
    [0, 2]
    >>> check_each(2, "rounds", lambda v, name: v)
    Traceback (most recent call last):
    ...
    ValueError: rounds must be a non-empty list, e.g. [0, 2], got 2
    """
    if isinstance(values, str) or np.ndim(values) != 1 or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list, e.g. [0, 2], got {values!r}")
    return [check(value, name) for value in values]


class WidgetView:
    """The ipywidgets view of a widget, built once, on first display."""

    _ui: dict | None = None
    _copying_state_to_controls = False  # True while _refresh writes the controls: links ignore what they see

    def widget(self):
        """The ipywidgets view (built once)."""
        if self._ui is None:
            self._ui = self._build()
            self._refresh()
        return self._ui["box"]

    def _refresh(self) -> None:
        """Copy the state into the controls (nothing to do before the view is built)."""
        if self._ui is None:
            return
        self._copying_state_to_controls = True
        try:
            self._show_state(self._ui)
        finally:
            self._copying_state_to_controls = False

    def _link(self, control, attribute: str, convert: Callable | None = None) -> None:
        """When a person changes ``control``, set ``self.<attribute>`` to its value (through ``convert``)."""
        def changed(change):
            if not self._copying_state_to_controls and change["new"] is not None:
                setattr(self, attribute, change["new"] if convert is None else convert(change["new"]))
        control.observe(changed, names="value")

    def _show_static(self) -> None:
        from IPython.display import display

        display(self.widget())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if static_widgets():
            self._show_static()
        else:
            display(self.widget())
