"""Every input check of the library, with its message, in one place.

A public function of ``dcai_lab`` checks its arguments once, at the top, with these helpers
(as scikit-learn does with ``check_scalar`` and ``check_array``); the private kernels it calls
assume checked input and say so in their docstrings. Each helper returns the value converted
(an ``int``, a float64 array, ...) or raises ``ValueError`` with a message that names the
argument, shows what it got and says what to do.

>>> check_int(3, "batch_size", min=1)
3
>>> check_int(2.5, "batch_size", min=1)
Traceback (most recent call last):
...
ValueError: batch_size must be an integer >= 1, got 2.5
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_int", "check_float", "check_fraction", "check_bool", "check_choice", "check_function", "check_seed",
           "check_rng", "check_model", "check_path", "check_matrix", "check_vector", "check_probs", "check_ids",
           "check_mask", "check_labels", "same_label_kind", "check_images", "as_array", "unit_rows", "some"]

CHUNK_ROWS = 65_536  # rows per chunk where a whole-array temporary would be too large (unit_rows)


def some(values) -> str:
    """The first five of ``values`` for a message, ``[3, 7] ...`` style."""
    values = np.asarray(values).ravel()
    return f"{values[:5].tolist()}{' ...' if len(values) > 5 else ''}"


def _range_text(min, max, min_open: bool = False, max_open: bool = False) -> str:
    low = None if min is None else f"{'>' if min_open else '>='} {min:g}"
    high = None if max is None else f"{'<' if max_open else '<='} {max:g}"
    if low and high:
        return f" in {'(' if min_open else '['}{min:g}, {max:g}{')' if max_open else ']'}"
    return f" {low or high}" if (low or high) else ""


# --------------------------------------------------------------------------- scalars


def check_int(value, name: str, *, min: int | None = None, max: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int``; ``True``, ``2.5``, ``"3"`` or a value outside ``[min, max]`` raise.

    >>> check_int(np.int64(4), "k", min=1, max=10)
    4
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or (min is not None and value < min) or (max is not None and value > max):
        what = f" >= {min}" if max is None and min is not None else (
            f" in {min}..{max}" if min is not None else (f" <= {max}" if max is not None else ""))
        raise ValueError(f"{name} must be an integer{what}, got {value!r}{hint}")
    return int(value)


def check_float(value, name: str, *, min: float | None = None, max: float | None = None,
                min_open: bool = False, max_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite ``float`` in the given range (``min_open``: ``> min`` instead of ``>= min``).

    >>> check_float(0.1, "temperature", min=0, min_open=True)
    0.1
    >>> check_float(0, "temperature", min=0, min_open=True)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a finite number > 0, got 0
    """
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real) and np.isfinite(value)
    if ok:
        ok = ((min is None or (value > min if min_open else value >= min))
              and (max is None or (value < max if max_open else value <= max)))
    if not ok:
        raise ValueError(f"{name} must be a finite number{_range_text(min, max, min_open, max_open)}, "
                         f"got {value!r}{hint}")
    return float(value)


def check_fraction(value, name: str, *, allow_zero: bool = False, hint: str = "") -> float:
    """A fraction in (0, 1] (or [0, 1] with ``allow_zero``).

    >>> check_fraction(0.3, "keep_fraction")
    0.3
    """
    return check_float(value, name, min=0, max=1, min_open=not allow_zero, hint=hint)


def check_bool(value, name: str) -> bool:
    """``True`` or ``False`` (numpy's booleans too); 0, 1 and strings raise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name: str, choices) -> str:
    """One of ``choices`` (compared with ``==``).

    >>> check_choice("hard", "keep", ("hard", "easy"))
    'hard'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_function(value, name: str, example: str):
    """A callable; ``example`` shows its call in the message (``"train_fn(X, y) -> fitted model"``)."""
    if not callable(value):
        raise ValueError(f"{name} must be a function {example}, got {type(value).__name__}")
    return value


def check_seed(seed, name: str = "seed") -> int:
    """A seed for ``np.random.default_rng``: an integer >= 0."""
    return check_int(seed, name, min=0, hint=" (seeds are integers such as 0, 1, 2)")


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
                         f"got {type(rng).__name__}")
    return rng


def check_model(model, name: str = "model"):
    """A classifier with ``predict_proba`` (what every uncertainty score needs): an instance, not a class."""
    if isinstance(model, type):
        raise ValueError(f"{name} must be a model instance such as {model.__name__}(), not the class {model.__name__}")
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"{name} ({type(model).__name__}) has no predict_proba; active learning scores need class "
                         "probabilities (e.g. LogisticRegression, or SVC(probability=True))")
    return model


def check_path(path, name: str, *, allow_none: bool = True):
    """A file or folder name as a ``Path`` (a ``str`` or an ``os.PathLike``); None passes through if allowed.

    >>> check_path("data/cache", "cache_dir").as_posix()
    'data/cache'
    """
    import os
    from pathlib import Path

    if path is None and allow_none:
        return None
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and not path):
        raise ValueError(f"{name} must be a file or folder name (a str or pathlib.Path), got {path!r}")
    return Path(path)


# --------------------------------------------------------------------------- arrays


def as_array(x, name: str) -> np.ndarray:
    """``np.asarray(x)``; a ragged list of lists raises a ``ValueError`` that names the argument.

    >>> as_array([[1, 2], [3]], "X")
    Traceback (most recent call last):
    ...
    ValueError: X must be a rectangular array of numbers (rows of equal length)
    """
    try:
        return np.asarray(x)
    except ValueError:  # a ragged list of lists
        raise ValueError(f"{name} must be a rectangular array of numbers (rows of equal length)") from None


def _as_numbers(x, name: str, dtype) -> np.ndarray:
    """``np.asarray(x)`` as real numbers of ``dtype`` (None: keep a float dtype, else float64)."""
    arr = as_array(x, name)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if dtype is None:
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    return arr.astype(dtype, copy=False)


def _first_bad_row(arr: np.ndarray) -> int | None:
    """The first row holding NaN or infinity, or None (checked chunk by chunk: no full-size temporary)."""
    if arr.size == 0:
        return None
    rows = arr.reshape(len(arr), -1)
    for start in range(0, len(rows), CHUNK_ROWS):
        bad = np.flatnonzero(~np.isfinite(rows[start:start + CHUNK_ROWS]).all(axis=1))
        if len(bad):
            return start + int(bad[0])
    return None


def check_matrix(x, name: str, *, what: str = "(n_samples, n_features)", dtype=np.float64, n_rows: int | None = None,
                 n_cols: int | None = None, min_rows: int = 1, finite: bool = True) -> np.ndarray:
    """A 2-D array of real numbers (float64 by default; ``dtype=None`` keeps float32).

    Raises for a ragged list, strings, booleans, the wrong number of dimensions, rows or
    columns, fewer than ``min_rows`` rows, no columns, and (with ``finite``) NaN or infinity.

    >>> check_matrix([[1, 2], [3, 4]], "X").dtype
    dtype('float64')
    >>> check_matrix([1, 2], "X")
    Traceback (most recent call last):
    ...
    ValueError: X must be a 2-D array (n_samples, n_features), got shape (2,); for a single example use X[None, :]
    """
    arr = _as_numbers(x, name, dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array {what}, got shape {arr.shape}"
                         + (f"; for a single example use {name}[None, :]" if arr.ndim == 1 else ""))
    if len(arr) < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row{'s' * (min_rows > 1)} {what}, got shape {arr.shape}")
    if n_rows is not None and len(arr) != n_rows:
        raise ValueError(f"{name} must have {n_rows} rows (one per item), got {len(arr)}")
    if arr.shape[1] == 0 or (n_cols is not None and arr.shape[1] != n_cols):
        raise ValueError(f"{name} must have {n_cols if n_cols is not None else 'at least one'} column"
                         f"{'s' if n_cols not in (None, 1) else ''}, got shape {arr.shape}")
    if finite:
        row = _first_bad_row(arr)
        if row is not None:
            raise ValueError(f"{name} must be finite (row {row} holds NaN or infinity); fix or drop those rows")
    return arr


def check_vector(x, name: str, *, n: int | None = None, dtype=np.float64, min_len: int = 1,
                 finite: bool = True) -> np.ndarray:
    """A 1-D array of real numbers, of length ``n`` if given.

    >>> check_vector([0.2, 0.9], "scores").tolist()
    [0.2, 0.9]
    """
    arr = _as_numbers(x, name, dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (one number per item), got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} must have {n} entries (one per item), got {len(arr)}")
    if len(arr) < min_len:
        raise ValueError(f"{name} must have at least {min_len} entr{'ies' if min_len > 1 else 'y'}, "
                         f"got {len(arr) or 'none'}")
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (entry {int(np.flatnonzero(~np.isfinite(arr))[0])} is "
                         f"{arr[~np.isfinite(arr)][0]}); fix or drop it")
    return arr


def check_probs(probs, name: str = "probs", n_rows: int | None = None) -> np.ndarray:
    """Class probabilities as a float64 array (n, n_classes): every row in [0, 1], summing to 1.

    The tolerance follows the input's precision and the number of classes,
    ``max(1e-6, n_classes * eps(dtype))``: float32 softmax over many classes, or float16
    rows, pass; round-off such as ``-1e-17`` is clipped to 0.

    >>> check_probs(np.array([[0.25, 0.75]], dtype=np.float16)).dtype
    dtype('float64')
    """
    given = np.asarray(probs).dtype if hasattr(probs, "dtype") else np.dtype(np.float64)
    arr = check_matrix(probs, name, what="(n_samples, n_classes), one row of class probabilities per example",
                       n_rows=n_rows, min_rows=0)
    eps = np.finfo(given).eps if np.issubdtype(given, np.floating) else np.finfo(np.float64).eps
    tol = max(1e-6, arr.shape[1] * float(eps))
    outside = (arr < -tol) | (arr > 1 + tol)
    if outside.any():
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        raise ValueError(f"{name} must be in [0, 1] (row {row} holds {arr[row][outside[row]][0]:g}); "
                         "pass predict_proba output or apply a softmax")
    sums = arr.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1) > tol)
    if len(off):
        raise ValueError(f"{name} rows must sum to 1 (row {off[0]} sums to {float(sums[off[0]])!r}); "
                         "pass predict_proba output or apply a softmax")
    return np.clip(arr, 0.0, 1.0)


def check_ids(ids, n: int, name: str = "ids", *, unique: bool = False, min_len: int = 0) -> np.ndarray:
    """Pool ids as a 1-D int64 array, each in ``0 .. n - 1`` (a single integer is one id).

    A boolean mask or float ids raise (a mask is not a list of ids: use ``np.flatnonzero(mask)``).

    >>> check_ids([3, 1], 5).tolist()
    [3, 1]
    """
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of pool ids, got shape {arr.shape}")
    if arr.dtype == bool:
        raise ValueError(f"{name} must be pool ids (integers), got a boolean mask; use np.flatnonzero(mask)")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer pool ids (row numbers), got dtype {arr.dtype}"
                         + ("; use ids.astype(int)" if np.issubdtype(arr.dtype, np.floating) else ""))
    if len(arr) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} pool id{'s' * (min_len > 1)}, got {len(arr)}")
    arr = arr.astype(np.int64, copy=False)
    outside = arr[(arr < 0) | (arr >= n)]
    if len(outside):
        raise ValueError(f"{name} must be pool ids in 0..{n - 1} (row numbers); got {some(outside)}, "
                         f"outside the pool of {n}")
    if unique and len(np.unique(arr)) != len(arr):
        raise ValueError(f"{name} must be distinct pool ids; some appear twice")
    return arr


def check_mask(mask, n: int | None, name: str = "mask") -> np.ndarray:
    """A boolean mask over ``n`` items (any number when ``n`` is None), shape (n,).

    >>> check_mask([True, False], 2).tolist()
    [True, False]
    """
    arr = np.asarray(mask)
    if arr.dtype != bool or arr.ndim != 1 or (n is not None and len(arr) != n):
        shape = f"({n},)" if n is not None else "(N,)"
        raise ValueError(f"{name} must be a boolean mask over the pool, shape {shape}; got dtype {arr.dtype} and shape "
                         f"{arr.shape}; build it with mask = np.zeros(N, bool); mask[ids] = True")
    return arr


def check_labels(y, name: str = "y", *, n: int | None = None, min_classes: int = 1,
                 distinct: bool = False) -> np.ndarray:
    """Class labels, 1-D (integers or strings; floats only if whole numbers), of length ``n`` if given;
    with ``distinct``, each label at most once (a list of classes).

    >>> check_labels([0, 1, 1], "y", n=3).tolist()
    [0, 1, 1]
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} must have one label per item ({n}), got {len(arr)}")
    if arr.dtype == object or np.issubdtype(arr.dtype, np.complexfloating) or arr.dtype == bool:
        raise ValueError(f"{name} must hold integer (or string) class labels, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold class labels (whole numbers), got {some(arr[arr != np.round(arr)])}")
    if min_classes > 1 and len(np.unique(arr)) < min_classes:
        raise ValueError(f"{name} must hold at least {min_classes} classes, got {np.unique(arr).tolist()}")
    if distinct and len(np.unique(arr)) != len(arr):
        raise ValueError(f"{name} must be distinct, got {some(arr)}")
    return arr


def same_label_kind(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise when two label arrays cannot be compared (numbers in one, strings in the other)."""
    kind = {"i": "number", "u": "number", "f": "number", "U": "string", "S": "string"}
    if len(a) and len(b) and kind.get(a.dtype.kind) != kind.get(b.dtype.kind):
        raise ValueError(f"{name_a} holds {a.dtype} labels but {name_b} holds {b.dtype}: no prediction could ever "
                         "match, so accuracy would be 0; use the same kind of labels for both")


def check_images(images, name: str = "images", *, channels_last: bool = True) -> np.ndarray:
    """Images as an array (N, H, W, C) with C in {1, 3}: uint8 in 0..255 or float in [0, 1].

    A Dataset gives its ``images``; (N, H, W) gains a channel axis.

    >>> check_images(np.zeros((2, 8, 8), np.uint8)).shape
    (2, 8, 8, 1)
    """
    images = np.asarray(getattr(images, "images", images))
    if images.dtype == object or not (images.dtype == np.uint8 or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{name} must be uint8 (0..255) or float (0..1), got dtype {images.dtype}")
    if images.ndim == 2:
        raise ValueError(f"{name} must have shape (N, H, W) or (N, H, W, C), got a 2-D array {images.shape}; pass the "
                         "images, not flat features (e.g. dataset.images, not dataset.X), or reshape them, e.g. "
                         "X.reshape(-1, 8, 8)")
    if images.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if len(images) == 0 or 0 in images.shape[1:3]:
        raise ValueError(f"{name} is empty (shape {images.shape}); give at least one image")
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels in the last axis, got shape {images.shape}; "
                         "channels-first arrays (N, C, H, W) need .transpose(0, 2, 3, 1)")
    if images.dtype != np.uint8:
        row = _first_bad_row(images)
        if row is not None:
            raise ValueError(f"{name} hold NaN or infinite values (image {row}); fix or drop them")
        if images.min() < 0 or images.max() > 1:
            raise ValueError(f"float {name} must be in [0, 1], got values in [{images.min():g}, {images.max():g}]; "
                             "pass uint8 images (0..255) or divide by 255")
    return images


# --------------------------------------------------------------------------- the row normaliser


def unit_rows(x: np.ndarray, name: str = "embeddings", dtype=np.float64) -> np.ndarray:
    """Every row scaled to length 1, ``x_i / ||x_i||``, as ``dtype``; an all-zero row raises.

    The one row normaliser of the library, with one rule: a row of zeros has no direction,
    so its cosine similarity is undefined and it is refused. Safe for huge and tiny
    magnitudes (``1e200``, ``1e-200``, float32 ``1e20``): each row is first divided by
    its largest absolute value, so no square overflows or underflows. Works chunk by
    chunk, so the only full-size array is the result. Expects a finite 2-D array
    (:func:`check_matrix`).

    >>> unit_rows(np.array([[3.0, 4.0], [1e200, 1e200]])).round(4).tolist()
    [[0.6, 0.8], [0.7071, 0.7071]]
    """
    out = np.empty(x.shape, dtype=dtype)
    for start in range(0, len(x), CHUNK_ROWS):
        block = np.asarray(x[start:start + CHUNK_ROWS], dtype=np.float64)
        scale = np.abs(block).max(axis=1, keepdims=True) if block.shape[1] else np.zeros((len(block), 1))
        zero = np.flatnonzero(scale[:, 0] == 0)
        if len(zero):
            raise ValueError(f"{name} rows {some(zero + start)} are all zero: cosine similarity needs a direction; "
                             "drop those rows or use other embeddings")
        block = block / scale
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + len(block)] = block
    return out
