"""Kernels of the torch adapter.

``layout`` views inputs in memory order, ``composed`` runs :mod:`rationals.core.math` over torch
(compiled by inductor on CPU, eager elsewhere), ``triton_rational`` holds the fused GPU kernels
(it needs the optional ``triton`` package).
"""
