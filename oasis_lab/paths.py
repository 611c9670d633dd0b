"""Where the repository's shipped files live: one place for every folder path the package reads.

The package reads files beside it in the repository (not package data): the shipped inputs
under ``data/`` and the WGSL kernels under ``kernels/``. Every module that opens one takes
its folder from here, so moving a folder is a one-line change.

>>> (DATA_DIR.parent == ROOT, KERNELS_DIR.name, MODELS_DIR.relative_to(ROOT).as_posix())
(True, 'kernels', 'data/models')
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_DIR", "DATA_DIR", "KERNELS_DIR", "MODELS_DIR", "NOTEBOOK_DIR", "PROFILE_DIR", "ROOT"]

#: The repository root (the folder holding ``oasis_lab/``).
ROOT = Path(__file__).resolve().parent.parent
#: Shipped inputs (see ``data/README.md``).
DATA_DIR = ROOT / "data"
#: Weights of the shipped models (``data/models/*.npz``).
MODELS_DIR = DATA_DIR / "models"
#: Operator graphs of the profiled models (``data/model_graphs/*.csv``).
PROFILE_DIR = DATA_DIR / "model_graphs"
#: Shipped simulation configurations (``data/configs/*.yaml``).
CONFIG_DIR = DATA_DIR / "configs"
#: The WGSL kernels (``kernels/*.wgsl``).
KERNELS_DIR = ROOT / "kernels"
#: The notebooks the report runs.
NOTEBOOK_DIR = ROOT / "notebooks"
