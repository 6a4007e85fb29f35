"""VAT on documents, computed per VAT-rate group rather than per line (spec section 3), then
spread back over the group's lines so the lines add up to the group exactly."""

from __future__ import annotations

from decimal import Decimal

from workflows.money import HUNDRED, allocate_carried, round_money


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


# A group's VAT over its lines in line order, remainder carried forward (an alias rather than
# a wrapper: one call less for every group of every document).
spread = allocate_carried
