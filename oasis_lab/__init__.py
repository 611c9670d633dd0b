"""oasis-lab: a research workbench for the Oasis.AI whitepaper.

The data model (:class:`Market`, :func:`generate_market`, the :data:`SCENARIOS` presets) is
importable from here; each layer is a subpackage or module stating its own API: ``auction``
(section 4), ``gpu`` (sections 2, 5), ``disputes`` (section 5), ``sim`` (the market over
time), ``incentives``, ``browser``, ``experiments``, ``widgets``, ``report``. A module imports
only from the floors above its own (``docs/architecture.md``, "Layers"; checked by
``tests/test_layers.py``); the notebooks and the CLI only call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oasis_lab.market import SCENARIOS, Market, generate_market

__all__ = ["Market", "generate_market", "SCENARIOS"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # imported on first use: ``python -m oasis_lab --help`` (which imports this package) stays
    # free of numpy and pandas
    if name in __all__:
        from oasis_lab import market

        return getattr(market, name)
    raise AttributeError(f"module 'oasis_lab' has no attribute {name!r}")
