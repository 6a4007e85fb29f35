"""The stream the fault tests send: orders of ten commands each, built against the reference
model (so each payment pays what the model says is open), in three shapes: a sales order paid
in two parts and invoiced in two, a sales order whose prepayment is credited and invoiced
again, and a purchase order with the vendor's document numbers. Each shape also carries
commands the domain refuses, so rejections must come out the same as on a clean worker."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from e2e.reference import Model, Step

DAY = "2026-11-27"
COMMANDS_PER_ORDER = 10


class Plan:
    """One order's commands, each applied to the model as it is planned."""

    def __init__(self, model: Model, order_id: str) -> None:
        self.model = model
        self.order_id = order_id
        self.steps: list[Step] = []

    def step(self, command_type: str, **data: Any) -> list[Any]:
        data = {"order_id": self.order_id, **data}
        command_id = str(uuid.uuid4())
        self.steps.append((command_type, data, command_id))
        return self.model.apply(command_type, data, command_id, may_refuse=True).events

    def outstanding(self) -> str:
        order = self.model.uow.store.orders[self.order_id]
        return str(order.prepayment_outstanding)

    def half_outstanding(self) -> str:
        order = self.model.uow.store.orders[self.order_id]
        return str((order.prepayment_outstanding / 2).quantize(Decimal("0.01")))


def parties(model: Model, tag: str) -> tuple[list[Step], str, str]:
    """A customer and a vendor for the stream; returns their steps and ids."""
    customer, vendor = f"C-{tag}", f"V-{tag}"
    steps: list[Step] = []
    for party in (
        {"party_id": customer, "side": "sales", "name": "Customer", "prepayment_percent": "30"},
        {"party_id": vendor, "side": "purchase", "name": "Vendor", "prepayment_percent": "20",
         "payment_terms": {"due_days": 14}},
    ):  # fmt: skip
        command_id = str(uuid.uuid4())
        steps.append(("party.upsert", party, command_id))
        model.apply("party.upsert", party, command_id)
    return steps, customer, vendor


def _lines(index: int) -> list[dict[str, Any]]:
    return [
        {"line_no": 1, "item_id": "A", "description": "Widget", "quantity": str(2 + index % 5),
         "unit_price": f"{10 + index % 17}.{index % 100:02d}", "vat_percent": "19"},
        {"line_no": 2, "item_id": "B", "quantity": str(3 + index % 3), "unit_price": "7.35",
         "line_discount_percent": str(index % 4 * 5), "vat_percent": "7"},
    ]  # fmt: skip


def sales_paid_in_parts(plan: Plan, customer: str, index: int) -> None:
    percent = ["10", "25", "30", "50"][index % 4]
    plan.step("order.create", side="sales", party_id=customer, currency="EUR", order_date=DAY,
              prepayment_percent=percent, lines=_lines(index))  # fmt: skip
    plan.step("order.amend", add_lines=[
        {"line_no": 3, "item_id": "C", "quantity": "1", "unit_price": "20.00", "vat_percent": "19"}
    ])  # fmt: skip
    plan.step("prepayment.invoice")
    plan.step("payment.record", payment_id="P1", amount=plan.half_outstanding(), currency="EUR")
    plan.step("payment.record", payment_id="P2", amount=plan.outstanding(), currency="EUR")
    plan.step("order.invoice", lines=[{"line_no": 1, "quantity": "1"}])
    plan.step("order.cancel")  # refused: partly invoiced
    plan.step("order.invoice")
    plan.step("payment.record", payment_id="P3", amount="1.00", currency="EUR")  # unapplied
    plan.step("prepayment.invoice")  # refused: final invoiced


def sales_credited(plan: Plan, customer: str, index: int) -> None:
    plan.step("order.create", side="sales", party_id=customer, currency="EUR", order_date=DAY,
              compress_prepayment=index % 2 == 0, prices_include_vat=index % 3 == 0,
              lines=_lines(index))  # fmt: skip
    plan.step("prepayment.invoice")
    plan.step("payment.record", payment_id="P1", amount=plan.half_outstanding(), currency="EUR")
    plan.step("prepayment.credit")
    plan.step("prepayment.set_total", amount=str(10 + index % 7))
    plan.step("prepayment.invoice")
    plan.step("payment.record", payment_id="P2", amount=plan.outstanding(), currency="EUR")
    plan.step("order.amend", update_lines=[{"line_no": 2, "quantity": str(4 + index % 3)}])
    plan.step("prepayment.invoice")
    plan.step("order.cancel")  # refused: the prepayment must be credited first


def purchase(plan: Plan, vendor: str, index: int) -> None:
    ext = plan.order_id
    plan.step("order.create", side="purchase", party_id=vendor, currency="EUR", order_date=DAY,
              lines=_lines(index))  # fmt: skip
    plan.step("prepayment.invoice", external_document_no=f"{ext}-1")
    plan.step("prepayment.invoice", external_document_no=f"{ext}-2")  # refused: nothing left
    plan.step("payment.record", payment_id="P1", amount=plan.outstanding(), currency="EUR")
    plan.step("order.invoice", lines=[{"line_no": 1, "quantity": "1"}],
              external_document_no=f"{ext}-3")  # fmt: skip
    plan.step("order.invoice", lines=[{"line_no": 2, "quantity": "1"}],
              external_document_no=f"{ext}-3")  # refused: the vendor's number is used  # fmt: skip
    plan.step("order.invoice", lines=[{"line_no": 2, "quantity": "1"}],
              external_document_no=f"{ext}-4")  # fmt: skip
    plan.step("order.amend", prepayment_percent="40")
    plan.step("prepayment.invoice", external_document_no=f"{ext}-5")
    plan.step("order.invoice", external_document_no=f"{ext}-6")  # refused: prepayment unpaid


def orders(model: Model, count: int, tag: str | None = None) -> tuple[list[Step], list[list[Step]]]:
    """(the parties' setup steps, one plan of COMMANDS_PER_ORDER steps per order)."""
    tag = tag or uuid.uuid4().hex[:6].upper()
    setup, customer, vendor = parties(model, tag)
    plans = []
    for index in range(count):
        plan = Plan(model, f"SO-{tag}-{index:05d}")
        shape = index % 3
        if shape == 0:
            sales_paid_in_parts(plan, customer, index)
        elif shape == 1:
            sales_credited(plan, customer, index)
        else:
            purchase(plan, vendor, index)
        assert len(plan.steps) == COMMANDS_PER_ORDER
        plans.append(plan.steps)
    return setup, plans
