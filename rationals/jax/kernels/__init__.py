"""Kernels of the JAX adapter: ``pallas`` (forward and backward with per-block partial sums)."""
