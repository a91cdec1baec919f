"""The :class:`Rational` module: learnable coefficients around :func:`rationals.torch.rational`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from rationals.core import check_version, variant
from rationals.core.validation import check_coefficients

from .functional import rational

__all__ = ["ApproxFunc", "Rational", "initial_parameters"]

#: A function name (``"leaky_relu"``, ``"relu"``, ``"gelu"``, ``"swish"``/``"silu"``, ``"tanh"``,
#: ``"sigmoid"``, ``"identity"``), any float64 numpy callable (fitted on [−3, 3]), explicit
#: ``(numerator, denominator)`` coefficients, or None (the version's default).
ApproxFunc = str | Callable[[np.ndarray], np.ndarray] | Sequence | None

#: Keys of KAT's group-rational layers, accepted by :meth:`Rational.load_state_dict`.
_KAT_KEYS = {"weight_numerator": "numerator", "weight_denominator": "denominator"}


def initial_parameters(
    approx_func: ApproxFunc, degrees: tuple[int, int] | None, version: str
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(numerator, denominator, degrees) that make R ≈ ``approx_func`` (float64, ascending).

    Names use the shipped tables (:func:`rationals.core.initial_coefficients`); callables are
    fitted in the minimax sense on [−3, 3] (:func:`rationals.core.fit`); a pair of coefficient
    arrays (1-D, or 2-D per group) is taken as it is, its degrees read from its sizes.
    """
    from rationals.core.init import fit, initial_coefficients
    from rationals.core.init.tables import default_degrees

    check_version(version)
    if isinstance(approx_func, Sequence) and not isinstance(approx_func, str):
        numerator, denominator = (
            torch.as_tensor(c).detach().cpu().to(torch.float64).numpy() for c in approx_func
        )
        v = check_coefficients(version, numerator, denominator, degrees)
        return numerator, denominator, v.degrees
    v = variant(version, default_degrees(version) if degrees is None else degrees)
    if callable(approx_func):
        result = fit(approx_func, v.degrees, version)
        return result.numerator, result.denominator, v.degrees
    numerator, denominator = initial_coefficients(approx_func, v.degrees, version)
    return numerator, denominator, v.degrees


class Rational(nn.Module):
    r"""Learnable rational activation R(x) = P(x) / Q(x), a drop-in for PAU/KAT layers.

    P(x) = Σ_{i≤n} a_i x^i and Q(x) per ``version`` (``"A"``: 1 + Σ_j |b_j| |x|^j; ``"B"``,
    ``"C"``, ``"D"``, ``"N"``, ``"boulle"``, ``"era"``: see :func:`rationals.torch.rational`).

    Args:
        approx_func: initial shape; None is the version's default (leaky ReLU with slope 0.01,
            Boullé's (3, 2) ReLU fit for ``boulle``, swish for ``era``). A callable is fitted;
            a pair ``(numerator, denominator)`` is used as given.
        degrees: (n, m); None is (3, 2) for ``boulle`` and (5, 4) otherwise.
        version: ``"A"``, ``"B"``, ``"C"``, ``"D"``, ``"N"``, ``"boulle"`` or ``"era"``.
        trainable: whether the coefficients get gradients at all.
        train_numerator: whether the numerator gets gradients (with ``trainable``).
        train_denominator: whether the denominator gets gradients (with ``trainable``).
        numerator_groups: numerator rows; with both group counts 1 (shared) the parameters are
            1-D like rational_activations', otherwise both are 2-D ``(groups, coefficients)``
            and channel c of ``channel_axis`` uses group c // (C // groups) (KAT: 1 and 8).
        denominator_groups: denominator rows, likewise.
        channel_axis: the axis holding channels in grouped layouts: 1 (like ``nn.PReLU``) for
            ``(N, C, ...)`` inputs, -1 for channels-last ``(B, L, C)`` transformer inputs.
        device: of the parameters.
        dtype: of the parameters (torch's default dtype, float32, if None).

    Version ``"D"`` adds U[0.9, 1.1] noise to the denominator in training mode only.
    """

    def __init__(
        self,
        approx_func: ApproxFunc = None,
        degrees: tuple[int, int] | None = None,
        version: str = "A",
        trainable: bool = True,
        train_numerator: bool = True,
        train_denominator: bool = True,
        numerator_groups: int = 1,
        denominator_groups: int = 1,
        channel_axis: int = 1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, groups in (("numerator", numerator_groups), ("denominator", denominator_groups)):
            if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
                raise ValueError(f"{name}_groups must be an integer >= 1, got {groups!r}")
        numerator, denominator, self.degrees = initial_parameters(approx_func, degrees, version)
        self.version = version
        self.approx_func = _init_name(approx_func, version)
        self.numerator_groups, self.denominator_groups = numerator_groups, denominator_groups
        self.channel_axis = channel_axis
        if self.grouped:
            numerator = _per_group(numerator, numerator_groups, "numerator")
            denominator = _per_group(denominator, denominator_groups, "denominator")
        else:
            numerator, denominator = numerator.reshape(-1), denominator.reshape(-1)
        kw = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self.numerator = nn.Parameter(
            torch.as_tensor(numerator, **kw), requires_grad=trainable and train_numerator
        )
        self.denominator = nn.Parameter(
            torch.as_tensor(denominator, **kw), requires_grad=trainable and train_denominator
        )
        self.register_load_state_dict_pre_hook(_rename_kat_keys)

    @classmethod
    def from_coefficients(
        cls,
        numerator: np.ndarray | torch.Tensor,
        denominator: np.ndarray | torch.Tensor,
        version: str = "A",
        **kwargs: object,
    ) -> Rational:
        """A layer holding given coefficients: 1-D shared, or 2-D ``(groups, K)`` per group.

        Degrees follow from the sizes, group counts from the shapes; ``kwargs`` go to
        :class:`Rational` (``channel_axis``, ``trainable``, ``device``, ``dtype``, ...).
        """
        groups = {
            f"{what}_groups": c.shape[0] if c.ndim == 2 else 1
            for what, c in (("numerator", numerator), ("denominator", denominator))
        }
        return cls((numerator, denominator), None, version, **groups, **kwargs)

    @property
    def grouped(self) -> bool:
        """Whether the coefficients are 2-D ``(groups, coefficients)``."""
        return self.numerator_groups > 1 or self.denominator_groups > 1

    @property
    def layout(self) -> str:
        """``"shared"``, or ``"grouped(numerator=G_a, denominator=G_b)"``."""
        if not self.grouped:
            return "shared"
        return f"grouped(numerator={self.numerator_groups}, denominator={self.denominator_groups})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """R(x) elementwise (with version D's noise in training mode)."""
        return rational(
            x, self.numerator, self.denominator, self.version,
            channel_axis=self.channel_axis, training=self.training,
        )

    def extra_repr(self) -> str:
        text = f"version={self.version!r}, degrees={self.degrees}, layout={self.layout}"
        if self.grouped:
            text += f", channel_axis={self.channel_axis}"
        if self.approx_func is not None:
            text += f", approx_func={self.approx_func!r}"
        return text


def _init_name(approx_func: ApproxFunc, version: str) -> str | None:
    """The name of the initial function (None for explicit coefficients)."""
    from rationals.core.init.tables import default_approx_func

    if approx_func is None:
        return default_approx_func(version)
    if isinstance(approx_func, str):
        return approx_func
    return getattr(approx_func, "__name__", None) if callable(approx_func) else None


def _per_group(c: np.ndarray, groups: int, what: str) -> np.ndarray:
    """``(K,)`` or ``(1, K)`` repeated to ``(groups, K)``; ``(groups, K)`` kept."""
    if c.ndim == 2 and c.shape[0] not in (1, groups):
        raise ValueError(f"{what} has {c.shape[0]} rows but {what}_groups={groups}")
    rows = c.reshape(c.shape[0] if c.ndim == 2 else 1, c.shape[-1])
    return np.broadcast_to(rows, (groups, c.shape[-1])).copy()


def _rename_kat_keys(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
    """Accept KAT's ``weight_numerator``/``weight_denominator`` keys as ours."""
    for theirs, ours in _KAT_KEYS.items():
        if prefix + theirs in state_dict and prefix + ours not in state_dict:
            state_dict[prefix + ours] = state_dict.pop(prefix + theirs)
