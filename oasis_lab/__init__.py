"""oasis-lab: a research workbench for the Oasis.AI whitepaper.

Layers (imports only point up this list):
``market`` and ``params`` (data model), ``auction`` (section 4), ``gpu`` (sections 2, 5),
``disputes`` (section 5), and the notebooks / CLI that only call them.
"""

from oasis_lab.market import SCENARIOS, Market, generate_market

__all__ = ["Market", "generate_market", "SCENARIOS"]
__version__ = "0.1.0"
