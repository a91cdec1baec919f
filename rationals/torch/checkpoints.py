"""Loading the weights of rational_activations' ``Rational`` and KAT's group-rational layers.

* rational_activations stores ``numerator`` (n+1 values) and ``denominator`` (m values; m+1 for
  version C) as 1-D parameters, exactly like a shared :class:`~rationals.torch.Rational` of the
  same version and degrees: its state_dicts load as they are. The version is not stored.
* KAT's ``KAT_Group`` stores ``weight_numerator`` ``(1, 6)`` and ``weight_denominator``
  ``(G, 4)`` (version A, degrees (5, 4), channels last): a Rational with ``numerator_groups=1``,
  ``denominator_groups=G``, ``channel_axis=-1`` accepts those keys in ``load_state_dict``.

So a model rebuilt with our layers in place of theirs loads their checkpoint with
``model.load_state_dict(their_state_dict)``; the functions below build single layers.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .module import Rational

__all__ = ["from_kat", "from_rational_activations"]


def from_rational_activations(
    state_dict: Mapping[str, torch.Tensor], version: str = "A", *, prefix: str = "",
    **kwargs: object,
) -> Rational:
    """A :class:`Rational` with the coefficients of one rational_activations layer.

    ``version`` is the one that layer was built with (their state_dict does not record it);
    degrees follow from the sizes. ``prefix`` selects a layer inside a model's state_dict
    (e.g. ``"features.3."``); ``kwargs`` go to :class:`Rational`.
    """
    return Rational.from_coefficients(
        state_dict[prefix + "numerator"], state_dict[prefix + "denominator"], version, **kwargs
    )


def from_kat(
    state_dict: Mapping[str, torch.Tensor], *, prefix: str = "", channel_axis: int = -1,
    **kwargs: object,
) -> Rational:
    """A :class:`Rational` with the coefficients of one KAT group-rational layer.

    KAT evaluates version A on channels-last ``(B, L, C)`` inputs: numerator ``(1, K)`` shared by
    all channels (``KAT_Group``) or ``(G, K)`` (``KAT_1DGroup``), denominator ``(G, M)``.
    """
    return Rational.from_coefficients(
        state_dict[prefix + "weight_numerator"], state_dict[prefix + "weight_denominator"], "A",
        channel_axis=channel_axis, **kwargs,
    )
