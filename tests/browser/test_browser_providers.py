"""Disputes across runtimes, the in-page provider benchmark, kernel variants and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.__main__ import main
from oasis_lab.browser import BrowserProvider
from oasis_lab.browser.bench import benchmark_browser, time_ops_in_page
from oasis_lab.browser.compare import three_way
from oasis_lab.browser.disputes import OUTCOMES, browser_dispute, dispute_table
from oasis_lab.browser.variants import VARIANTS, use_variant
from oasis_lab.gpu import bench
from oasis_lab.gpu import model as M

pytestmark = pytest.mark.browser


def test_honest_browser_gives_no_dispute(chromium, gpu):
    d = browser_dispute(chromium, "tiny-transformer")
    assert d.outcome == "no dispute" and d.first_divergence == -1
    assert d.dispute.verdict == "challenger_wrong" and not d.dispute.provider_convicted


@pytest.mark.parametrize("model,node", [("tiny-transformer", "block2.fc1"), ("tiny-transformer", "probs"),
                                        ("quantized-mlp", 2)])
def test_cheating_browser_is_caught_at_the_perturbed_node(chromium, gpu, model, node):
    d = browser_dispute(chromium, model, cheat_node=node, arity=3)
    mdl = M.load_model(model)
    k = mdl.node_index(node) if isinstance(node, str) else node
    assert d.cheat_node == k and d.first_divergence == k
    assert d.dispute.disputed_node == k
    assert d.dispute.verdict == "provider_guilty" and d.outcome == "cheater caught"
    assert not d.dispute.provider_honest


def test_honest_runtimes_that_disagree_give_the_ambiguous_outcome(chromium, gpu):
    d = browser_dispute(chromium, "tiny-transformer", variant="builtin-exp")
    assert d.first_divergence >= 0 and d.dispute.provider_honest and d.dispute.challenger_honest
    assert d.dispute.verdict == "ambiguous"
    assert d.outcome == "ambiguous: honest runtimes disagree"
    table = dispute_table([d])
    assert table.loc[0, "outcome"] in OUTCOMES and table.loc[0, "variant"] == "builtin-exp"


def test_without_the_flush_policy_engines_disagree_on_subnormals(chromium, gpu):
    """The measured reason for the policy: SwiftShader flushes, lavapipe does not."""
    from oasis_lab.gpu import ops
    from oasis_lab.gpu.determinism import kernel_cases

    cases = {c[0]: c[2] for c in kernel_cases(5)}
    call = cases["matmul blocked, subnormal products"]
    with use_variant("no-flush"):
        browser, native = call(chromium.ops), call(ops)
    assert browser.tobytes() != native.tobytes()
    assert call(chromium.ops).tobytes() == call(ops).tobytes()  # with the policy: equal


def test_each_variant_changes_exactly_the_kernels_it_names_and_names_are_checked():
    from oasis_lab import paths
    from oasis_lab.gpu.device import kernel_source

    kernels = sorted(p.stem for p in paths.KERNELS_DIR.glob("*.wgsl"))
    changed = {name: {k for k in kernels if t(k, kernel_source(k)) != kernel_source(k)}
               for name, t in VARIANTS.items()}
    flushing = {k for k in kernels if "oasis_ftz" in kernel_source(k)}
    with_exp = {k for k in kernels if "oasis_exp(" in kernel_source(k)}
    assert changed["no-flush"] == flushing and len(flushing) >= 10
    assert changed["builtin-exp"] == with_exp == {"attention", "mathlib", "sample", "softmax", "unary"}
    for name, t in VARIANTS.items():  # the transformed source still defines what it replaced
        assert all(("fn oasis_ftz(" if name == "no-flush" else "fn oasis_exp(") in t(k, kernel_source(k))
                   for k in changed[name])
    with pytest.raises(ValueError, match="variant = 'fast'"), use_variant("fast"):
        pass


def test_builtin_exp_variant_changes_exp_nodes_only_from_attention_on(chromium, gpu):
    with use_variant("builtin-exp"):
        table = three_way(chromium, "tiny-transformer")
    first = int(np.argmax(~table["browser=numpy"].to_numpy()))
    assert table.loc[first, "op"] in ("attention", "gelu", "softmax")
    assert table.loc[: first - 1, "browser=numpy"].all()


def test_in_page_benchmark_gives_speeds_and_psi(chromium):
    table = time_ops_in_page(chromium, "small", 2)
    assert list(table["op"]) == [c[0] for c in bench._cases("small", 0)]
    assert (table["seconds"] > 0).all() and (table["api_seconds"] > 0).all()
    pb = benchmark_browser(chromium, "small", 2)
    assert pb.backend == "browser" and pb.adapter_type == "CPU"
    assert pb.psi[0] == pytest.approx(pb.matmul_gflops / 1e3)
    assert (pb.speed >= 0).all() and pb.speed.max() > 0
    assert pb.to_frame().loc[0, "source"] == "measured"


def test_cli_browser_check(chromium_path, capsys):
    assert main(["browser", "check", "--no-models", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "google / swiftshader" in out and "subnormal products" in out
    assert "all bitwise equal on browser, wgpu-py and numpy" in out
    assert max(len(line) for line in out.splitlines()) <= 100  # issue 14 item 6 (--wide: whole)
    with pytest.raises(SystemExit) as exit_:
        main(["browser", "check", "--seed", "-1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()  # while parsing: before Chromium starts
    assert len(err) == 1 and err[0].endswith("argument --seed: seed = -1 must be in [0, 2**128 - 1]"), err


def test_separate_providers_are_separate_processes_and_may_run_a_variant(chromium, chromium_path):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    with BrowserProvider("second") as other, BrowserProvider("vendor", variant="builtin-exp") as odd:
        assert len({other.pid, odd.pid, chromium.pid}) == 3
        assert other.ops.softmax(x).tobytes() == chromium.ops.softmax(x).tobytes()
        assert odd.ops.softmax(x).tobytes() != chromium.ops.softmax(x).tobytes()
        assert odd.ops.matmul(x, x.T.copy()).tobytes() == chromium.ops.matmul(x, x.T.copy()).tobytes()
    with pytest.raises(ValueError, match="variant = 'fast'"):
        BrowserProvider("bad", variant="fast")


def test_missing_chromium_is_one_line_and_status_2(monkeypatch, capsys):
    from oasis_lab.browser import backend

    backend.close_default_provider()
    monkeypatch.setenv("OASIS_CHROMIUM", "/nonexistent/chromium")
    assert main(["kernels", "check", "--backend", "browser", "--runs", "1", "--target", "relu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: browser backend:") and "OASIS_CHROMIUM" in err
    assert len(err.splitlines()) == 1
    assert main(["browser", "check", "--no-models"]) == 2
