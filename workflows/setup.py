"""Setup: parties with their prepayment defaults, item prepayment rules, posting accounts,
and which percent a new order line gets (Business Central's precedence, spec section 1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from workflows.commands import AppliesTo, PaymentTerms, Side
from workflows.errors import ValidationFailed
from workflows.money import HUNDRED, ZERO


@dataclass(slots=True)
class Party:
    party_id: str
    side: Side
    name: str
    prepayment_percent: Decimal = ZERO
    price_group: str | None = None
    payment_terms: PaymentTerms = field(default_factory=PaymentTerms)
    check_prepayment_when_posting: bool = True


@dataclass(frozen=True, slots=True)
class PrepaymentRule:
    side: Side
    item_id: str
    applies_to: AppliesTo
    code: str | None
    percent: Decimal
    starting_date: date | None = None
    ending_date: date | None = None

    @property
    def key(self) -> tuple[str, str, str, str, date | None]:
        """A rule is identified like Business Central's Sales Prepayment %: item, whom it
        applies to, and starting date. Upserting the same key replaces the rule."""
        return (self.side, self.item_id, self.applies_to, self.code or "", self.starting_date)

    def valid_on(self, day: date) -> bool:
        starts_ok = self.starting_date is None or self.starting_date <= day
        return starts_ok and (self.ending_date is None or day <= self.ending_date)


@dataclass(frozen=True, slots=True)
class PostingAccounts:
    prepayment: str
    party: str
    vat: str
    revenue: str


DEFAULT_ACCOUNTS: dict[str, PostingAccounts] = {
    # Customer prepayments are a liability until the goods ship.
    "sales": PostingAccounts(prepayment="2350", party="1200", vat="2510", revenue="4000"),
    # Vendor prepayments are an asset until the goods arrive.
    "purchase": PostingAccounts(prepayment="1350", party="2000", vat="1510", revenue="5000"),
}


def check_percent(value: Decimal, field_name: str, what: str) -> None:
    if not ZERO <= value <= HUNDRED:
        raise ValidationFailed(
            f"{what}: prepayment percent {value} must lie between 0 and 100",
            field=field_name,
            code="prepayment.percent_range",
        )


def validate_party(party: Party) -> None:
    check_percent(party.prepayment_percent, "prepayment_percent", f"party {party.party_id}")
    terms = party.payment_terms
    if terms.due_days < 0 or terms.discount_days < 0:
        raise ValidationFailed(
            f"party {party.party_id}: payment terms days must not be negative",
            field="payment_terms",
            code="setup.payment_terms",
        )
    if not ZERO <= terms.discount_percent <= HUNDRED:
        raise ValidationFailed(
            f"party {party.party_id}: discount percent {terms.discount_percent} must lie "
            "between 0 and 100",
            field="payment_terms.discount_percent",
            code="setup.payment_terms",
        )
    if party.side == "purchase" and party.price_group:
        raise ValidationFailed(
            f"vendor {party.party_id}: price groups exist only for customers",
            field="price_group",
            code="setup.price_group",
        )


def validate_rule(rule: PrepaymentRule) -> None:
    what = f"prepayment rule for item {rule.item_id}"
    check_percent(rule.percent, "percent", what)
    if rule.starting_date and rule.ending_date and rule.starting_date > rule.ending_date:
        raise ValidationFailed(
            f"{what}: starting date {rule.starting_date} is after ending date {rule.ending_date}",
            field="starting_date",
            code="setup.date_range",
        )
    if rule.applies_to == "all" and rule.code:
        raise ValidationFailed(
            f"{what}: a rule for all parties must have no code (got {rule.code!r})",
            field="code",
            code="setup.rule_code",
        )
    if rule.applies_to != "all" and not rule.code:
        raise ValidationFailed(
            f"{what}: a {rule.applies_to} rule needs the {rule.applies_to} code",
            field="code",
            code="setup.rule_code",
        )
    if rule.side == "purchase" and rule.applies_to == "price_group":
        raise ValidationFailed(
            f"{what}: purchase rules apply to a vendor or to all vendors, not a price group",
            field="applies_to",
            code="setup.rule_code",
        )


def _levels(party: Party) -> list[tuple[AppliesTo, str | None]]:
    if party.side == "sales":
        levels: list[tuple[AppliesTo, str | None]] = [("party", party.party_id)]
        if party.price_group:
            levels.append(("price_group", party.price_group))
        return [*levels, ("all", None)]
    return [("party", party.party_id), ("all", None)]


def rule_percent(rules: Iterable[PrepaymentRule], party: Party, on: date) -> Decimal | None:
    """The percent of the first level with a rule valid on `on`; within a level, the rule with
    the latest starting date wins. None when no rule applies (the order's percent then does).
    A matching 0 % rule still wins, as in Business Central."""
    valid = [r for r in rules if r.side == party.side and r.valid_on(on)]
    if not valid:  # most items have no rule: skip building the precedence levels
        return None
    for applies_to, code in _levels(party):
        level = [r for r in valid if r.applies_to == applies_to and r.code == code]
        if level:
            return max(level, key=lambda r: r.starting_date or date.min).percent
    return None
