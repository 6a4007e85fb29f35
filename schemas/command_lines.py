"""The lines inside order commands: new lines, line changes and quantities to invoice."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from schemas.scalars import Id, LineNo, Money, Percent, Price, Quantity, Text
from workflows import commands as domain


class LineInputData(BaseModel):
    """A new order line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_no: LineNo
    item_id: Id
    description: Text = ""
    quantity: Quantity
    unit_price: Price
    line_discount_percent: Percent = Decimal(0)
    vat_percent: Percent = Decimal(0)
    prepayment_percent: Percent | None = None

    def to_domain(self) -> domain.LineInput:
        return domain.LineInput(
            line_no=self.line_no,
            item_id=self.item_id,
            quantity=self.quantity,
            unit_price=self.unit_price,
            description=self.description,
            line_discount_percent=self.line_discount_percent,
            vat_percent=self.vat_percent,
            prepayment_percent=self.prepayment_percent,
        )


class LineUpdateData(BaseModel):
    """A change to an existing line: only the fields given change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_no: LineNo
    quantity: Quantity | None = None
    unit_price: Price | None = None
    line_discount_percent: Percent | None = None
    prepayment_percent: Percent | None = None
    prepayment_line_amount: Money | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> LineUpdateData:
        changes = (
            self.quantity,
            self.unit_price,
            self.line_discount_percent,
            self.prepayment_percent,
            self.prepayment_line_amount,
        )
        if all(value is None for value in changes):
            raise PydanticCustomError(
                "nothing_to_update",
                "must set at least one of quantity, unit_price, line_discount_percent, "
                "prepayment_percent, prepayment_line_amount",
            )
        return self

    def to_domain(self) -> domain.LineUpdate:
        return domain.LineUpdate(
            line_no=self.line_no,
            quantity=self.quantity,
            unit_price=self.unit_price,
            line_discount_percent=self.line_discount_percent,
            prepayment_percent=self.prepayment_percent,
            prepayment_line_amount=self.prepayment_line_amount,
        )


class InvoiceLineData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line_no: LineNo
    quantity: Quantity

    def to_domain(self) -> domain.InvoiceLine:
        return domain.InvoiceLine(line_no=self.line_no, quantity=self.quantity)
