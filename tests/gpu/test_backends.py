"""The backend registry (oasis_lab.gpu.backends): gpu never imports the engines below it; they
register themselves; model.run takes a name or a Backend object and honours its hooks."""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

from oasis_lab import paths
from oasis_lab.gpu import backends
from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R


def test_no_gpu_module_names_a_later_layer():
    """Imports, and importlib strings, of oasis_lab.gpu point up the layers only."""
    later = ("oasis_lab.browser", "oasis_lab.disputes", "oasis_lab.sim", "oasis_lab.experiments",
             "oasis_lab.incentives", "oasis_lab.widgets", "oasis_lab.report")
    offenders = []
    for path in (paths.ROOT / "oasis_lab" / "gpu").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(later)]
    assert offenders == []


def test_a_later_backend_is_known_only_once_its_package_registered_it():
    code = ("import sys; from oasis_lab.gpu import model as M, determinism;"
            "m = M.load_model('quantized-mlp')\n"
            "try:\n    M.run(m, M.example_inputs(m), backend='browser')\n"
            "except ValueError as e:\n    print(e)\n"
            "print('oasis_lab.browser' in sys.modules)\n"
            "import oasis_lab.browser; from oasis_lab.gpu import backends; print(backends.names())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    lines = out.stdout.strip().splitlines()
    assert "backend = 'browser' is unknown; registered: ['numpy', 'webgpu']" in lines[0]
    assert "load oasis_lab.browser for 'browser'" in lines[0]  # what to do, in the message
    assert lines[1] == "False"
    assert lines[2] == "('numpy', 'webgpu', 'browser')"


class Recording(backends.Backend):
    """The numpy twins, with hooks that record what model.run asked."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def ops(self):
        return R

    def prepare(self, model, inputs, digests_only):
        self.calls.append(("prepare", model.name, tuple(inputs), digests_only))

    @contextlib.contextmanager
    def node(self, model, index, digests_only):
        record = backends.NodeRecord()
        yield record
        record.digest = f"engine-digest-{index}" if index == 1 else None
        self.calls.append(("node", index))

    def finish(self, model):
        self.calls.append(("finish",))


def test_run_calls_the_hooks_and_takes_the_engine_s_digests():
    model = M.load_model("quantized-mlp")
    feed = M.example_inputs(model, 4)
    be = Recording()
    trace = M.run(model, feed, backend=be, seed=4, keep="digests")
    want = M.run(model, feed, seed=4).digests()
    assert isinstance(trace, M.DigestTrace) and trace.backend == "recording"
    assert trace.digests() == (want[0], "engine-digest-1", *want[2:])
    assert be.calls == [("prepare", "quantized-mlp", ("x",), True),
                        *[("node", i) for i in range(len(model.nodes))], ("finish",)]
    full = M.run(model, feed, backend=be, seed=4)
    assert full.digests() == want and full.backend == "recording"


def test_finish_runs_when_a_node_fails():
    be = Recording()
    model = M.Model("m", ("x",), (M.Node("a", "relu", ("x",)), M.Node("b", "softmax", ("a",))), {})
    with pytest.raises(TypeError, match="node .a. \\(relu\\): x must have dtype float32"):
        M.run(model, {"x": np.ones(3)}, backend=be)
    assert be.calls[-1] == ("finish",)


def test_register_checks_its_argument():
    be = Recording()
    try:
        assert backends.register(be) is be and backends.get("recording") is be
        assert "recording" in backends.names()
        assert M.run(M.load_model("quantized-mlp"), M.example_inputs(M.load_model("quantized-mlp")),
                     backend="recording").backend == "recording"
    finally:
        backends.unregister("recording")
    assert "recording" not in backends.names()
    with pytest.raises(ValueError, match="built in"):
        backends.register(type("N", (backends.ModuleBackend,), {})("numpy", "oasis_lab.gpu.reference"))
    with pytest.raises(TypeError, match="must be a Backend"):
        backends.register(R)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backend must be a backend name or a Backend"):
        backends.get(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keep = 'all' must be"):
        M.run(M.load_model("quantized-mlp"), {}, keep="all")  # type: ignore[call-overload]
