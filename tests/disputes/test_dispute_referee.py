"""Referee comparisons: ULP distance, tolerance, verdict rules (section 5)."""

import numpy as np
import pytest

from oasis_lab.disputes.referee import Referee, Ruling, outputs_agree, ulp_distance


def test_ulp_distance_known_answers():
    one = np.float32(1.0)
    up = np.nextafter(one, np.float32(2))
    assert ulp_distance(np.float32([1.0]), np.array([up]))[0] == 1
    # across zero: -tiny .. +tiny is 2 steps, +0 and -0 are equal
    tiny = np.float32(1e-45)
    assert ulp_distance(np.float32([-tiny]), np.float32([tiny]))[0] == 2
    assert ulp_distance(np.float32([0.0]), np.float32([-0.0]))[0] == 0
    # float64 extremes do not overflow
    big = np.finfo(np.float64).max
    assert ulp_distance(np.array([big]), np.array([-big]))[0] == 2 * 0x7FEFFFFFFFFFFFFF
    assert ulp_distance(np.int32([5, -3]), np.int32([2, 4])).tolist() == [3, 7]
    assert ulp_distance(np.float32([np.nan]), np.float32([1.0]))[0] == np.iinfo(np.uint64).max
    with pytest.raises(TypeError, match="dtypes"):
        ulp_distance(np.float32([1]), np.float64([1]))
    with pytest.raises(ValueError, match="shapes"):
        ulp_distance(np.float32([1, 2]), np.float32([1]))


def test_outputs_agree_thresholds():
    a = np.float32([1.0, 2.0])
    b = a.copy()
    b[1] = np.nextafter(b[1], np.float32(3))
    b[1] = np.nextafter(b[1], np.float32(3))
    assert not outputs_agree(a, b)
    assert not outputs_agree(a, b, max_ulp=1)
    assert outputs_agree(a, b, max_ulp=2)
    assert outputs_agree(a, b, atol=1e-6)
    assert not outputs_agree(a, b.astype(np.float64), max_ulp=100)
    assert not outputs_agree(a, a[:1])


def test_tolerance_rules():
    ref = Referee(comparison="tolerance", max_ulp=1)
    r = np.float32([1.0, 2.0])
    near = np.float32([1.0, np.nextafter(np.float32(2.0), np.float32(3))])
    far = np.float32([1.5, 2.0])
    assert ref.rule_tolerance(r, near, far).verdict == "challenger_wrong"
    assert ref.rule_tolerance(r, far, r).verdict == "provider_guilty"
    ruling = ref.rule_tolerance(r, far, far * 2)
    assert ruling.verdict == "ambiguous" and ruling.max_ulp_provider > 1
    # benefit of the doubt: both within tolerance upholds the provider
    assert ref.rule_tolerance(r, near, r).verdict == "challenger_wrong"


def test_bad_referee_and_ruling():
    with pytest.raises(ValueError, match="max_ulp = -1 must be >= 0"):
        Referee(max_ulp=-1)
    with pytest.raises(ValueError, match="verdict"):
        Ruling("guilty-ish", "referee")
