"""WebGPU inference (whitepaper sections 2 and 5): WGSL kernels, their bitwise numpy twins, a
model-as-DAG executor with full traces, determinism checks and the provider benchmark.

The public API is its modules (each with its own ``__all__``): ``reference`` (the kernels'
bitwise numpy twins), ``mathlib`` (the kernels' exact-operation math), ``model``
(``load_model``, ``run``: a model as a DAG, every node's output traced), ``device`` (the wgpu
adapter, kernel sources and variants), ``ops`` (the WGSL kernels, numpy in and out),
``determinism`` (per-node hashes over runs), ``accuracy`` (ULP errors against float64),
``bench`` (kernel throughput -> a provider row of the market).

Submodules are imported on demand: ``reference``/``model`` need only numpy; ``ops``/``device``
need wgpu and an adapter.
"""

__all__ = ["accuracy", "bench", "determinism", "device", "mathlib", "model", "ops", "reference"]
