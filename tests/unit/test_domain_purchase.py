"""The purchase side (spec section 5): the vendor's own document number is required on every
prepayment document and on the final invoice, and never repeats for that vendor."""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    credit,
    customer,
    figures,
    invoice,
    line,
    order,
    pay,
    prepay,
    purchase_order,
    vendor,
)

from workflows.commands import Command


@pytest.fixture
def po(app: Harness) -> Harness:
    """Vendor V1 at 30 %: PO-1 with 10 x 100.00 at 19 % VAT (prepayment 300.00 + 57.00)."""
    app.ok(
        vendor("V1", "30"), vendor("V2", "30"), purchase_order(line(1, "10", "100.00", vat="19"))
    )
    return app


@pytest.mark.parametrize(
    ("prepare", "command"),
    [
        ((), prepay("PO-1")),
        ((prepay("PO-1", ext="V-1"),), credit("PO-1")),
        ((prepay("PO-1", ext="V-1"), pay("357.00", "PO-1")), invoice("PO-1")),
        ((), prepay("PO-1", ext="")),
    ],
)
def test_the_vendors_number_is_required(
    po: Harness, prepare: tuple[Command, ...], command: Command
) -> None:
    po.ok(*prepare)
    error = po.refuse(command)
    assert (error.code, error.field) == (
        "purchase.external_document_no_required",
        "external_document_no",
    )
    assert "PO-1" in error.message


def test_the_vendors_number_is_kept_on_the_document(po: Harness) -> None:
    po.ok(prepay("PO-1", ext="V-1"))
    assert po.last_document("PO-1").external_document_no == "V-1"
    assert po.last_document("PO-1").party_id == "V1"
    assert po.store.external_numbers == {("V1", "V-1")}


def test_the_vendors_number_never_repeats_for_that_vendor(po: Harness) -> None:
    po.ok(purchase_order(line(1, "1", "100.00"), order_id="PO-2"))
    po.ok(prepay("PO-1", ext="V-1"))
    # another order of the same vendor, and another document type
    error = po.refuse(prepay("PO-2", ext="V-1"))
    assert (error.code, error.field) == (
        "purchase.external_document_no_used",
        "external_document_no",
    )
    assert "V1" in error.message and "V-1" in error.message
    error = po.refuse(credit("PO-1", ext="V-1"))
    assert error.code == "purchase.external_document_no_used"


def test_another_vendor_may_use_the_same_number(po: Harness) -> None:
    po.ok(purchase_order(line(1, "1", "100.00"), order_id="PO-2", party_id="V2"))
    po.ok(prepay("PO-1", ext="V-1"), prepay("PO-2", ext="V-1"))
    assert po.store.external_numbers == {("V1", "V-1"), ("V2", "V-1")}


def test_a_refused_document_does_not_use_up_the_number(po: Harness) -> None:
    po.ok(purchase_order(line(1, "1", "100.00", percent="0"), order_id="PO-0"))
    assert po.refuse(prepay("PO-0", ext="V-1")).code == "prepayment.nothing_to_invoice"
    po.ok(prepay("PO-1", ext="V-1"))


def test_sales_documents_need_no_external_number(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "100.00")), prepay())
    assert app.store.external_numbers == set()


def test_receiving_is_gated_like_shipping(po: Harness) -> None:
    assert po.refuse(invoice("PO-1", ext="V-9")).code == "prepayment.not_invoiced"
    po.ok(prepay("PO-1", ext="V-1"))
    assert po.refuse(invoice("PO-1", ext="V-9")).code == "prepayment.unpaid"
    # the refusals did not claim V-9
    po.ok(pay("357.00", "PO-1"), invoice("PO-1", ext="V-9"))
    assert po.state("PO-1") == "final_invoiced"


def test_a_purchase_order_runs_the_same_rules(po: Harness) -> None:
    po.ok(prepay("PO-1", ext="V-1"))
    assert figures(po.last_document("PO-1")) == [(D("300.00"), D("57.00"), D("357.00"))]
    assert po.last_document("PO-1").lines[0].account == "1350"
    po.ok(pay("357.00", "PO-1"), invoice("PO-1", (1, "4"), ext="V-2"))
    # 400.00 + VAT 76.00; deduction round(300.00 x 4/10) = 120.00, VAT 57.00 x 120/300 = 22.80
    assert figures(po.last_document("PO-1")) == [
        (D("400.00"), D("76.00"), D("476.00")),
        (D("-120.00"), D("-22.80"), D("-142.80")),
    ]
    assert po.last_document("PO-1").lines[0].account == "5000"
    assert po.state("PO-1") == "partially_invoiced"
