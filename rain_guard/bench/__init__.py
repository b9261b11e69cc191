"""``rain-guard bench``: what an answer costs.

RAIN against greedy decoding, and against the reference implementation's way of computing
the same search.
"""
