"""Fused kernels of the torch adapter; ``triton_rational`` needs the optional ``triton`` package."""
