"""Optimistic fault proofs (whitepaper section 5): committed traces, k-way bisection over the
model DAG, a referee recomputing one node, a slashing ledger and challenge economics."""
