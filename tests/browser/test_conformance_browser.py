"""The differential fuzzer with headless Chromium as the third engine: a budgeted pass finds no
divergence under the shipped policy and finds the issue-20 cases under the previous one; the
corpus replays equal in the browser; an honest browser provider is never convicted in exact mode
(corpus, both shipped models, the one-node gelu model that convicted it before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oasis_lab.browser.disputes import browser_dispute
from oasis_lab.gpu import conformance
from oasis_lab.gpu import model as M

pytestmark = pytest.mark.browser

CORPUS = Path(__file__).parent.parent / "gpu" / "conformance_corpus"
ENGINES = ("numpy", "webgpu", "browser")


@pytest.fixture(scope="module")
def shared(chromium_path, gpu):
    """The registered "browser" backend's provider (started once for the module)."""
    from oasis_lab.browser import backend

    yield backend.default_provider()
    backend.close_default_provider()


def test_a_budgeted_pass_on_three_engines_finds_no_divergence(shared):
    report = conformance.fuzz(budget=5.0, engines=ENGINES, seed=21)
    assert report.engines == ENGINES and report.inputs > 10_000
    assert report.divergent == 0, report.matrix().to_string()


def test_under_the_previous_policy_the_fuzzer_finds_the_issue_20_cases(shared):
    report = conformance.fuzz(engines=ENGINES, seed=0, policy_name="flush-2^-126", rounds=12,
                              kernels=["unary:gelu", "matmul_naive:main"], classes=["near-2^-126"])
    assert report.coverage["divergent_browser"].sum() > 0
    assert report.coverage["divergent_webgpu"].sum() == 0  # lavapipe rounds as numpy does
    found = {d.kernel: d.minimal.args for d in report.divergences}
    gelu_x = found["unary:gelu"]["x"].view(np.uint32)
    assert gelu_x.tolist() in ([0x00FFFFFF], [0x80FFFFFF])
    a, b = found["matmul_naive:main"]["a"], found["matmul_naive:main"]["b"]
    assert a.shape == (1, 1) and abs(float(a[0, 0]) * float(b[0, 0])) < 2.0**-125


@pytest.mark.parametrize("case", conformance.load_corpus(CORPUS), ids=lambda c: f"{c.kernel}-{c.cls}")
def test_corpus_case_is_equal_in_the_browser_or_outside_the_contract(shared, case):
    want = conformance.run_case(case, "numpy")
    got = conformance.run_case(case, "browser")
    assert conformance.outside_contract(want) or got.tobytes() == want.tobytes()


@pytest.mark.parametrize("case", conformance.load_corpus(CORPUS), ids=lambda c: f"{c.kernel}-{c.cls}")
def test_an_honest_browser_provider_is_never_convicted_on_the_corpus(chromium, gpu, case):
    built = conformance.case_model(case)
    if built is None:
        pytest.skip(f"no model op runs {case.kernel}")
    model, feed, seed = built
    with np.errstate(all="ignore"):
        traces = {"browser": chromium.run(model, feed, seed=seed),
                  **{e: M.run(model, feed, backend=e, seed=seed) for e in ("numpy", "webgpu")}}
        assert "provider_guilty" not in never_convicted(model, feed, seed, traces)


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_an_honest_browser_provider_is_never_convicted_on_the_shipped_models(chromium, gpu, name):
    model = M.load_model(name)
    for seed in (0, 1):
        feed = M.example_inputs(model, seed)
        traces = {"browser": chromium.run(model, feed, seed=seed),
                  **{e: M.run(model, feed, backend=e, seed=seed) for e in ("numpy", "webgpu")}}
        assert len({t.digests() for t in traces.values()}) == 1
        assert "provider_guilty" not in never_convicted(model, feed, seed, traces)


def test_the_one_node_gelu_model_no_longer_convicts_an_honest_browser(chromium, gpu):
    """Issue 20: gelu of 0x00FFFFFF ended with the honest browser provider convicted."""
    model = M.Model("gelu-one-node", ("x",), (M.Node("act", "gelu", ("x",)),), {})
    feed = {"x": np.array([[0x00FFFFFF, 0x80FFFFFF]], np.uint32).view(np.float32)}
    with conformance.policy("flush-2^-126"):
        before = browser_dispute(chromium, model, feed)
    assert before.outcome == "honest provider convicted" and before.dispute.verdict == "provider_guilty"
    after = browser_dispute(chromium, model, feed)
    assert after.outcome == "no dispute" and after.first_divergence == -1


def never_convicted(model, feed, seed, traces):
    """Every ordered pair of engines' honest traces disputed in exact mode: the verdicts."""
    from oasis_lab.browser.disputes import RuntimeTrace
    from oasis_lab.disputes import DisputeParams, Referee, play
    from oasis_lab.disputes.trace import ModelComputation

    comp = ModelComputation(model, feed, backend="numpy", seed=seed)
    return [play(comp, RuntimeTrace(runtime=p, outputs=tp.outputs), RuntimeTrace(runtime=q, outputs=tq.outputs),
                 params=DisputeParams(), referee=Referee(backend="numpy"), seed=0).verdict
            for p, tp in traces.items() for q, tq in traces.items() if p != q]
