"""accuracy.py: float64 comparisons, order variants and the reassociation probe."""

from __future__ import annotations

import numpy as np

from oasis_lab.gpu import accuracy as A
from oasis_lab.gpu import reference as R
from oasis_lab.gpu.determinism import ulp_distance


def test_accuracy_table_is_small_normwise_and_equal_on_both_backends(gpu):
    numpy_table = A.accuracy_table(48)
    assert (numpy_table["normwise_ulp"] < 16).all()
    assert numpy_table.loc[numpy_table["op"] == "exp", "p99_ulp"].iloc[0] <= 1.5
    webgpu_table = A.accuracy_table(48, backend="webgpu")
    assert numpy_table.drop(columns="op").equals(webgpu_table.drop(columns="op"))


def test_ulp_error_known_answer():
    y64 = np.array([1.0, 2.0])
    y = np.array([1.0 + 2**-23, 2.0], np.float32)
    assert A.ulp_error(y, y64).tolist() == [1.0, 0.0]


def test_order_variants_are_valid_matmuls_with_other_bits():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((16, 300)).astype(np.float32)
    b = rng.standard_normal((300, 8)).astype(np.float32)
    v = A.order_variants(a, b, random_runs=6)
    fixed = v["fixed order (kernels)"][0]
    assert fixed.tobytes() == R.matmul(a, b).tobytes()
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = 300 * 2.0**-24 * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    for name, results in v.items():
        for r in results:
            assert (np.abs(r - exact) <= bound).all(), name
        # the orders this module builds differ from the kernels'; BLAS's order is the library's
        # own (it may even be the fixed one), so only its bound is checked
        if name not in ("fixed order (kernels)", "BLAS (numpy @)"):
            assert ulp_distance(results[0], fixed).max() > 0, name
    assert len({r.tobytes() for r in v["random order (atomics)"]}) > 1


def test_runtime_constants_are_not_reassociated(gpu):
    probe = A.literal_reassociation_probe(4096).set_index("form")
    assert probe.loc["run-time", "differing_elements"] == 0
