"""Initialisation: the minimax fitter and the shipped tables of initial coefficients."""

from .fit import FitResult, fit
from .tables import APPROX_FUNCS, initial_coefficients

__all__ = ["APPROX_FUNCS", "FitResult", "fit", "initial_coefficients"]
