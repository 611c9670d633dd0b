"""WebGPU inference (whitepaper sections 2 and 5): WGSL kernels, their bitwise numpy twins, a
model-as-DAG executor with full traces, determinism checks and the provider benchmark.

The public API is its modules (each with its own ``__all__``): ``device`` (the wgpu-py
device, pipelines, kernel runners and variants), ``ops`` (the kernels as numpy-in, numpy-out
functions), ``reference`` and ``mathlib`` (their bitwise numpy twins and the subnormal policy),
``backends`` (the engines ``model.run`` runs on, by name; later layers register theirs),
``model`` (the DAG executor, ``Trace``), ``determinism``, ``accuracy``, ``conformance`` (the
differential fuzzer across engines), ``bench`` and ``cli``.

Submodules are imported on demand: ``reference``/``model`` need only numpy; ``ops``/``device``
need wgpu and an adapter.
"""

__all__ = ["accuracy", "bench", "determinism", "device", "mathlib", "model", "ops", "reference"]
