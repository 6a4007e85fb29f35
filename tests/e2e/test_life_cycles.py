"""Whole order life cycles through the running service: every event the contract promises, in
its order, with the amounts worked out by hand to the cent.

The sales order runs on SQLite and on PostgreSQL, the purchase order on SQLite.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import Client, ServiceProcess, assert_matches, ledger, unique

pytestmark = pytest.mark.e2e

POSTED = ["order.amended", "order.state_changed"]
ORDER_DATE = "2026-11-27"


def state_change(event: Any, source: str, dest: str, trigger: str) -> None:
    assert event.type == "order.state_changed"
    assert_matches(event.data, {"from": source, "to": dest, "trigger": trigger, "state": dest})


# --- sales ---------------------------------------------------------------------------------


def publish_party_with_cli(service: ServiceProcess, party: dict[str, Any], tmp: Path) -> str:
    """`prepay publish` as a user runs it: the installed entry point, data from a file."""
    data_file = tmp / "party.json"
    data_file.write_text(json.dumps(party))
    script = Path(sys.executable).with_name("prepay")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "workers.cli"]
    done = subprocess.run(
        [*command, "publish", "party.upsert", "--data", f"@{data_file}"],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert uuid.UUID(printed)
    return printed


def run_sales_life_cycle(service: ServiceProcess, client: Client, tmp: Path | None) -> None:
    customer, order_id = unique("C"), unique("SO")
    party = {
        "party_id": customer,
        "side": "sales",
        "name": "Customer with 30 % prepayment",
        "prepayment_percent": "30",
        "payment_terms": {"due_days": 14},
    }
    if tmp is not None:
        publish_party_with_cli(service, party, tmp)
    else:
        client.send("party.upsert", party)
    service.wait_for_party(customer)

    # Line 1: 10 x 12.35 = 123.50, prepayment 30 % = 37.05 (VAT 19 %).
    # Line 2: 3 x 99.99 = 299.97 less 10 % = 269.973 -> 269.97, 30 % = 80.991 -> 80.99 (VAT 7 %).
    (created,) = client.run(
        "order.create",
        {
            "order_id": order_id,
            "side": "sales",
            "party_id": customer,
            "currency": "EUR",
            "order_date": ORDER_DATE,
            "lines": [
                {"line_no": 1, "item_id": "A", "description": "Bolts", "quantity": "10",
                 "unit_price": "12.35", "vat_percent": "19"},
                {"line_no": 2, "item_id": "B", "description": "Drills", "quantity": "3",
                 "unit_price": "99.99", "line_discount_percent": "10", "vat_percent": "7"},
            ],
        },
        ["order.created"],
    )  # fmt: skip
    assert_matches(
        created.data,
        {
            "order_id": order_id,
            "state": "draft",
            "prepayment_percent": "30",
            "lines": [
                {"line_no": 1, "line_amount": "123.50", "prepayment_line_amount": "37.05"},
                {"line_no": 2, "line_amount": "269.97", "prepayment_line_amount": "80.99"},
            ],
            "totals": {"line_amount": "393.47", "prepayment_line_amount": "118.04"},
        },
    )

    # One line per VAT rate (compressed). 19 %: 37.05, VAT 7.0395 -> 7.04, gross 44.09.
    # 7 %: 80.99, VAT 5.6693 -> 5.67, gross 86.66. Totals 118.04 + 12.71 = 130.75.
    posted, amended, moved = client.run(
        "prepayment.invoice", {"order_id": order_id}, ["prepayment_invoice.posted", *POSTED]
    )
    assert_matches(
        posted.data,
        {
            "order_id": order_id,
            "state": "prepayment_invoiced",
            "document_type": "prepayment_invoice",
            "side": "sales",
            "posting_date": ORDER_DATE,
            "due_date": "2026-12-11",  # 14 days
            "currency": "EUR",
            "lines": [
                {"account": "2350", "vat_percent": "19", "net": "37.05", "vat": "7.04",
                 "gross": "44.09", "is_deduction": False},
                {"account": "2350", "vat_percent": "7", "net": "80.99", "vat": "5.67",
                 "gross": "86.66", "is_deduction": False},
            ],
            "totals": {"net": "118.04", "vat": "12.71", "gross": "130.75"},
            "amount_due": "130.75",
        },
    )  # fmt: skip
    first_invoice = posted.data["document_no"]
    assert re.fullmatch(r"PPI-\d{6}", first_invoice)
    # Receivable against the prepayment liability and the VAT owed.
    assert ledger(posted) == {
        "1200": (D("130.75"), D("0")),
        "2350": (D("0"), D("118.04")),
        "2510": (D("0"), D("12.71")),
    }
    assert_matches(amended.data["totals"], {"prepayment_invoiced": "118.04"})
    state_change(moved, "draft", "prepayment_invoiced", "invoice_prepayment")

    # Line 1 to 14 x 12.35 = 172.90; prepayment 30 % = 51.87, of which 37.05 is invoiced.
    amended, moved = client.run(
        "order.amend",
        {"order_id": order_id, "update_lines": [{"line_no": 1, "quantity": "14"}]},
        POSTED,
    )
    assert_matches(
        amended.data["lines"][0],
        {"quantity": "14", "line_amount": "172.90", "prepayment_line_amount": "51.87",
         "prepayment_invoiced": "37.05"},
    )  # fmt: skip
    state_change(moved, "prepayment_invoiced", "amended", "amend")

    # The difference 51.87 - 37.05 = 14.82. VAT over the whole 19 % group: 51.87 x 19 % =
    # 9.8553 -> 9.86, less the 7.04 invoiced = 2.82; gross 17.64.
    posted, amended, moved = client.run(
        "prepayment.invoice", {"order_id": order_id}, ["prepayment_invoice.posted", *POSTED]
    )
    assert_matches(
        posted.data,
        {
            "lines": [{"vat_percent": "19", "net": "14.82", "vat": "2.82", "gross": "17.64"}],
            "totals": {"net": "14.82", "vat": "2.82", "gross": "17.64"},
            "amount_due": "17.64",
        },
    )
    second_invoice = posted.data["document_no"]
    assert second_invoice != first_invoice
    assert_matches(amended.data["lines"][0], {"prepayment_invoiced": "51.87"})
    state_change(moved, "amended", "prepayment_invoiced", "invoice_prepayment")

    # 130.75 + 17.64 = 148.39 pays both invoices, oldest first.
    recorded, moved = client.run(
        "payment.record",
        {"order_id": order_id, "payment_id": "PAY-1", "amount": "148.39", "currency": "EUR",
         "received_date": "2026-12-01"},
        ["payment.recorded", "order.state_changed"],
    )  # fmt: skip
    assert_matches(
        recorded.data,
        {
            "payment_id": "PAY-1",
            "amount": "148.39",
            "applied": [
                {"document_no": first_invoice, "amount": "130.75"},
                {"document_no": second_invoice, "amount": "17.64"},
            ],
            "unapplied": "0",
            "prepayment_outstanding": "0",
            "state": "paid",
        },
    )
    state_change(moved, "prepayment_invoiced", "paid", "record_payment")

    # One of line 2's three drills: 269.97 / 3 = 89.99, VAT 7 % = 6.2993 -> 6.30.
    # Deducted: 80.99 / 3 = 26.9967 -> 27.00, with VAT 5.67 x 27.00 / 80.99 = 1.8902 -> 1.89.
    # Due 96.29 - 28.89 = 67.40.
    posted, amended, moved = client.run(
        "order.invoice",
        {"order_id": order_id, "lines": [{"line_no": 2, "quantity": "1"}]},
        ["invoice.posted", *POSTED],
    )
    assert_matches(
        posted.data,
        {
            "document_type": "invoice",
            "lines": [
                {"account": "4000", "order_line_no": 2, "quantity": "1", "net": "89.99",
                 "vat": "6.30", "gross": "96.29", "is_deduction": False},
                {"account": "2350", "vat_percent": "7", "net": "-27.00", "vat": "-1.89",
                 "gross": "-28.89", "is_deduction": True},
            ],
            "totals": {"net": "62.99", "vat": "4.41", "gross": "67.40"},
            "prepayment_deducted": {"net": "27.00", "vat": "1.89", "gross": "28.89"},
            "amount_due": "67.40",
        },
    )  # fmt: skip
    assert ledger(posted) == {
        "4000": (D("0"), D("89.99")),
        "2510": (D("0"), D("4.41")),  # 6.30 due less 1.89 deducted
        "2350": (D("27.00"), D("0")),
        "1200": (D("67.40"), D("0")),
    }
    assert_matches(
        amended.data["lines"][1],
        {"quantity_invoiced": "1", "amount_invoiced": "89.99", "prepayment_deducted": "27.00"},
    )
    state_change(moved, "paid", "partially_invoiced", "invoice")

    # The rest. Line 1: 172.90, VAT 32.851 -> 32.85; line 2: 269.97 - 89.99 = 179.98, VAT
    # cumulative over the 7 % group: 269.97 x 7 % = 18.8979 -> 18.90 less the 6.30 already
    # invoiced = 12.60. Deducted what is left: 19 %: 51.87 + VAT 7.04 + 2.82 = 9.86;
    # 7 %: 80.99 - 27.00 = 53.99 + VAT 5.67 - 1.89 = 3.78.
    # Due 205.75 + 192.58 - 61.73 - 57.77 = 278.83.
    posted, amended, moved = client.run(
        "order.invoice", {"order_id": order_id}, ["invoice.posted", *POSTED]
    )
    assert_matches(
        posted.data,
        {
            "lines": [
                {"order_line_no": 1, "quantity": "14", "net": "172.90", "vat": "32.85",
                 "gross": "205.75", "is_deduction": False},
                {"order_line_no": 2, "quantity": "2", "net": "179.98", "vat": "12.60",
                 "gross": "192.58", "is_deduction": False},
                {"vat_percent": "19", "net": "-51.87", "vat": "-9.86", "gross": "-61.73",
                 "is_deduction": True},
                {"vat_percent": "7", "net": "-53.99", "vat": "-3.78", "gross": "-57.77",
                 "is_deduction": True},
            ],
            "totals": {"net": "247.02", "vat": "31.81", "gross": "278.83"},
            "prepayment_deducted": {"net": "105.86", "vat": "13.64", "gross": "119.50"},
            "amount_due": "278.83",
            "state": "final_invoiced",
        },
    )  # fmt: skip
    assert ledger(posted) == {
        "4000": (D("0"), D("352.88")),
        "2510": (D("0"), D("31.81")),
        "2350": (D("105.86"), D("0")),
        "1200": (D("278.83"), D("0")),
    }
    assert_matches(
        amended.data,
        {
            "lines": [
                {"quantity_invoiced": "14", "prepayment_deducted": "51.87"},
                {"quantity_invoiced": "3", "prepayment_deducted": "80.99"},
            ],
            "totals": {"prepayment_invoiced": "132.86", "prepayment_deducted": "132.86",
                       "prepayment_paid": "148.39", "prepayment_outstanding": "0"},
        },
    )  # fmt: skip
    state_change(moved, "partially_invoiced", "final_invoiced", "invoice")
    # Everything billed: 148.39 + 67.40 + 278.83 = 494.62 = 442.87 net + 51.75 VAT.

    shown = service.cli("order", "show", order_id, "--json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["order"]["state"] == "final_invoiced"
    assert [d["document_type"] for d in report["documents"]] == [
        "prepayment_invoice", "prepayment_invoice", "invoice", "invoice"
    ]  # fmt: skip
    assert_matches(report["payments"], [{"payment_id": "PAY-1", "unapplied": "0"}])
    answered = [e for e in client.sink.events if e.subject == order_id]
    assert [h["type"] for h in report["history"]] == [e.type for e in answered]
    assert [h["event_id"] for h in report["history"]] == [e.id for e in answered]
    assert len(answered) == 17
    table = service.cli("order", "show", order_id)
    assert table.exit_code == 0 and "final_invoiced" in table.output


def test_sales_order_life_cycle_on_sqlite(
    sqlite_service: ServiceProcess, client: Client, tmp_path: Path
) -> None:
    run_sales_life_cycle(sqlite_service, client, tmp_path)


def test_sales_order_life_cycle_on_postgresql(postgres_service: ServiceProcess) -> None:
    with postgres_service.client() as client:
        run_sales_life_cycle(postgres_service, client, None)


# --- purchase ------------------------------------------------------------------------------


def test_purchase_order_life_cycle(sqlite_service: ServiceProcess, client: Client) -> None:
    vendor, order_id = unique("V"), unique("PO")
    client.send(
        "party.upsert",
        {"party_id": vendor, "side": "purchase", "name": "Vendor", "prepayment_percent": "50"},
    )
    sqlite_service.wait_for_party(vendor)

    # Prices include VAT (19 %). Line 1: 4 x 250.00 = 1000.00, 50 % = 500.00.
    # Line 2: 6 x 15.50 = 93.00, 50 % = 46.50.
    client.run(
        "order.create",
        {
            "order_id": order_id,
            "side": "purchase",
            "party_id": vendor,
            "currency": "EUR",
            "order_date": ORDER_DATE,
            "prices_include_vat": True,
            "lines": [
                {"line_no": 1, "item_id": "X", "description": "Pump", "quantity": "4",
                 "unit_price": "250.00", "vat_percent": "19"},
                {"line_no": 2, "item_id": "Y", "description": "Hose", "quantity": "6",
                 "unit_price": "15.50", "vat_percent": "19"},
            ],
        },
        ["order.created"],
    )  # fmt: skip

    # 546.50 gross; VAT contained: 546.50 - 546.50 / 1.19 = 87.2563 -> 87.26; net 459.24.
    # A vendor prepayment is an asset (1350) and input VAT (1510) against the payable (2000).
    posted, _, moved = client.run(
        "prepayment.invoice",
        {"order_id": order_id, "external_document_no": "VINV-1"},
        ["prepayment_invoice.posted", *POSTED],
    )
    assert_matches(
        posted.data,
        {
            "side": "purchase",
            "external_document_no": "VINV-1",
            "due_date": ORDER_DATE,
            "lines": [{"account": "1350", "net": "459.24", "vat": "87.26", "gross": "546.50"}],
            "amount_due": "546.50",
        },
    )
    assert re.fullmatch(r"PPPI-\d{6}", posted.data["document_no"])
    assert ledger(posted) == {
        "1350": (D("459.24"), D("0")),
        "1510": (D("87.26"), D("0")),
        "2000": (D("0"), D("546.50")),
    }
    state_change(moved, "draft", "prepayment_invoiced", "invoice_prepayment")

    # Line 2 to 10 hoses: 155.00, 50 % = 77.50, 31.00 more to invoice.
    _, moved = client.run(
        "order.amend",
        {"order_id": order_id, "update_lines": [{"line_no": 2, "quantity": "10"}]},
        POSTED,
    )
    state_change(moved, "prepayment_invoiced", "amended", "amend")

    # The group now carries 577.50 of prepayment: VAT 577.50 - 577.50 / 1.19 = 92.2059 ->
    # 92.21, less 87.26 invoiced = 4.95; net 26.05.
    posted, _, moved = client.run(
        "prepayment.invoice",
        {"order_id": order_id, "external_document_no": "VINV-2"},
        ["prepayment_invoice.posted", *POSTED],
    )
    assert_matches(
        posted.data,
        {"lines": [{"net": "26.05", "vat": "4.95", "gross": "31.00"}], "amount_due": "31.00"},
    )
    state_change(moved, "amended", "prepayment_invoiced", "invoice_prepayment")

    recorded, moved = client.run(
        "payment.record",
        {"order_id": order_id, "payment_id": "OUT-1", "amount": "577.50", "currency": "EUR"},
        ["payment.recorded", "order.state_changed"],
    )
    assert_matches(recorded.data, {"unapplied": "0", "prepayment_outstanding": "0"})
    state_change(moved, "prepayment_invoiced", "paid", "record_payment")

    # One pump: 250.00 gross, VAT 250.00 - 250.00 / 1.19 = 39.9160 -> 39.92.
    # Line 1's prepayment VAT: 87.26 spread over 500.00 and 46.50 -> 79.84 and 7.42.
    # Deducted 500.00 / 4 = 125.00 with VAT 79.84 x 125 / 500 = 19.96; due 125.00.
    posted, _, moved = client.run(
        "order.invoice",
        {"order_id": order_id, "external_document_no": "VINV-3",
         "lines": [{"line_no": 1, "quantity": "1"}]},
        ["invoice.posted", *POSTED],
    )  # fmt: skip
    assert_matches(
        posted.data,
        {
            "external_document_no": "VINV-3",
            "lines": [
                {"account": "5000", "quantity": "1", "net": "210.08", "vat": "39.92",
                 "gross": "250.00"},
                {"account": "1350", "net": "-105.04", "vat": "-19.96", "gross": "-125.00",
                 "is_deduction": True},
            ],
            "totals": {"net": "105.04", "vat": "19.96", "gross": "125.00"},
            "prepayment_deducted": {"net": "105.04", "vat": "19.96", "gross": "125.00"},
        },
    )  # fmt: skip
    assert re.fullmatch(r"PINV-\d{6}", posted.data["document_no"])
    assert ledger(posted) == {
        "5000": (D("210.08"), D("0")),
        "1510": (D("19.96"), D("0")),
        "1350": (D("0"), D("105.04")),
        "2000": (D("0"), D("125.00")),
    }
    state_change(moved, "paid", "partially_invoiced", "invoice")

    # The rest: 750.00 + 155.00 = 905.00 gross. Item VAT is cumulative per VAT group: the
    # group's 1155.00 invoiced in all carry 1155.00 - 1155.00 / 1.19 = 184.4118 -> 184.41,
    # less the 39.92 of the first invoice = 144.49, spread 144.49 x 750 / 905 = 119.7431 ->
    # 119.74 and 24.75. Deducted: 375.00 + 77.50 = 452.50 with VAT (79.84 - 19.96) +
    # (7.42 + 4.95) = 72.25. Due 905.00 - 452.50 = 452.50.
    posted, _, moved = client.run(
        "order.invoice",
        {"order_id": order_id, "external_document_no": "VINV-4"},
        ["invoice.posted", *POSTED],
    )
    assert_matches(
        posted.data,
        {
            "lines": [
                {"order_line_no": 1, "quantity": "3", "net": "630.26", "vat": "119.74",
                 "gross": "750.00"},
                {"order_line_no": 2, "quantity": "10", "net": "130.25", "vat": "24.75",
                 "gross": "155.00"},
                {"net": "-380.25", "vat": "-72.25", "gross": "-452.50", "is_deduction": True},
            ],
            "totals": {"net": "380.26", "vat": "72.24", "gross": "452.50"},
            "amount_due": "452.50",
        },
    )  # fmt: skip
    assert ledger(posted) == {
        "5000": (D("760.51"), D("0")),
        "1510": (D("72.24"), D("0")),  # 144.49 paid less 72.25 reclaimed with the prepayment
        "1350": (D("0"), D("380.25")),
        "2000": (D("0"), D("452.50")),
    }
    state_change(moved, "partially_invoiced", "final_invoiced", "invoice")
    # All VAT: 87.26 + 4.95 + 19.96 + 72.24 = 184.41, the VAT of 1155.00 invoiced at once.
    report = sqlite_service.report(order_id)
    assert report is not None
    assert [d["external_document_no"] for d in report["documents"]] == [
        "VINV-1", "VINV-2", "VINV-3", "VINV-4"
    ]  # fmt: skip
