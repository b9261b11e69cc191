"""``rain-guard bench``: what an answer costs.

RAIN against greedy decoding, and against the reference implementation's way of computing
the same search. ``arms`` names the arms, ``items`` loads the prompts, ``runner`` answers
them, ``aggregate`` sums and compares the runs, ``report`` writes markdown and JSON,
``machine`` describes the hardware, ``cli`` is the command and ``merge`` joins reports.
"""
