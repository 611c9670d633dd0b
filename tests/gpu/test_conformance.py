"""The differential fuzzer (oasis_lab.gpu.conformance): a budgeted pass over every kernel and
boundary class finds no divergence between the numpy twins and wgpu-py; the fuzzer does find and
shrink a planted divergence; the corpus of cases it found replays equal; an honest provider on
either engine is never convicted in exact mode, on the corpus and on both shipped models."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

from oasis_lab.gpu import backends, conformance, mathlib
from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R

CORPUS = Path(__file__).parent / "conformance_corpus"


def test_a_budgeted_pass_covers_every_kernel_and_class_with_no_divergence(gpu):
    report = conformance.fuzz(budget=3.0, engines=("numpy", "webgpu"), seed=20)
    pairs = {(k.name, c) for k in conformance.KERNELS for c in k.classes}
    assert set(zip(report.coverage["kernel"], report.coverage["class"], strict=True)) == pairs
    assert (report.coverage["inputs"] > 0).all() and report.inputs > 10_000
    assert report.divergent == 0, report.matrix().to_string()
    assert len(pairs) >= 130 and {c for _, c in pairs} == set(conformance.CLASSES)
    assert "0 divergent outputs" in report.summary()


class _Planted(backends.Backend):
    """The numpy twins with one planted bug: inputs under 2^-124 are flushed (twice the policy's
    threshold), as an engine with its own flush rule would."""

    name = "planted"

    def ops(self):
        planted = self

        class Ops:
            def __getattr__(self, op):
                fn = getattr(R, op)

                def call(*args, **kwargs):
                    args = [np.where(np.abs(a) < np.float32(2.0**-124), np.float32(0), a).astype(np.float32)
                            if isinstance(a, np.ndarray) and a.dtype == np.float32 else a for a in args]
                    planted.calls += 1
                    return fn(*args, **kwargs)

                return call

        return Ops()

    calls = 0


@contextlib.contextmanager
def registered(be):
    backends.register(be)
    try:
        yield be
    finally:
        backends.unregister(be.name)


def test_the_fuzzer_finds_and_shrinks_a_planted_divergence():
    with registered(_Planted()):
        report = conformance.fuzz(engines=("planted",), rounds=2, kernels=["unary:relu", "matmul_naive:main"],
                                  classes=["near-2^-125", "ordinary"])
    assert report.divergent > 0
    bad = report.coverage.set_index(["kernel", "class"])["divergent_planted"]
    assert bad.loc[("unary:relu", "near-2^-125")] > 0 and bad.loc[("unary:relu", "ordinary")] == 0
    relu = next(d for d in report.divergences if d.kernel == "unary:relu")
    x = relu.minimal.args["x"]
    assert x.shape == (1,) and 2.0**-125 <= abs(float(x[0])) < 2.0**-124  # one element, the cause
    assert relu.engines == ("planted",) and not relu.outside_contract
    mm = next(d for d in report.divergences if d.kernel == "matmul_naive:main")
    assert mm.minimal.args["a"].shape[0] == 1 and mm.minimal.args["b"].shape[1] == 4  # one dot product
    assert "!" in report.matrix().loc["unary:relu", "near-2^-125"]


def test_the_previous_policy_differs_from_the_current_on_the_hole():
    """Under policy flush-2^-126 the numpy twin keeps gelu(0x00FFFFFF) = 2^-126 (what Chromium
    flushed); under the shipped policy it is +0. The context restores the policy."""
    x = np.array([0x00FFFFFF], np.uint32).view(np.float32)
    with conformance.policy("flush-2^-126"):
        assert R.gelu(x).view(np.uint32)[0] == 0x00800000
    assert R.gelu(x).view(np.uint32)[0] == 0 and mathlib.FLUSH_BELOW == np.float32(2.0**-125)
    with pytest.raises(ValueError, match="policy = 'x' is unknown"), conformance.policy("x"):
        pass


def test_corpus_cases_round_trip_and_name_their_divergence(tmp_path):
    cases = conformance.load_corpus(CORPUS)
    assert len(cases) >= 10
    kernels = {c.kernel for c in cases}
    assert {"unary:gelu", "matmul_naive:main", "matmul_blocked:main", "matmul_wide:main",
            "attention:main"} <= kernels
    for c in cases[:3]:
        path = conformance.save_case(c, tmp_path, ("browser",))
        back = conformance.case_from_json(__import__("json").loads(path.read_text()))
        assert back.kernel == c.kernel and all(back.args[k].tobytes() == c.args[k].tobytes() for k in c.args)


@pytest.mark.parametrize("case", conformance.load_corpus(CORPUS), ids=lambda c: f"{c.kernel}-{c.cls}")
def test_corpus_case_is_equal_on_numpy_and_wgpu_or_outside_the_contract(gpu, case):
    want = conformance.run_case(case, "numpy")
    got = conformance.run_case(case, "webgpu")
    assert conformance.outside_contract(want) or got.tobytes() == want.tobytes()


def _never_convicted(model, feed, seed, traces) -> list[str]:
    """Every ordered pair of engines' honest traces disputed in exact mode: the verdicts."""
    from oasis_lab.browser.disputes import RuntimeTrace
    from oasis_lab.disputes import DisputeParams, Referee, play
    from oasis_lab.disputes.trace import ModelComputation

    comp = ModelComputation(model, feed, backend="numpy", seed=seed)
    verdicts = []
    for p, tp in traces.items():
        for q, tq in traces.items():
            if p != q:
                out = play(comp, RuntimeTrace(runtime=p, outputs=tp.outputs),
                           RuntimeTrace(runtime=q, outputs=tq.outputs), params=DisputeParams(),
                           referee=Referee(backend="numpy"), seed=0)
                verdicts.append(out.verdict)
    return verdicts


@pytest.mark.parametrize("case", conformance.load_corpus(CORPUS), ids=lambda c: f"{c.kernel}-{c.cls}")
def test_an_honest_provider_on_either_engine_is_never_convicted_on_the_corpus(gpu, case):
    built = conformance.case_model(case)
    if built is None:
        pytest.skip(f"no model op runs {case.kernel}")
    model, feed, seed = built
    with np.errstate(all="ignore"):  # the overflow cases compute inf and NaN on purpose
        traces = {e: M.run(model, feed, backend=e, seed=seed) for e in ("numpy", "webgpu")}
        assert "provider_guilty" not in _never_convicted(model, feed, seed, traces)


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_an_honest_provider_on_either_engine_is_never_convicted_on_the_shipped_models(gpu, name):
    model = M.load_model(name)
    for seed in (0, 1):
        feed = M.example_inputs(model, seed)
        traces = {e: M.run(model, feed, backend=e, seed=seed) for e in ("numpy", "webgpu")}
        assert traces["numpy"].digests() == traces["webgpu"].digests()
        assert "provider_guilty" not in _never_convicted(model, feed, seed, traces)


def test_a_non_finite_recomputation_never_convicts():
    """The referee's rule for outputs outside the bitwise contract (an inf or a NaN)."""
    from oasis_lab.disputes.referee import Referee, _verdict

    nan = np.array([np.nan, 1.0], np.float32)
    assert _verdict(False, True, nan) == "ambiguous"
    assert _verdict(False, True, np.array([np.inf], np.float32)) == "ambiguous"
    assert _verdict(False, True, np.array([1.0], np.float32)) == "provider_guilty"
    assert _verdict(True, True, nan) == "challenger_wrong"
    assert _verdict(False, True, np.array([7], np.int32)) == "provider_guilty"
    ruling = Referee(comparison="tolerance").rule_tolerance(nan, np.zeros(2, np.float32), nan)
    assert ruling.verdict == "ambiguous"


def test_cli_fuzz_prints_what_it_covered_within_100_columns(gpu, capsys, tmp_path):
    from oasis_lab.__main__ import main

    assert main(["kernels", "fuzz", "--budget", "0.5", "--engines", "numpy,webgpu", "--kernel", "unary:gelu",
                 "--kernel", "matmul_wide:main", "--class", "near-2^-126", "--class", "ordinary"]) == 0
    out = capsys.readouterr().out
    assert "2 kernels x 2 boundary classes (4 pairs) on numpy, webgpu" in out and "0 divergent outputs" in out
    assert "unary:gelu" in out and "matmul_wide:main" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    with registered(_Planted()):
        assert main(["kernels", "fuzz", "--budget", "0.2", "--engines", "planted", "--kernel", "unary:relu",
                     "--class", "near-2^-125", "--save-corpus", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "minimal cases (shrunk):" in out and "VIOLATED" in out and " p" in out
    assert len(conformance.load_corpus(tmp_path)) == 1
    for bad, says in ((["--engines", "numpy,nope"], "--engines 'nope'"), (["--budget", "0"], "--budget"),
                      (["--kernel", "unary:nope"], "unknown"), (["--seed", "-1"], "argument --seed: seed = -1")):
        try:
            status = main(["kernels", "fuzz", *bad])
        except SystemExit as exc:  # argparse's own refusals
            status = exc.code
        assert status == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1


def test_a_fixed_number_of_rounds_gives_the_same_inputs_and_findings():
    """rounds= replaces the time budget: the same seed gives the same coverage on any machine."""
    with registered(_Planted()):
        runs = [conformance.fuzz(engines=("planted",), rounds=2, seed=3, kernels=["unary:relu"],
                                 classes=["near-2^-125", "ordinary"]) for _ in range(2)]
    a, b = (r.coverage.drop(columns=[]) for r in runs)
    assert a.equals(b) and (a["batches"] == 2).all()
    assert [d.minimal.args["x"].tobytes() for d in runs[0].divergences] == \
        [d.minimal.args["x"].tobytes() for d in runs[1].divergences]
    with pytest.raises(ValueError, match="rounds"):
        conformance.fuzz(engines=("numpy",), rounds=0)
