"""Money arithmetic: Decimal only, rounded explicitly to the currency's minor unit.

The precision table is ISO 4217's minor units for the currencies that differ from two
decimals; it lives here rather than in a library because the domain imports no third-party
package besides `transitions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

# Compare amounts with ZERO rather than 0: an int operand is turned into a Decimal on every
# comparison, which costs more than the comparison itself.
ZERO = Decimal(0)
HUNDRED = Decimal(100)

_MINOR_UNITS: dict[str, int] = {
    # zero decimals
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

_QUANTUM: dict[int, Decimal] = {n: Decimal(1).scaleb(-n) for n in range(5)}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


_CURRENCY_QUANTUM: dict[str, Decimal] = {c: _QUANTUM[n] for c, n in _MINOR_UNITS.items()}
_CENT = _QUANTUM[2]
# Rounding has a context of its own (Decimal's default precision and traps, halves up): it
# then depends on no thread's current context, and it is cheaper than
# `quantize(..., rounding=...)`, whose keyword argument is parsed on every call (and rounding
# runs several times per command).
_HALF_UP = Context(prec=28, rounding=ROUND_HALF_UP)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's precision, halves away from zero (ROUND_HALF_UP on Decimal)."""
    return _HALF_UP.quantize(amount, _CURRENCY_QUANTUM.get(currency, _CENT))


def is_multiple_of_precision(amount: Decimal, currency: str) -> bool:
    return amount == round_money(amount, currency)


def allocate_carried(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Spread `total` over `weights` in order, carrying the rounding remainder forward.

    Each share is round(total x cumulative weight / sum of weights) minus what earlier shares
    took, so the shares always add up to `total` exactly and no share is off by more than one
    minor unit. With all weights zero, the whole total lands on the last share.
    """
    if not weights:
        return []
    weight_sum = sum(weights, ZERO)
    if weight_sum == ZERO:
        return [ZERO] * (len(weights) - 1) + [total]
    shares: list[Decimal] = []
    running_weight = ZERO
    allocated = ZERO
    for weight in weights:
        running_weight += weight
        cumulative = round_money(total * running_weight / weight_sum, currency)
        shares.append(cumulative - allocated)
        allocated = cumulative
    return shares


def allocate_last_takes_remainder(
    total: Decimal, weights: Sequence[Decimal], currency: str
) -> list[Decimal]:
    """Business Central's distribution of an order total: each share but the last is
    round(total x weight / sum of weights); the last takes what is left."""
    weight_sum = sum(weights, ZERO)
    shares = [round_money(total * w / weight_sum, currency) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]
