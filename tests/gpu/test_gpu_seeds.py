"""Every random draw of oasis_lab.gpu comes from oasis_lab.seeding (one seed limit), with the
draws of ``np.random.default_rng(seed)`` kept for every valid seed (stored weights and the
digests of earlier runs stay valid)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from oasis_lab import paths
from oasis_lab.gpu import accuracy, determinism
from oasis_lab.gpu import model as M
from oasis_lab.seeding import generator


def test_no_gpu_or_browser_module_seeds_numpy_directly():
    offenders = [str(p.relative_to(paths.ROOT))
                 for folder in ("gpu", "browser") for p in (paths.ROOT / "oasis_lab" / folder).rglob("*.py")
                 if re.search(r"default_rng|np\.random\.seed|RandomState", p.read_text())]
    assert offenders == []


def test_the_shipped_weights_are_still_the_seeded_draws():
    """build_weights draws through seeding.generator: the stored tiny transformer is its draw."""
    stored = M._read_npz("tiny-transformer")
    drawn = M.build_weights("tiny-transformer")
    assert set(stored) == set(drawn)
    assert all(stored[k].tobytes() == drawn[k].tobytes() for k in stored)


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5, 2**127])
def test_draws_equal_default_rng_for_valid_seeds(seed):
    model = M.load_model("quantized-mlp")
    want = np.random.default_rng(seed).integers(-127, 128, size=(8, 64)).astype(np.int8)
    assert M.example_inputs(model, seed)["x"].tobytes() == want.tobytes()
    assert generator(seed).random() == np.random.default_rng(seed).random()


@pytest.mark.parametrize("call", [
    lambda s: M.example_inputs(M.load_model("quantized-mlp"), s),
    lambda s: determinism.op_model("relu", s),
    lambda s: determinism.kernel_cases(s),
    lambda s: accuracy.ulp_errors("add", 8, s),
    lambda s: M.build_weights("quantized-mlp", s),
])
def test_one_seed_limit_for_every_entry_point(call):
    with pytest.raises(ValueError, match=r"seed = -1 must be in \[0, 2\*\*128 - 1\]"):
        call(-1)
    with pytest.raises(ValueError, match=r"2\*\*128"):
        call(2**128)
    with pytest.raises(TypeError, match="seed"):
        call(1.5)
