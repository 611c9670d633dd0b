"""WebGPU inference (whitepaper sections 2 and 5): WGSL kernels, their bitwise numpy twins, a
model-as-DAG executor with full traces, determinism checks and the provider benchmark.

Submodules are imported on demand: ``reference``/``model`` need only numpy; ``ops``/``device``
need wgpu and an adapter.
"""
