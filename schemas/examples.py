"""One realistic example of every command `data` (wire form) and every event (domain form).

The AsyncAPI document shows them and the tests run them, so the documented examples stay true.
The story: sales order SO-1001 for customer C-100, a bike and four helmets, 30 % prepayment,
25 % VAT; the prepayment invoice PPI-000001 is paid, then the final invoice deducts it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

from workflows.events import Event

ORDER_ID = "SO-1001"


def command_examples() -> dict[str, tuple[str, dict[str, Any]]]:
    """Command type -> (subject, data) as upstream sends them; a fresh copy on every call."""
    line = {"item_id": "BIKE-200", "description": "City bike", "quantity": "2"}
    return {
        "party.upsert": (
            "C-100",
            {
                "party_id": "C-100",
                "side": "sales",
                "name": "Cycle Shop Ltd",
                "prepayment_percent": "30",
                "price_group": "RETAIL",
                "payment_terms": {"due_days": 14, "discount_days": 7, "discount_percent": "2"},
                "check_prepayment_when_posting": True,
            },
        ),
        "prepayment_rule.upsert": (
            "HELMET-10",
            {
                "side": "sales",
                "item_id": "HELMET-10",
                "applies_to": "price_group",
                "code": "RETAIL",
                "percent": "50",
                "starting_date": "2026-01-01",
                "ending_date": "2026-12-31",
            },
        ),
        "order.create": (
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "side": "sales",
                "party_id": "C-100",
                "currency": "EUR",
                "order_date": "2026-11-27",
                "prepayment_percent": "30",
                "lines": [
                    {"line_no": 10000, **line, "unit_price": "500.00", "vat_percent": "25"},
                    {
                        "line_no": 20000,
                        "item_id": "HELMET-10",
                        "description": "Helmet",
                        "quantity": "4",
                        "unit_price": "25.20",
                        "vat_percent": "25",
                    },
                ],
            },
        ),
        "order.amend": (
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "add_lines": [
                    {"line_no": 30000, "item_id": "LOCK-1", "quantity": "1", "unit_price": "35"}
                ],
                "update_lines": [{"line_no": 20000, "quantity": "3"}],
                "remove_lines": [],
            },
        ),
        "prepayment.set_total": (ORDER_ID, {"order_id": ORDER_ID, "amount": "330.24"}),
        "prepayment.invoice": (ORDER_ID, {"order_id": ORDER_ID, "posting_date": "2026-11-28"}),
        "prepayment.credit": (ORDER_ID, {"order_id": ORDER_ID, "lines": [10000, 20000]}),
        "payment.record": (
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "payment_id": "PAY-77",
                "amount": "412.80",
                "currency": "EUR",
                "document_no": "PPI-000001",
                "received_date": "2026-12-01",
            },
        ),
        "order.invoice": (
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "posting_date": "2026-12-10",
                "lines": [{"line_no": 10000, "quantity": "2"}, {"line_no": 20000, "quantity": "4"}],
            },
        ),
        "order.cancel": (ORDER_ID, {"order_id": ORDER_ID, "reason": "customer withdrew"}),
    }


def _order_line(line_no: int, item: str, quantity: D, price: D, amount: D) -> dict[str, Any]:
    prepayment = (amount * D("0.30")).quantize(D("0.01"))
    vat = (prepayment * D("0.25")).quantize(D("0.01"))
    return {
        "line_no": line_no,
        "item_id": item,
        "description": item.split("-")[0].title(),
        "quantity": quantity,
        "unit_price": price,
        "line_discount_percent": D(0),
        "vat_percent": D(25),
        "line_amount": amount,
        "prepayment_percent": D(30),
        "prepayment_line_amount": prepayment,
        "prepayment_invoiced": prepayment,
        "prepayment_vat_invoiced": vat,
        "prepayment_deducted": D("0.00"),
        "prepayment_vat_deducted": D("0.00"),
        "quantity_invoiced": D(0),
        "amount_invoiced": D("0.00"),
    }


def _document(no: str, kind: str, lines: list[dict[str, Any]], **rest: Any) -> dict[str, Any]:
    totals = {k: sum((line[k] for line in lines), D("0.00")) for k in ("net", "vat", "gross")}
    return {
        "order_id": ORDER_ID,
        "state": rest.pop("state"),
        "document_no": no,
        "document_type": kind,
        "side": "sales",
        "party_id": "C-100",
        "posting_date": rest.pop("posting_date"),
        "due_date": rest.pop("due_date"),
        "currency": "EUR",
        "prices_include_vat": False,
        "external_document_no": None,
        "payment_discount_date": None,
        "payment_discount_percent": D(0),
        "lines": lines,
        "totals": totals,
        "prepayment_deducted": rest.pop("prepayment_deducted", None),
        "amount_due": totals["gross"],
        "ledger": rest.pop("ledger"),
    }


def _doc_line(description: str, line_no: int | None, net: str, vat: str, **flags: Any) -> Any:
    account = flags.get("account", "2310")
    return {
        "description": description,
        "account": account,
        "order_line_no": line_no,
        "quantity": flags.get("quantity"),
        "net": D(net),
        "vat_percent": D(25),
        "vat": D(vat),
        "gross": D(net) + D(vat),
        "is_deduction": flags.get("is_deduction", False),
    }


def _entry(account: str, debit: str, credit: str) -> dict[str, Any]:
    return {"account": account, "debit": D(debit), "credit": D(credit)}


def event_examples() -> dict[str, Event]:
    """Event type -> an event as the domain emits it (Decimal and date values)."""
    prepayment_line = _doc_line("Prepayment 30 % of SO-1001", None, "330.24", "82.56")
    invoice_lines = [
        _doc_line("City bike", 10000, "1000.00", "250.00", account="6110", quantity=D(2)),
        _doc_line("Helmet", 20000, "100.80", "25.20", account="6110", quantity=D(4)),
        _doc_line("Prepayment deducted", None, "-330.24", "-82.56", is_deduction=True),
    ]
    order = {
        "order_id": ORDER_ID,
        "state": "prepayment_invoiced",
        "side": "sales",
        "party_id": "C-100",
        "currency": "EUR",
        "order_date": date(2026, 11, 27),
        "posting_date": date(2026, 11, 27),
        "prices_include_vat": False,
        "prepayment_percent": D(30),
        "compress_prepayment": True,
        "check_prepayment_when_posting": True,
        "lines": [
            _order_line(10000, "BIKE-200", D(2), D("500.00"), D("1000.00")),
            _order_line(20000, "HELMET-10", D(4), D("25.20"), D("100.80")),
        ],
        "totals": {
            "line_amount": D("1100.80"),
            "prepayment_line_amount": D("330.24"),
            "prepayment_invoiced": D("330.24"),
            "prepayment_deducted": D("0.00"),
            "prepayment_paid": D("0.00"),
            "prepayment_outstanding": D("412.80"),
            "unapplied_credit": D("0.00"),
        },
    }
    created = {**order, "state": "draft"}
    dates = {"posting_date": date(2026, 11, 28), "due_date": date(2026, 12, 12)}
    final_dates = {"posting_date": date(2026, 12, 10), "due_date": date(2026, 12, 24)}
    deducted = {"net": D("330.24"), "vat": D("82.56"), "gross": D("412.80")}
    events = [
        Event("order.created", ORDER_ID, created),
        Event("order.amended", ORDER_ID, order),
        Event(
            "order.state_changed",
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "state": "prepayment_invoiced",
                "from": "draft",
                "to": "prepayment_invoiced",
                "trigger": "invoice_prepayment",
            },
        ),
        Event(
            "prepayment_invoice.posted",
            ORDER_ID,
            _document(
                "PPI-000001",
                "prepayment_invoice",
                [prepayment_line],
                state="prepayment_invoiced",
                ledger=[
                    _entry("1200", "412.80", "0"),
                    _entry("2310", "0", "330.24"),
                    _entry("2610", "0", "82.56"),
                ],
                **dates,
            ),
        ),
        Event(
            "prepayment_credit_memo.posted",
            ORDER_ID,
            _document(
                "PPCM-000001",
                "prepayment_credit_memo",
                [prepayment_line],
                state="amended",
                ledger=[
                    _entry("2310", "330.24", "0"),
                    _entry("2610", "82.56", "0"),
                    _entry("1200", "0", "412.80"),
                ],
                **dates,
            ),
        ),
        Event(
            "payment.recorded",
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "state": "paid",
                "payment_id": "PAY-77",
                "amount": D("412.80"),
                "currency": "EUR",
                "received_date": date(2026, 12, 1),
                "applied": [{"document_no": "PPI-000001", "amount": D("412.80")}],
                "unapplied": D("0.00"),
                "prepayment_outstanding": D("0.00"),
            },
        ),
        Event(
            "invoice.posted",
            ORDER_ID,
            _document(
                "INV-000001",
                "invoice",
                invoice_lines,
                state="final_invoiced",
                prepayment_deducted=deducted,
                ledger=[
                    _entry("1200", "963.20", "0"),
                    _entry("2310", "330.24", "0"),
                    _entry("6110", "0", "1100.80"),
                    _entry("2610", "0", "192.64"),
                ],
                **final_dates,
            ),
        ),
        Event(
            "order.cancelled",
            ORDER_ID,
            {"order_id": ORDER_ID, "state": "cancelled", "reason": "customer withdrew"},
        ),
        Event(
            "command.rejected",
            ORDER_ID,
            {
                "order_id": ORDER_ID,
                "state": "draft",
                "command_id": "0b7e4f2a-5c1d-4e8b-9a3f-2d6c8e1f4a70",
                "command_type": "payment.record",
                "code": "command.invalid",
                "message": "amount: must be a decimal string, not a JSON float",
                "field": "amount",
            },
        ),
    ]
    return {event.type: event for event in events}
