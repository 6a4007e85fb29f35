"""How the CLI shows an order and the dead letters on a terminal (rich tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from schemas.scalars import decimal_text


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _table(title: str, *columns: str, numeric: Sequence[str] = ()) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left")
    return table


def render_order(console: Console, report: dict[str, Any]) -> None:
    order = report["order"]
    console.print(
        f"[bold]{order['side']} order {order['order_id']}[/bold]  state [bold cyan]"
        f"{order['state']}[/bold cyan]  party {order['party_id']}  {order['currency']}  "
        f"ordered {text(order['order_date'])}  posting {text(order['posting_date'])}"
    )
    console.print(
        f"prepayment {text(order['prepayment_percent'])} %  prices include VAT: "
        f"{'yes' if order['prices_include_vat'] else 'no'}  compressed: "
        f"{'yes' if order['compress_prepayment'] else 'no'}  check when posting: "
        f"{'yes' if order['check_prepayment_when_posting'] else 'no'}"
    )
    console.print(_lines_table(order, "Lines", _LINE_COLUMNS))
    console.print(_lines_table(order, "Prepayment by line", _PREPAYMENT_COLUMNS))
    console.print(_totals_table(order["totals"]))
    if report["documents"]:
        console.print(_documents_table(report["documents"]))
    if report["payments"]:
        console.print(_payments_table(report["payments"]))
    console.print(_history_table(report["history"]))


_LINE_COLUMNS = {
    "line": "line_no",
    "item": "item_id",
    "description": "description",
    "qty": "quantity",
    "unit price": "unit_price",
    "disc %": "line_discount_percent",
    "VAT %": "vat_percent",
    "amount": "line_amount",
    "qty invoiced": "quantity_invoiced",
    "amount invoiced": "amount_invoiced",
}
_PREPAYMENT_COLUMNS = {
    "line": "line_no",
    "prepmt %": "prepayment_percent",
    "prepmt amount": "prepayment_line_amount",
    "invoiced": "prepayment_invoiced",
    "VAT invoiced": "prepayment_vat_invoiced",
    "deducted": "prepayment_deducted",
    "VAT deducted": "prepayment_vat_deducted",
}


def _lines_table(order: dict[str, Any], title: str, columns: dict[str, str]) -> Table:
    numeric = [c for c in columns if c not in ("item", "description")]
    table = _table(title, *columns, numeric=numeric)
    for line in order["lines"]:
        table.add_row(*(text(line[name]) for name in columns.values()))
    return table


def _totals_table(totals: dict[str, Any]) -> Table:
    table = _table("Totals", "", "amount", numeric=("amount",))
    for name, value in totals.items():
        table.add_row(name.replace("_", " "), text(value))
    return table


def _documents_table(documents: list[dict[str, Any]]) -> Table:
    columns = ("document", "type", "posted", "due", "external no", "net", "VAT", "gross")
    table = _table("Posted documents", *columns, numeric=("net", "VAT", "gross"))
    for doc in documents:
        totals = doc["totals"]
        table.add_row(
            doc["document_no"],
            doc["document_type"],
            text(doc["posting_date"]),
            text(doc["due_date"]),
            text(doc["external_document_no"]),
            text(totals["net"]),
            text(totals["vat"]),
            text(totals["gross"]),
        )
    return table


def _payments_table(payments: list[dict[str, Any]]) -> Table:
    columns = ("payment", "received", "amount", "applied", "unapplied")
    table = _table("Payments", *columns, numeric=("amount", "unapplied"))
    for payment in payments:
        applied = ", ".join(f"{a['document_no']} {text(a['amount'])}" for a in payment["applied"])
        table.add_row(
            payment["payment_id"],
            text(payment["received_date"]),
            f"{text(payment['amount'])} {payment['currency']}",
            applied,
            text(payment["unapplied"]),
        )
    return table


def _history_table(history: list[dict[str, Any]]) -> Table:
    table = _table("History", "#", "time", "event", "state", "detail", "command", numeric=("#",))
    for entry in history:
        data = entry["data"]
        table.add_row(
            text(entry["sequence"]),
            entry["time"].strftime("%Y-%m-%d %H:%M:%S"),
            entry["type"],
            text(data.get("state")),
            event_detail(entry["type"], data),
            text(entry["correlation_id"])[:8],
        )
    return table


def event_detail(event_type: str, data: dict[str, Any]) -> str:
    """What an event says in a few words (history tables, `prepay tail`)."""
    if event_type == "order.state_changed":
        return f"{data['from']} → {data['to']} ({data['trigger']})"
    if "document_no" in data and "amount_due" in data:
        return f"{data['document_no']} due {text(data['amount_due'])}"
    if event_type == "payment.recorded":
        return f"{data['payment_id']} {text(data['amount'])}, unapplied {text(data['unapplied'])}"
    if event_type == "command.rejected":
        field = f" [{data['field']}]" if data.get("field") else ""
        return f"{data['command_type']} {data['code']}{field}: {data['message']}"
    if event_type == "order.cancelled":
        return str(data.get("reason", ""))
    return ""


def render_dead_letters(console: Console, letters: list[dict[str, Any]], total: int) -> None:
    table = _table(f"Dead letters ({len(letters)} of {total})", "id", "type", "reason", "body")
    for letter in letters:
        table.add_row(
            letter["id"],
            text(letter["type"] or letter["routing_key"]),
            text(letter["reason"]),
            letter["body"],
        )
    console.print(table)
