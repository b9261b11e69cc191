"""Finding and loading a causal LM by name.

The embedded default, a folder, a GGUF file, a hub id, or a random-weight model of a known
shape (for benchmarks).
"""
