"""Tests of dcai_lab._checks: every input check of the library, and the one row normaliser."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab._checks import (CHUNK_ROWS, check_bool, check_choice, check_float, check_fraction, check_ids,
                              check_images, check_int, check_labels, check_mask, check_matrix, check_model, check_path,
                              check_probs, check_rng, check_seed, check_vector, same_label_kind, some, unit_rows)


@pytest.mark.parametrize("value, kwargs, expected", [(3, {}, 3), (np.int64(4), dict(min=1, max=10), 4),
                                                     (0, dict(min=0), 0)])
def test_check_int_accepts_integers(value, kwargs, expected):
    out = check_int(value, "k", **kwargs)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("value, kwargs, message", [
    (True, {}, r"k must be an integer, got True"),
    (np.bool_(True), dict(min=0), r"k must be an integer >= 0, got "),
    (2.5, dict(min=1), r"k must be an integer >= 1, got 2\.5"),
    (2.0, dict(min=1), r"k must be an integer >= 1, got 2\.0"),
    ("3", dict(min=1), r"k must be an integer >= 1, got '3'"),
    (None, dict(min=1), r"k must be an integer >= 1, got None"),
    (0, dict(min=1, max=5), r"k must be an integer in 1\.\.5, got 0"),
    (6, dict(max=5), r"k must be an integer <= 5, got 6"),
    (10**30, dict(min=1, max=5, hint=" (the pool)"), r"k must be an integer in 1\.\.5, got 10{30} \(the pool\)"),
])
def test_check_int_refuses(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_int(value, "k", **kwargs)


def test_check_float_ranges():
    assert check_float(1, "x") == 1.0 and type(check_float(np.float32(0.5), "x")) is float
    assert check_float(0, "x", min=0) == 0.0
    for value in (np.nan, np.inf, -np.inf, "0.1", True, None, 1 + 0j):
        with pytest.raises(ValueError, match="x must be a finite number"):
            check_float(value, "x")
    with pytest.raises(ValueError, match=r"x must be a finite number > 0, got 0"):
        check_float(0, "x", min=0, min_open=True)
    with pytest.raises(ValueError, match=r"x must be a finite number in \[0, 1\), got 1"):
        check_float(1, "x", min=0, max=1, max_open=True)
    with pytest.raises(ValueError, match=r"x must be a finite number <= 2, got 3"):
        check_float(3, "x", max=2)
    assert check_fraction(1, "f") == 1.0
    with pytest.raises(ValueError, match=r"f must be a finite number in \(0, 1\], got 0"):
        check_fraction(0, "f")
    assert check_fraction(0, "f", allow_zero=True) == 0.0


def test_bool_choice_seed_rng_model_path():
    assert check_bool(np.bool_(False), "b") is False
    for value in (0, 1, "True", None):
        with pytest.raises(ValueError, match="b must be True or False"):
            check_bool(value, "b")
    assert check_choice("easy", "keep", ("hard", "easy")) == "easy"
    for value in ("medium", 1, None, ["easy"]):
        with pytest.raises(ValueError, match="keep must be one of 'hard', 'easy', got"):
            check_choice(value, "keep", ("hard", "easy"))
    assert check_seed(0) == 0
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1 \(seeds are integers"):
        check_seed(-1)
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator.*got RandomState"):
        check_rng(np.random.RandomState(0))
    rng = np.random.default_rng(0)
    assert check_rng(rng) is rng
    with pytest.raises(ValueError, match=r"model \(int\) has no predict_proba"):
        check_model(3)
    assert check_path("a/b", "p") == Path("a/b") and check_path(None, "p") is None
    for value in ("", 3, None):
        with pytest.raises(ValueError, match="p must be a file or folder name"):
            check_path(value, "p", allow_none=False)


def test_check_matrix():
    assert check_matrix([[1, 2], [3, 4]], "X").dtype == np.float64
    assert check_matrix(np.ones((2, 2), np.float32), "X", dtype=None).dtype == np.float32
    assert check_matrix(np.ones((2, 2), np.int32), "X", dtype=None).dtype == np.float64
    assert check_matrix(np.zeros((0, 3)), "X", min_rows=0).shape == (0, 3)
    cases = [([1, 2], r"X must be a 2-D array \(n_samples, n_features\), got shape \(2,\); for a single example"),
             (np.ones((2, 2, 2)), r"X must be a 2-D array .*got shape \(2, 2, 2\)$"),
             ([[1, 2], [3]], r"X must be a rectangular array of numbers"),
             ([["a", "b"]], r"X must hold real numbers, got dtype <U1"),
             (np.ones((2, 2), bool), r"X must hold real numbers, got dtype bool"),
             (np.ones((2, 2), complex), r"X must hold real numbers, got dtype complex128"),
             (np.array([[1, None]], dtype=object), r"X must hold real numbers, got dtype object"),
             (np.zeros((0, 3)), r"X must have at least 1 row"),
             (np.zeros((3, 0)), r"X must have at least one column, got shape \(3, 0\)"),
             ([[1.0, np.nan], [1.0, 1.0]], r"X must be finite \(row 0 holds NaN or infinity\)")]
    for x, message in cases:
        with pytest.raises(ValueError, match=message):
            check_matrix(x, "X")
    with pytest.raises(ValueError, match=r"X must have 3 rows \(one per item\), got 2"):
        check_matrix(np.ones((2, 2)), "X", n_rows=3)
    with pytest.raises(ValueError, match=r"X must have 3 columns, got shape \(2, 2\)"):
        check_matrix(np.ones((2, 2)), "X", n_cols=3)
    with pytest.raises(ValueError, match=r"X must have 1 column, got shape \(2, 2\)"):
        check_matrix(np.ones((2, 2)), "X", n_cols=1)
    assert np.isnan(check_matrix([[np.nan]], "X", finite=False)).all()


def test_a_bad_row_is_found_in_any_chunk():
    x = np.zeros((CHUNK_ROWS + 10, 2), np.float32)
    x[CHUNK_ROWS + 3, 1] = np.inf
    with pytest.raises(ValueError, match=rf"row {CHUNK_ROWS + 3} holds NaN or infinity"):
        check_matrix(x, "X", dtype=None)


def test_check_vector():
    assert check_vector([1, 2], "v").tolist() == [1.0, 2.0]
    assert check_vector([], "v", min_len=0).shape == (0,)
    with pytest.raises(ValueError, match=r"v must have at least 3 entries, got 2"):
        check_vector([1, 2], "v", min_len=3)
    with pytest.raises(ValueError, match=r"v must have at least 1 entry, got none"):
        check_vector([], "v")
    with pytest.raises(ValueError, match=r"v must have 3 entries \(one per item\), got 2"):
        check_vector([1, 2], "v", n=3)
    with pytest.raises(ValueError, match=r"v must be finite \(entry 1 is -inf\)"):
        check_vector([1, -np.inf], "v")
    with pytest.raises(ValueError, match=r"v must be a 1-D array \(one number per item\), got shape \(\)"):
        check_vector(3.0, "v")


def test_check_probs_tolerance_follows_dtype_and_classes():
    assert check_probs(np.array([[0.25, 0.75]], dtype=np.float16)).dtype == np.float64
    assert check_probs([[-1e-17, 1.0]]).tolist() == [[0.0, 1.0]]       # round-off clipped
    assert check_probs(np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises(ValueError, match=r"probs rows must sum to 1 \(row 0 sums to 1\.0000019999999998\)"):
        check_probs([[0.500002, 0.5]])
    row = np.full((1, 10_000), np.float32(1.00005e-4))                  # sums to 1.0000500 in float32
    check_probs(row)                                                    # within 10,000 * eps(float32)
    with pytest.raises(ValueError, match="rows must sum to 1"):
        check_probs(row.astype(np.float64))                             # as float64: no excuse
    with pytest.raises(ValueError, match=r"probs must have 3 rows"):
        check_probs(np.ones((2, 2)) / 2, n_rows=3)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\] \(row 1 holds -0\.5\)"):
        check_probs([[0.5, 0.5], [-0.5, 1.5]], "p")


def test_check_ids_and_mask():
    assert check_ids([3, 1], 5).tolist() == [3, 1] and check_ids(np.int32(2), 5).tolist() == [2]
    assert check_ids([], 5).dtype == np.int64
    for ids, message in [([5], r"ids must be pool ids in 0\.\.4 \(row numbers\); got \[5\], outside the pool of 5"),
                         ([-1], r"got \[-1\]"), ([True, False], "got a boolean mask; use np.flatnonzero"),
                         ([1.0], r"got dtype float64; use ids\.astype\(int\)"), (["a"], "got dtype <U1"),
                         ([[1]], r"must be a 1-D array of pool ids, got shape \(1, 1\)")]:
        with pytest.raises(ValueError, match=message):
            check_ids(ids, 5)
    with pytest.raises(ValueError, match="ids must be distinct pool ids; some appear twice"):
        check_ids([1, 1], 5, unique=True)
    with pytest.raises(ValueError, match="ids must hold at least 2 pool ids, got 1"):
        check_ids([1], 5, min_len=2)
    assert check_mask([True, False], 2).tolist() == [True, False] and len(check_mask(np.ones(7, bool), None)) == 7
    for mask in ([1, 0], np.ones(3, bool), np.ones((2, 1), bool)):
        with pytest.raises(ValueError, match=r"mask must be a boolean mask over the pool, shape \(2,\)"):
            check_mask(mask, 2)


def test_check_labels_and_same_label_kind():
    assert check_labels(["a", "b"]).tolist() == ["a", "b"] and check_labels([1.0, 2.0]).tolist() == [1.0, 2.0]
    for y, message in [([0.5], r"y must hold class labels \(whole numbers\), got \[0\.5\]"),
                       ([np.nan], r"y must hold class labels"), ([True], "got dtype bool"),
                       ([1 + 1j], "got dtype complex128"), (np.array([None]), "got dtype object"),
                       ([[0]], r"y must be a 1-D array of class labels")]:
        with pytest.raises(ValueError, match=message):
            check_labels(y)
    with pytest.raises(ValueError, match=r"y must have one label per item \(3\), got 2"):
        check_labels([0, 1], n=3)
    with pytest.raises(ValueError, match=r"y must hold at least 2 classes, got \[1\]"):
        check_labels([1, 1], min_classes=2)
    with pytest.raises(ValueError, match=r"classes must be distinct, got \[1, 1\]"):
        check_labels([1, 1], "classes", distinct=True)
    same_label_kind(np.array([1, 2]), np.array([1.0]), "a", "b")       # numbers and numbers
    same_label_kind(np.array(["x"]), np.array([], dtype=int), "a", "b")  # nothing to compare
    with pytest.raises(ValueError, match="a holds <U1 labels but b holds int64"):
        same_label_kind(np.array(["x"]), np.array([1]), "a", "b")


def test_check_images():
    assert check_images(np.zeros((2, 8, 8), np.uint8)).shape == (2, 8, 8, 1)
    assert check_images(np.zeros((2, 8, 8, 3), np.float32)).shape == (2, 8, 8, 3)
    for images, message in [(np.zeros((2, 8, 8), np.int64), "got dtype int64"),
                            (np.zeros((2, 64)), "got a 2-D array"), (np.zeros(5), r"got shape \(5,\)"),
                            (np.zeros((0, 8, 8), np.uint8), "is empty"),
                            (np.zeros((2, 3, 8, 8), np.uint8), "1 or 3 channels"),
                            (np.full((2, 8, 8), np.nan), "NaN or infinite"),
                            (np.full((2, 8, 8), 1.5), r"must be in \[0, 1\]")]:
        with pytest.raises(ValueError, match=f"images .*{message}"):
            check_images(images)


@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200, 1e-310])
def test_unit_rows_is_safe_for_huge_and_tiny_magnitudes(scale):
    x = np.array([[3.0, 4.0], [1.0, 1.0], [-2.0, 0.0]]) * scale
    np.testing.assert_allclose(unit_rows(x), [[0.6, 0.8], [2 ** -0.5, 2 ** -0.5], [-1.0, 0.0]], atol=1e-12)
    assert unit_rows(x, dtype=np.float32).dtype == np.float32


def test_unit_rows_refuses_zero_rows_with_their_ids():
    x = np.ones((CHUNK_ROWS + 5, 2), np.float32)
    x[[2, CHUNK_ROWS + 1]] = 0
    with pytest.raises(ValueError, match=r"z rows \[2\] are all zero: cosine similarity needs a direction"):
        unit_rows(x, "z")
    x[2] = 1
    with pytest.raises(ValueError, match=rf"z rows \[{CHUNK_ROWS + 1}\] are all zero"):
        unit_rows(x, "z")


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e300, 1e300, allow_nan=False).filter(lambda v: v != 0), min_size=1, max_size=8))
def test_unit_rows_have_length_one(row):
    np.testing.assert_allclose(np.linalg.norm(unit_rows(np.array([row]))), 1.0, rtol=1e-12)


def test_some_shows_the_first_five():
    assert some([3, 7]) == "[3, 7]" and some(range(8)) == "[0, 1, 2, 3, 4] ..."
