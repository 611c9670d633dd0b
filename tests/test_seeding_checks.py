"""oasis_lab.seeding (one seed -> independent streams) and oasis_lab.checks (boundary errors)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.checks import check_array, check_fraction, check_int, check_real
from oasis_lab.seeding import check_seed, child_seed, stream, streams


def test_same_seed_purpose_and_keys_give_the_same_stream():
    a = stream(11, "arrivals", 4).random(5)
    b = stream(11, "arrivals", 4).random(5)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "other",
    [(12, "arrivals", 4), (11, "execution", 4), (11, "arrivals", 5), (11, "arrivals")],
)
def test_any_change_of_seed_purpose_or_key_gives_another_stream(other):
    a = stream(11, "arrivals", 4).random(5)
    b = stream(*other).random(5)
    assert not np.array_equal(a, b)


def test_streams_are_independent_of_which_other_purposes_exist():
    # Adding a purpose never changes an existing one's draws (keys, not spawn positions).
    one = streams(3, "arrivals")["arrivals"].random(3)
    two = streams(3, "disputes", "arrivals")["arrivals"].random(3)
    np.testing.assert_array_equal(one, two)


def test_child_seed_is_a_deterministic_64_bit_int():
    s = child_seed(5, "markets", 0)
    assert isinstance(s, int) and 0 <= s < 2**64
    assert s == child_seed(5, "markets", 0) != child_seed(5, "markets", 1)


@pytest.mark.parametrize("bad", [-1, 2**128, 1.5, True, "3", np.random.default_rng(0)])
def test_bad_seeds_are_refused_naming_the_seed(bad):
    with pytest.raises((TypeError, ValueError), match="seed"):
        check_seed(bad)


def test_bad_keys_are_refused():
    with pytest.raises(TypeError, match="keys"):
        stream(1, "arrivals", -2)
    with pytest.raises(TypeError, match="purpose"):
        stream(1, "")


def test_checks_name_the_argument_and_the_bound():
    assert check_real("x", np.float32(2.5)) == 2.5
    assert check_int("n", np.uint64(2**64 - 1)) == 2**64 - 1  # no wrap to -1
    with pytest.raises(ValueError, match=r"n = 18446744073709551615 must be <= 10"):
        check_int("n", np.uint64(2**64 - 1), 0, 10)
    with pytest.raises(ValueError, match="eps = 1e-50 must be finite and > 0|eps"):
        check_real("eps", -1e-50, positive=True)
    with pytest.raises(ValueError, match="x = .* must be finite"):
        check_real("x", 10**400)
    with pytest.raises(TypeError, match="n must be an integer"):
        check_int("n", True)
    with pytest.raises(ValueError, match=r"share = 1.5 must be in \[0, 1\]"):
        check_fraction("share", 1.5)
    with pytest.raises(TypeError, match="masked"):
        check_array("a", np.ma.masked_array([1.0], mask=[True]), np.float64)
