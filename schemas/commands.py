"""The `data` of each command as it travels, and its translation into the domain's command.

Field names are the contract's. A field is optional on the wire exactly when the domain's
dataclass gives it a default; explicit `null` counts as absent. Unknown fields are refused so a
misspelt field never passes silently. Rules that depend on the order (precision of the order's
currency, `external_document_no` on purchase orders, which lines exist) are the domain's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.command_lines import InvoiceLineData, LineInputData, LineUpdateData
from schemas.scalars import (
    Currency,
    Days,
    Flag,
    Id,
    LineList,
    LineNo,
    Money,
    Name,
    Percent,
    Side,
    Text,
    WireDate,
)
from workflows import commands as domain


class CommandData(BaseModel):
    """Base of every command's `data`: strict about unknown fields, immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_domain(self) -> domain.Command:
        raise NotImplementedError


class PaymentTermsData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    due_days: Days = 0
    discount_days: Days = 0
    discount_percent: Percent = Decimal(0)

    def to_domain(self) -> domain.PaymentTerms:
        return domain.PaymentTerms(self.due_days, self.discount_days, self.discount_percent)


class UpsertPartyData(CommandData):
    """`party.upsert`: a customer (sales) or vendor (purchase) and its prepayment defaults."""

    party_id: Id
    side: Side
    name: Name
    prepayment_percent: Percent = Decimal(0)
    price_group: Id | None = None
    payment_terms: PaymentTermsData | None = None
    check_prepayment_when_posting: Flag = True

    def to_domain(self) -> domain.UpsertParty:
        terms = self.payment_terms or PaymentTermsData()
        return domain.UpsertParty(
            party_id=self.party_id,
            side=self.side,
            name=self.name,
            prepayment_percent=self.prepayment_percent,
            price_group=self.price_group,
            payment_terms=terms.to_domain(),
            check_prepayment_when_posting=self.check_prepayment_when_posting,
        )


class UpsertPrepaymentRuleData(CommandData):
    """`prepayment_rule.upsert`: an item's prepayment percent for a party, a price group or all."""

    side: Side
    item_id: Id
    applies_to: Literal["party", "price_group", "all"]
    code: Id | None = Field(default=None, validate_default=True)
    percent: Percent
    starting_date: WireDate | None = None
    ending_date: WireDate | None = None

    @field_validator("code")
    @classmethod
    def _code_matches_scope(cls, code: str | None, info: ValidationInfo) -> str | None:
        applies_to = info.data.get("applies_to")
        if applies_to == "all" and code is not None:
            raise PydanticCustomError("code_not_allowed", 'must be absent when applies_to is "all"')
        if applies_to in ("party", "price_group") and code is None:
            raise PydanticCustomError(
                "code_required",
                'is required when applies_to is "{applies_to}"',
                {"applies_to": applies_to},
            )
        return code

    def to_domain(self) -> domain.UpsertPrepaymentRule:
        return domain.UpsertPrepaymentRule(
            side=self.side,
            item_id=self.item_id,
            applies_to=self.applies_to,
            percent=self.percent,
            code=self.code,
            starting_date=self.starting_date,
            ending_date=self.ending_date,
        )


class CreateOrderData(CommandData):
    """`order.create`: a sales or purchase order with its lines."""

    order_id: Id
    side: Side
    party_id: Id
    currency: Currency
    order_date: WireDate
    posting_date: WireDate | None = None
    prices_include_vat: Flag = False
    prepayment_percent: Percent | None = None
    compress_prepayment: Flag = True
    lines: LineList[LineInputData] = ()

    def to_domain(self) -> domain.CreateOrder:
        return domain.CreateOrder(
            order_id=self.order_id,
            side=self.side,
            party_id=self.party_id,
            currency=self.currency,
            order_date=self.order_date,
            lines=tuple(line.to_domain() for line in self.lines),
            posting_date=self.posting_date,
            prices_include_vat=self.prices_include_vat,
            prepayment_percent=self.prepayment_percent,
            compress_prepayment=self.compress_prepayment,
        )


class AmendOrderData(CommandData):
    """`order.amend`: any of a new prepayment percent, added, updated and removed lines."""

    order_id: Id
    prepayment_percent: Percent | None = None
    add_lines: LineList[LineInputData] = ()
    update_lines: LineList[LineUpdateData] = ()
    remove_lines: LineList[LineNo] = ()

    @model_validator(mode="after")
    def _changes_something(self) -> AmendOrderData:
        if self.prepayment_percent is None and not (
            self.add_lines or self.update_lines or self.remove_lines
        ):
            raise PydanticCustomError(
                "nothing_to_amend",
                "must set at least one of prepayment_percent, add_lines, update_lines, "
                "remove_lines",
            )
        return self

    def to_domain(self) -> domain.AmendOrder:
        return domain.AmendOrder(
            order_id=self.order_id,
            prepayment_percent=self.prepayment_percent,
            add_lines=tuple(line.to_domain() for line in self.add_lines),
            update_lines=tuple(update.to_domain() for update in self.update_lines),
            remove_lines=self.remove_lines,
        )


class SetPrepaymentTotalData(CommandData):
    """`prepayment.set_total`: the order's prepayment as one amount (line basis)."""

    order_id: Id
    amount: Money

    def to_domain(self) -> domain.SetPrepaymentTotal:
        return domain.SetPrepaymentTotal(order_id=self.order_id, amount=self.amount)


class InvoicePrepaymentData(CommandData):
    """`prepayment.invoice`: post a prepayment invoice for what is not invoiced yet."""

    order_id: Id
    posting_date: WireDate | None = None
    external_document_no: Id | None = None

    def to_domain(self) -> domain.InvoicePrepayment:
        return domain.InvoicePrepayment(
            order_id=self.order_id,
            posting_date=self.posting_date,
            external_document_no=self.external_document_no,
        )


class CreditPrepaymentData(CommandData):
    """`prepayment.credit`: post a prepayment credit memo for the given lines (absent: all)."""

    order_id: Id
    posting_date: WireDate | None = None
    lines: LineList[LineNo] = ()
    external_document_no: Id | None = None

    def to_domain(self) -> domain.CreditPrepayment:
        return domain.CreditPrepayment(
            order_id=self.order_id,
            posting_date=self.posting_date,
            lines=self.lines,
            external_document_no=self.external_document_no,
        )


class RecordPaymentData(CommandData):
    """`payment.record`: money received (sales) or paid (purchase) against prepayment invoices."""

    order_id: Id
    payment_id: Id
    amount: Money
    currency: Currency
    document_no: Id | None = None
    received_date: WireDate | None = None

    def to_domain(self) -> domain.RecordPayment:
        return domain.RecordPayment(
            order_id=self.order_id,
            payment_id=self.payment_id,
            amount=self.amount,
            currency=self.currency,
            document_no=self.document_no,
            received_date=self.received_date,
        )


class InvoiceOrderData(CommandData):
    """`order.invoice`: a partial invoice of the given quantities, or (no `lines`) the final one."""

    order_id: Id
    posting_date: WireDate | None = None
    lines: LineList[InvoiceLineData] | None = None
    external_document_no: Id | None = None

    def to_domain(self) -> domain.InvoiceOrder:
        lines = None if self.lines is None else tuple(line.to_domain() for line in self.lines)
        return domain.InvoiceOrder(
            order_id=self.order_id,
            posting_date=self.posting_date,
            lines=lines,
            external_document_no=self.external_document_no,
        )


class CancelOrderData(CommandData):
    """`order.cancel`; `reason` is an optional addition to the contract's fields."""

    order_id: Id
    reason: Text | None = None

    def to_domain(self) -> domain.CancelOrder:
        if self.reason is None:
            return domain.CancelOrder(order_id=self.order_id)
        return domain.CancelOrder(order_id=self.order_id, reason=self.reason)


_MODEL_OF: dict[type[domain.Command], type[CommandData]] = {
    domain.UpsertParty: UpsertPartyData,
    domain.UpsertPrepaymentRule: UpsertPrepaymentRuleData,
    domain.CreateOrder: CreateOrderData,
    domain.AmendOrder: AmendOrderData,
    domain.SetPrepaymentTotal: SetPrepaymentTotalData,
    domain.InvoicePrepayment: InvoicePrepaymentData,
    domain.CreditPrepayment: CreditPrepaymentData,
    domain.RecordPayment: RecordPaymentData,
    domain.InvoiceOrder: InvoiceOrderData,
    domain.CancelOrder: CancelOrderData,
}

COMMAND_MODELS: dict[str, type[CommandData]] = {
    name: _MODEL_OF[command_class] for command_class, name in domain.COMMAND_TYPES.items()
}
"""The `data` model of each command type (the contract's `type`, also the routing key)."""
