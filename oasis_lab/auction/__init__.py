"""The combinatorial double auction of whitepaper section 4 and its baselines."""
