"""VAT on documents, computed per VAT-rate group rather than per line (spec section 3), then
spread back over the group's lines so the lines add up to the group exactly."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from decimal import Decimal
from typing import TypeVar

from workflows.money import HUNDRED, allocate_carried, round_money

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def group_vat(
    base: Decimal, vat_percent: Decimal, prices_include_vat: bool, currency: str
) -> Decimal:
    """The VAT contained in (prices incl. VAT) or due on (prices excl. VAT) a group's base."""
    rate = vat_percent / HUNDRED
    if prices_include_vat:
        return round_money(base - base / (1 + rate), currency)
    return round_money(base * rate, currency)


def split(base: Decimal, vat: Decimal, prices_include_vat: bool) -> tuple[Decimal, Decimal]:
    """(net, gross) of an amount on the line basis with its VAT."""
    if prices_include_vat:
        return base - vat, base
    return base, base + vat


def spread(total_vat: Decimal, bases: Sequence[Decimal], currency: str) -> list[Decimal]:
    """A group's VAT over its lines in line order, remainder carried forward."""
    return allocate_carried(total_vat, bases, currency)


def group_by_rate(items: Iterable[T], rate_of: Callable[[T], K]) -> dict[K, list[T]]:
    """Items grouped by their VAT rate (or by a key that starts with it, such as rate and sign)."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(rate_of(item), []).append(item)
    return groups
