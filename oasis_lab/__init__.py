"""oasis-lab: a research workbench for the Oasis.AI whitepaper.

The data model (:class:`Market`, :func:`generate_market`, the :data:`SCENARIOS` presets) is
importable from here; each layer is a subpackage or module stating its own API: ``auction``
(section 4), ``gpu`` (sections 2, 5), ``disputes`` (section 5), ``sim`` (the market over
time), ``incentives``, ``browser``, ``experiments``, ``widgets``, ``report``. A module imports
only from the floors above its own (``docs/architecture.md``, "Layers"; checked by
``tests/test_layers.py``); the notebooks and the CLI only call.
"""

from oasis_lab.market import SCENARIOS, Market, generate_market

__all__ = ["Market", "generate_market", "SCENARIOS"]
__version__ = "0.1.0"
