"""Label images by hand in a notebook, and let a person be the oracle of an active learning loop (notebook 04, section 8).

>>> import numpy as np
>>> tool = LabelingWidget(np.zeros((5, 8, 8), np.uint8), class_names=["cat", "dog"])
>>> tool.ask([3, 1])
>>> tool.label("dog"); tool.label(0)           # a class name or a class index
>>> tool.labels
{3: 1, 1: 0}
>>> tool.undo(); tool.labels                   # take the last label back
{3: 1}
>>> tool.label(0.5)
Traceback (most recent call last):
...
ValueError: label must be an integer in 0..1, got 0.5 (a class index, a class name from ['cat', 'dog'] or a key from '01')

In JupyterLab, ``display(tool)`` shows the current image with one button per
class, an Undo and a Stop button, and a key box: type a class's key (``0``-``9``
by default) there to label without the mouse.

A person as the oracle of a loop. Called with pool ids, ``tool(ids)`` shows them
one by one, waits until all are labeled and returns their labels: that makes the
widget an ``oracle`` for :func:`dcai_lab.active.run_active_learning`,
:func:`dcai_lab.seals.run_seals` or the data engine of notebook 04. The kernel
cannot handle a button click while a cell is busy, so run the loop in the
background with :meth:`LabelingWidget.run` and label while it waits::

    tool = labeling_widget(pool.images, pool.class_names)
    job = tool.run(run_active_learning, X, None, X_test, y_test, oracle=tool, progress=False)
    tool                       # label here; the loop goes on after every batch
    history = job.result()     # in a later cell, once the loop is done

Every label is kept in ``tool.labels`` as soon as it is given, so nothing is lost
if the loop stops. Stop ends the labeling: the prompt says how many labels were
kept, the class buttons, the key box and Stop itself are disabled, and the
waiting oracle (or the next one the loop calls) raises :class:`LabelingStopped`.
``job.result()`` then re-raises the loop's error, which a notebook shows as one
line (``LoopStopped``, whose ``.history`` holds the finished rounds, or
``LabelingStopped``). ``ask`` or ``run`` start labeling again.
"""

from __future__ import annotations

import io
import threading
from typing import Any, Callable, Sequence

import numpy as np

from dcai_lab._checks import check_float, check_function, check_ids, check_images, check_int
from dcai_lab.widgets._base import WidgetView

__all__ = ["LabelingWidget", "LabelingStopped", "BackgroundRun", "labeling_widget"]

DEFAULT_KEYS = "0123456789abcdefghijklmnopqrstuvwxyz"


class LabelingStopped(RuntimeError):
    """The person pressed Stop; ``.labels`` holds every label given so far.

    In a notebook it shows as one line, not a traceback: nothing went wrong, and the
    labels are kept.
    """

    by_person = True  # a person stopped, nothing failed: LoopStopped shows one line for it too

    def __init__(self, labels: dict[int, int]):
        super().__init__(f"labeling stopped after {len(labels)} label{'s' * (len(labels) != 1)}; "
                         "they are kept in .labels")
        self.labels = dict(labels)

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: one line."""
        return [f"LabelingStopped: {self}"]


class LabelingWidget(WidgetView):
    """Show images one at a time and record the class a person gives each.

    Parameters
    ----------
    images : array (N, H, W) or (N, H, W, 3), uint8 (or float in [0, 1]). Items are addressed by
        their index (pool id).
    class_names : at least two distinct classes, in label order; one button each.
    keys : one distinct keyboard key per class (default ``"0123456789"``, then letters).

    Attributes
    ----------
    labels : dict, pool id -> class index, in the order labels were given.
    queue : the pool ids still waiting for a label.
    stopped : True after Stop, until :meth:`ask` or :meth:`run`.
    """

    def __init__(self, images: np.ndarray, class_names: Sequence[str], keys: str | None = None):
        self.images = check_images(images)
        if isinstance(class_names, str) or len(class_names) < 2:
            raise ValueError(f"class_names must be a list of at least two class names, got {class_names!r}")
        self.class_names = [str(c) for c in class_names]
        if len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"class_names must be distinct, got {self.class_names}")
        if keys is None and len(class_names) > len(DEFAULT_KEYS):
            raise ValueError(f"{len(class_names)} classes are more than the {len(DEFAULT_KEYS)} default keys; "
                             "give keys=... (one character per class)")
        keys = DEFAULT_KEYS[:len(class_names)] if keys is None else keys
        if not isinstance(keys, str) or len(keys) != len(class_names) or len(set(keys)) != len(keys):
            raise ValueError(f"keys must give one distinct key per class ({len(class_names)}) as a string, "
                             f"got {keys!r}")
        self.keys = keys
        self.labels: dict[int, int] = {}
        self.queue: list[int] = []
        self.stopped = False
        self._changed = threading.Condition(threading.RLock())  # a label given, taken back, or Stop

    # ------------------------------------------------------------------ the logic (no widgets needed)

    def ask(self, ids: Sequence[int]) -> None:
        """Queue pool ids for labeling (ids already labeled or queued are skipped); after Stop, label again."""
        ids = check_ids(ids, len(self.images), "ids")
        with self._changed:
            self.stopped = False
            self._queue(ids)

    def _queue(self, ids: np.ndarray) -> None:
        """Append checked ids to the queue (call with the lock held)."""
        self.queue += [i for i in dict.fromkeys(ids.tolist()) if i not in self.labels and i not in self.queue]
        self._update()

    @property
    def current(self) -> int | None:
        """The pool id on screen, or None when nothing waits for a label."""
        return self.queue[0] if self.queue else None

    def label(self, label: int | str) -> None:
        """Give the current image a class: its index ``0 .. C - 1``, its name, or its key (names first)."""
        with self._changed:
            if self.current is None:
                raise ValueError("nothing to label: " + ("labeling was stopped; ask(ids) to label again"
                                                         if self.stopped else "call ask(ids) first"))
            self.labels[self.queue[0]] = self._class_index(label)
            self.queue.pop(0)
            self._update()

    def _class_index(self, label) -> int:
        if isinstance(label, str):
            if label in self.class_names:
                return self.class_names.index(label)
            if len(label) == 1 and label in self.keys:
                return self.keys.index(label)
            raise ValueError(f"label: unknown class {label!r}; choose from {self.class_names} or keys {self.keys!r}")
        return check_int(label, "label", min=0, max=len(self.class_names) - 1,
                         hint=f" (a class index, a class name from {self.class_names} or a key from {self.keys!r})")

    def undo(self) -> None:
        """Take back the most recent label; its image comes back on screen (nothing to take back: no change)."""
        with self._changed:
            if self.stopped:
                raise RuntimeError("labeling was stopped; ask(ids) to label again (the labels are in .labels)")
            if not self.labels:
                return
            last = next(reversed(self.labels))
            del self.labels[last]
            self.queue.insert(0, last)
            self._update()

    def stop(self) -> None:
        """Stop: a waiting ``tool(ids)``, or the next one, raises :class:`LabelingStopped`.

        The labels given are kept; the items still queued are dropped (nobody waits for them).
        """
        with self._changed:
            self.stopped = True
            self.queue.clear()
            self._update()

    def answers(self, ids: Sequence[int]) -> np.ndarray:
        """The labels of ``ids``, in order; ``ValueError`` naming the ids that have no label yet."""
        ids = check_ids(ids, len(self.images), "ids").tolist()
        missing = [i for i in ids if i not in self.labels]
        if missing:
            raise ValueError(f"{len(missing)} of the {len(ids)} items have no label yet (pool ids {missing[:5]}); "
                             "label them in the widget first")
        return np.array([self.labels[i] for i in ids], dtype=np.int64)

    def __call__(self, ids: Sequence[int]) -> np.ndarray:
        """The oracle interface: show ``ids``, wait until all are labeled, return their labels in order.

        Raises :class:`LabelingStopped` if Stop is pressed first (or was pressed while the
        loop was busy). Call it from a background thread (see :meth:`run`): the kernel's
        main thread must stay free to receive the clicks.
        """
        ids = check_ids(ids, len(self.images), "ids")
        with self._changed:
            if self.stopped:
                raise LabelingStopped(self.labels)
            self._queue(ids)
        wanted = ids.tolist()
        self._wait_until(lambda: self.stopped or all(i in self.labels for i in wanted))
        if self.stopped:
            raise LabelingStopped(self.labels)
        return self.answers(ids)

    def _wait_until(self, done: Callable[[], bool]) -> None:
        """Block this (background) thread until ``done()``; every label, undo or Stop wakes it."""
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("waiting for clicks here would freeze the kernel that receives them: run the loop "
                               "in the background with tool.run(loop, ..., oracle=tool), or give the labels "
                               "yourself with tool.label(...); without a person, use the simulated oracle")
        with self._changed:
            self._changed.wait_for(done)

    def run(self, function: Callable[..., Any], *args, **kwargs) -> "BackgroundRun":
        """Run ``function(*args, **kwargs)`` in a background thread, e.g. a loop with ``oracle=self``.

        The cell returns at once; label in the widget while the loop waits for you,
        and read the loop's result with ``.result()`` in a later cell. A Stop pressed
        before is forgotten: the new run can ask for labels.
        """
        check_function(function, "function", "such as run_active_learning")
        with self._changed:
            self.stopped = False
            self._update()
        return BackgroundRun(self, function, args, kwargs)

    def _update(self) -> None:
        """After a change of state: wake a waiting oracle and redraw (call with the lock held)."""
        self._changed.notify_all()
        self._refresh()

    # ------------------------------------------------------------------ the view

    def _build(self) -> dict:
        import ipywidgets as w

        ui: dict = {"image": w.Image(format="png", width=160, height=160),
                    "status": w.HTML(), "key": w.Text(placeholder="type a key", layout=w.Layout(width="110px"))}
        ui["buttons"] = [w.Button(description=f"{name} [{key}]", layout=w.Layout(width="auto"))
                         for name, key in zip(self.class_names, self.keys)]
        for c, button in enumerate(ui["buttons"]):
            button.on_click(lambda _, c=c: self.current is not None and self.label(c))
        ui["undo"] = w.Button(description="Undo", icon="undo", button_style="warning")
        ui["stop"] = w.Button(description="Stop", icon="stop", button_style="danger")
        ui["undo"].on_click(lambda _: self.undo())
        ui["stop"].on_click(lambda _: self.stop())

        def on_key(change):
            typed = change["new"][-1:]
            if not typed:
                return  # the box was just cleared
            ui["key"].value = ""
            if typed in self.keys and self.current is not None:
                self.label(typed)
        ui["key"].observe(on_key, names="value")
        ui["box"] = w.VBox([w.HBox([ui["image"], ui["status"]]), w.HBox(ui["buttons"]),
                            w.HBox([ui["key"], ui["undo"], ui["stop"]])])
        ui["box"].add_class("dcai-labeling")
        return ui

    def _show_state(self, ui: dict) -> None:
        n = len(self.labels)
        if self.current is not None:
            ui["image"].value = _png(self.images[self.current])
            head = f"<b>pool id {self.current}</b>: which class is this?"
        else:
            ui["image"].value = _png(np.zeros(self.images.shape[1:], np.uint8))
            head = (f"<b>stopped</b>: {n} label{'s' * (n != 1)} kept" if self.stopped
                    else "<b>nothing to label</b>")
        last = ""
        if self.labels:
            pid, lab = next(reversed(self.labels.items()))
            last = f"<br>last: pool id {pid} = {self.class_names[lab]}"
        ui["status"].value = f"{head}<br>labeled {n}, waiting {len(self.queue)}{last}"
        for button in ui["buttons"]:
            button.disabled = self.current is None
        ui["key"].disabled = self.current is None
        ui["undo"].disabled = self.stopped or not self.labels
        ui["stop"].disabled = self.stopped


def _png(image: np.ndarray, size: int = 160) -> bytes:
    """One checked image (H, W, 1 or 3) as PNG bytes, its longer side ``size`` pixels; grey as dark ink on white."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(image * 255).astype(np.uint8)  # checked floats are in [0, 1]
    if image.shape[-1] == 1:
        image = 255 - image[..., 0]  # dark ink on white, as in the plots
    height, width = image.shape[:2]
    scale = size / max(height, width)
    img = Image.fromarray(image).resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


class BackgroundRun:
    """A function running in a background thread while a person labels (see :meth:`LabelingWidget.run`).

    >>> tool = LabelingWidget(np.zeros((3, 8, 8), np.uint8), ["a", "b"])
    >>> job = tool.run(tool, [2, 0])          # the oracle alone: waits for two labels
    >>> job.done()
    False
    >>> tool.label("b"); tool.label("a")
    >>> job.result(timeout=10).tolist()
    [1, 0]
    """

    def __init__(self, tool: LabelingWidget, function: Callable[..., Any], args: tuple, kwargs: dict):
        self._tool, self._value, self._error = tool, None, None
        self._thread = threading.Thread(target=self._main, args=(function, args, kwargs), daemon=True,
                                        name=f"dcai-labeling-{getattr(function, '__name__', 'run')}")
        self._thread.start()

    def _main(self, function, args, kwargs) -> None:
        try:
            self._value = function(*args, **kwargs)
        except BaseException as error:  # kept for result(): the labels stay in tool.labels
            self._error = error

    def done(self) -> bool:
        """True once the function has returned or raised."""
        return not self._thread.is_alive()

    def result(self, timeout: float = 0):
        """The function's return value; re-raises its error (e.g. ``LoopStopped`` after Stop).

        With the default ``timeout=0`` (seconds) it never blocks the kernel: if the function
        is still waiting for labels, ``RuntimeError`` says how many; label them and ask again.
        """
        self._thread.join(check_float(timeout, "timeout", min=0, hint=" (seconds to wait)"))
        if not self.done():
            raise RuntimeError(f"still running: {len(self._tool.queue)} items wait for a label "
                               f"({len(self._tool.labels)} labeled so far); label them in the widget "
                               "(or press Stop), then run this cell again")
        if self._error is not None:
            raise self._error
        return self._value


def labeling_widget(images: np.ndarray, class_names: Sequence[str], ids: Sequence[int] | None = None,
                    keys: str | None = None) -> LabelingWidget:
    """Make a :class:`LabelingWidget` (notebook 04, section 8; and queue ``ids`` if given); display it to label by hand."""
    tool = LabelingWidget(images, class_names, keys)
    if ids is not None:
        tool.ask(ids)
    return tool
