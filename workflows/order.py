"""The order aggregate: header, lines and the prepayment fields Business Central keeps per
line (spec section 2). Everything that changes a line goes through `compute_amounts` or
`set_line_prepayment_amount`, the one place each amount is computed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from workflows.commands import PaymentTerms, Side
from workflows.errors import ValidationFailed
from workflows.money import HUNDRED, ZERO, is_multiple_of_precision, round_money


@dataclass(slots=True)
class OrderLine:
    line_no: int
    item_id: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    line_discount_percent: Decimal
    vat_percent: Decimal
    prepayment_percent: Decimal
    line_amount: Decimal = ZERO
    prepayment_line_amount: Decimal = ZERO
    prepayment_invoiced: Decimal = ZERO
    prepayment_vat_invoiced: Decimal = ZERO
    prepayment_deducted: Decimal = ZERO
    prepayment_vat_deducted: Decimal = ZERO
    quantity_invoiced: Decimal = ZERO
    amount_invoiced: Decimal = ZERO

    def copy(self) -> OrderLine:
        """A shallow copy; several times cheaper than dataclasses.replace on the hot path."""
        return OrderLine(
            self.line_no,
            self.item_id,
            self.description,
            self.quantity,
            self.unit_price,
            self.line_discount_percent,
            self.vat_percent,
            self.prepayment_percent,
            self.line_amount,
            self.prepayment_line_amount,
            self.prepayment_invoiced,
            self.prepayment_vat_invoiced,
            self.prepayment_deducted,
            self.prepayment_vat_deducted,
            self.quantity_invoiced,
            self.amount_invoiced,
        )

    @property
    def quantity_remaining(self) -> Decimal:
        return self.quantity - self.quantity_invoiced

    @property
    def prepayment_to_bill(self) -> Decimal:
        return self.prepayment_line_amount - self.prepayment_invoiced

    @property
    def prepayment_undeducted(self) -> Decimal:
        return self.prepayment_invoiced - self.prepayment_deducted

    @property
    def prepayment_vat_undeducted(self) -> Decimal:
        return self.prepayment_vat_invoiced - self.prepayment_vat_deducted


@dataclass(slots=True)
class PrepaymentInvoiceBalance:
    """What is still open on one posted prepayment invoice, for applying payments."""

    document_no: str
    gross: Decimal
    open: Decimal


@dataclass(slots=True)
class Order:
    order_id: str
    side: Side
    party_id: str
    currency: str
    order_date: date
    posting_date: date
    prices_include_vat: bool
    prepayment_percent: Decimal
    compress_prepayment: bool
    check_prepayment_when_posting: bool
    payment_terms: PaymentTerms
    lines: dict[int, OrderLine] = field(default_factory=dict)
    state: str = "draft"
    version: int = 0
    prepayment_invoices: list[PrepaymentInvoiceBalance] = field(default_factory=list)
    payment_ids: list[str] = field(default_factory=list)
    prepayment_paid: Decimal = ZERO
    unapplied_credit: Decimal = ZERO

    def line(self, line_no: int, field_name: str = "line_no") -> OrderLine:
        try:
            return self.lines[line_no]
        except KeyError:
            raise ValidationFailed(
                f"order {self.order_id} has no line {line_no}",
                field=field_name,
                code="line.not_found",
            ) from None

    def sorted_lines(self) -> list[OrderLine]:
        """The lines in line-number order: `lines` is kept sorted (see ordering._by_line_no)."""
        return list(self.lines.values())

    @property
    def prepayment_outstanding(self) -> Decimal:
        # A loop rather than sum() over a generator: this is read several times per command.
        outstanding = ZERO
        for invoice in self.prepayment_invoices:
            outstanding += invoice.open
        return outstanding


# The contract's amounts have at most 15 digits before the point. A line beyond that could
# not be sent on, and its arithmetic would outgrow Decimal's 28 significant digits.
MAX_LINE_AMOUNT = Decimal(10) ** 15


def check_line_size(order_id: str, line: OrderLine, field_prefix: str) -> None:
    """Before a line's amounts are computed: quantity x unit price must be an amount."""
    if abs(line.quantity * line.unit_price) >= MAX_LINE_AMOUNT:
        raise ValidationFailed(
            f"order {order_id} line {line.line_no}: {line.quantity} x {line.unit_price} exceeds "
            "the largest line amount (15 digits before the decimal point)",
            field=f"{field_prefix}.quantity",
            code="line.amount_too_large",
        )


def compute_line_amount(line: OrderLine, currency: str) -> Decimal:
    gross = line.quantity * line.unit_price * (1 - line.line_discount_percent / HUNDRED)
    return round_money(gross, currency)


def compute_prepayment_line_amount(line: OrderLine, currency: str) -> Decimal:
    """Business Central's Prepmt. Line Amount: the percent of what is not yet invoiced, plus
    what was already deducted (so it stays cumulative over partial invoices)."""
    if line.quantity == ZERO:
        return line.prepayment_deducted
    remaining_share = line.line_amount * line.quantity_remaining / line.quantity
    return (
        round_money(remaining_share * line.prepayment_percent / HUNDRED, currency)
        + line.prepayment_deducted
    )


def compute_amounts(line: OrderLine, currency: str) -> None:
    """Recompute a line's amounts from quantity, price, discount and percent, in place: only
    on a line no order holds yet (a new line or a working copy), so a refused command still
    changes nothing."""
    line.line_amount = compute_line_amount(line, currency)
    line.prepayment_line_amount = compute_prepayment_line_amount(line, currency)


def set_line_prepayment_amount(
    order: Order, line: OrderLine, amount: Decimal, field_name: str
) -> OrderLine:
    """Set Prepmt. Line Amount by hand; the percent is back-computed and kept unrounded."""
    where = f"order {order.order_id} line {line.line_no}"
    if not is_multiple_of_precision(amount, order.currency):
        raise ValidationFailed(
            f"{where}: prepayment amount {amount} has more decimals than {order.currency} allows",
            field=field_name,
            code="prepayment.amount_precision",
        )
    if amount < line.prepayment_invoiced:
        raise ValidationFailed(
            f"{where}: prepayment amount {amount} is below the {line.prepayment_invoiced} "
            "already invoiced; post a prepayment credit memo first",
            field=field_name,
            code="prepayment.amount_below_invoiced",
        )
    if amount > line.line_amount:
        raise ValidationFailed(
            f"{where}: prepayment amount {amount} exceeds the line amount {line.line_amount}",
            field=field_name,
            code="prepayment.amount_above_line_amount",
        )
    if line.line_amount == 0:
        raise ValidationFailed(
            f"{where}: a line amount of 0 takes no prepayment amount",
            field=field_name,
            code="prepayment.amount_above_line_amount",
        )
    fully_invoiced = line.quantity_invoiced and not line.quantity_remaining
    if fully_invoiced and amount != line.prepayment_deducted:
        # No later invoice could deduct more prepayment from a fully invoiced line.
        raise ValidationFailed(
            f"{where} is fully invoiced: its prepayment stays at the {line.prepayment_deducted} "
            f"deducted, not {amount}",
            field=field_name,
            code="line.already_invoiced",
        )
    updated = line.copy()
    updated.prepayment_line_amount = amount
    updated.prepayment_percent = amount * HUNDRED / line.line_amount
    return updated


def check_line(order: Order, line: OrderLine, field_prefix: str) -> None:
    """The guards every changed line must pass before the change is applied."""
    # Checked on every line of every change: the message is only composed for a refusal.
    if not (ZERO <= line.line_discount_percent <= HUNDRED and ZERO <= line.vat_percent <= HUNDRED):
        name = (
            "line_discount_percent"
            if not ZERO <= line.line_discount_percent <= HUNDRED
            else "vat_percent"
        )
        raise ValidationFailed(
            f"order {order.order_id} line {line.line_no}: {name} {getattr(line, name)} must lie "
            "between 0 and 100",
            field=f"{field_prefix}.{name}",
            code="line.percent_range",
        )
    if line.prepayment_percent != ZERO and (line.quantity < ZERO or line.unit_price < ZERO):
        name = "quantity" if line.quantity < ZERO else "unit_price"
        raise ValidationFailed(
            f"order {order.order_id} line {line.line_no}: {name} {getattr(line, name)} is "
            f"negative on a line with {line.prepayment_percent} % prepayment",
            field=f"{field_prefix}.{name}",
            code="line.negative_amount",
        )
    if abs(line.quantity) < abs(line.quantity_invoiced) or (
        line.quantity_invoiced and line.quantity * line.quantity_invoiced < ZERO
    ):
        raise ValidationFailed(
            f"order {order.order_id} line {line.line_no}: quantity {line.quantity} is below the "
            f"{line.quantity_invoiced} already invoiced",
            field=f"{field_prefix}.quantity",
            code="line.quantity_below_invoiced",
        )
    if line.prepayment_line_amount < line.prepayment_invoiced:
        raise ValidationFailed(
            f"order {order.order_id} line {line.line_no}: prepayment line amount would drop to "
            f"{line.prepayment_line_amount}, below the {line.prepayment_invoiced} already "
            "invoiced; post a prepayment credit memo first or raise the percent",
            field=f"{field_prefix}.prepayment_line_amount",
            code="prepayment.amount_below_invoiced",
        )
