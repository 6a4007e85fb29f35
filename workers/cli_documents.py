"""A posted document as a table, the way an accountant reads it: the header, every line with
net, VAT and gross (prepayment deductions negative), the totals, and the ledger entries.

Takes a document in its event form, amounts as Decimals (`prepay order documents`) or as the
wire's strings (`prepay demo`, from the events)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from workers.cli_render import text

_TITLES = {
    "prepayment_invoice": "Prepayment invoice",
    "prepayment_credit_memo": "Prepayment credit memo",
    "invoice": "Invoice",
    "credit_memo": "Credit memo",
}


def document_table(document: dict[str, Any]) -> Table:
    totals = document["totals"]
    table = Table(box=box.SIMPLE, show_footer=True, show_edge=False, pad_edge=False)
    table.add_column("line", justify="right")
    table.add_column("qty", justify="right")
    table.add_column("description", footer="total")
    table.add_column("account")
    table.add_column("VAT %", justify="right")
    table.add_column("net", justify="right", footer=text(totals["net"]))
    table.add_column("VAT", justify="right", footer=text(totals["vat"]))
    table.add_column("gross", justify="right", footer=text(totals["gross"]))
    for line in document["lines"]:
        table.add_row(
            text(line.get("order_line_no")),
            text(line.get("quantity")),
            line["description"],
            line["account"],
            text(line["vat_percent"]),
            text(line["net"]),
            text(line["vat"]),
            text(line["gross"]),
        )
    return table


def heading(document: dict[str, Any], order_id: str) -> str:
    kind = _TITLES.get(document["document_type"], str(document["document_type"]))
    external = document.get("external_document_no")
    vat = "incl." if document.get("prices_include_vat") else "excl."
    return (
        f"[bold]{kind} {document['document_no']}[/bold] · {document['side']} order {order_id}"
        f" · {document['party_id']}" + (f" · {external}" if external else "") + "\n"
        f"posted {text(document['posting_date'])} · due {text(document['due_date'])} · "
        f"{document['currency']} · prices {vat} VAT"
    )


def footing(document: dict[str, Any]) -> str:
    due = f"amount due {text(document['amount_due'])}"
    deducted = document.get("prepayment_deducted")
    if deducted:
        due += f" after deducting {text(deducted['gross'])} prepaid"
    entries = " · ".join(
        f"{'Dr' if _nonzero(e['debit']) else 'Cr'} {e['account']} "
        f"{text(e['debit'] if _nonzero(e['debit']) else e['credit'])}"
        for e in document["ledger"]
    )
    return f"[bold]{due}[/bold]\nledger: {entries}"


def _nonzero(amount: Any) -> bool:
    return text(amount).strip("-0.") != ""


def render_documents(console: Console, documents: list[dict[str, Any]], order_id: str) -> None:
    for document in documents:
        console.print(heading(document, order_id), highlight=False, soft_wrap=True)
        console.print(document_table(document))
        console.print(footing(document), highlight=False, soft_wrap=True)
        console.print()
