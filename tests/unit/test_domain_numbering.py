"""Number series (spec section 1): gapless per series, never reused, assigned at posting, so
a refused command takes no number."""

from __future__ import annotations

from builders import (
    D,
    Harness,
    credit,
    customer,
    invoice,
    line,
    order,
    pay,
    prepay,
    purchase_order,
    vendor,
)


def numbers(app: Harness, order_id: str = "SO-1") -> list[str]:
    return [d.document_no for d in app.documents(order_id)]


def test_a_series_runs_across_orders(app: Harness) -> None:
    app.ok(customer("C1", "30"))
    app.ok(order(line(1, "1", "100.00")), order(line(1, "1", "100.00"), order_id="SO-2"))
    app.ok(prepay("SO-1"), prepay("SO-2"))
    assert numbers(app, "SO-1") == ["PPI-000001"]
    assert numbers(app, "SO-2") == ["PPI-000002"]


def test_each_document_type_and_side_has_its_own_series(app: Harness) -> None:
    app.ok(customer("C1", "30"), vendor("V1", "30"))
    app.ok(order(line(1, "1", "100.00")), prepay(), credit(), prepay(), pay("30.00"), invoice())
    assert numbers(app) == ["PPI-000001", "PPCM-000001", "PPI-000002", "INV-000001"]
    app.ok(purchase_order(line(1, "1", "100.00")))
    app.ok(prepay("PO-1", ext="V-1"), credit("PO-1", ext="V-2"), prepay("PO-1", ext="V-3"))
    app.ok(pay("30.00", "PO-1"), invoice("PO-1", ext="V-4"))
    assert numbers(app, "PO-1") == ["PPPI-000001", "PPPCM-000001", "PPPI-000002", "PINV-000001"]
    assert dict(app.store.numbers) == {
        "sales.prepayment_invoice": 2,
        "sales.prepayment_credit_memo": 1,
        "sales.invoice": 1,
        "purchase.prepayment_invoice": 2,
        "purchase.prepayment_credit_memo": 1,
        "purchase.invoice": 1,
    }


def test_a_refused_posting_takes_no_number(app: Harness) -> None:
    app.ok(customer("C1", "30"), customer("C0", "0"))
    app.ok(order(line(1, "1", "100.00")), prepay())  # PPI-000001
    app.ok(order(line(1, "1", "100.00"), order_id="SO-0", party_id="C0"))
    assert app.refuse(prepay("SO-0")).code == "prepayment.nothing_to_invoice"
    assert app.refuse(prepay("SO-1")).code == "order.invalid_state"
    assert app.refuse(invoice("SO-1")).code == "prepayment.unpaid"
    assert app.refuse(credit("SO-0")).code == "order.invalid_state"
    app.ok(order(line(1, "1", "100.00"), order_id="SO-2"), prepay("SO-2"))
    assert numbers(app, "SO-2") == ["PPI-000002"]
    app.ok(pay("30.00", "SO-1"), invoice("SO-1"))
    assert numbers(app, "SO-1") == ["PPI-000001", "INV-000001"]


def test_a_posting_refused_after_planning_takes_no_number(app: Harness) -> None:
    app.ok(customer("C1", "0"))
    app.ok(order(line(1, "1", "100.00", percent="50"), line(2, "-1", "20.00")), prepay())
    app.ok(pay("50.00"))
    # line 2 alone would be due -20.00
    assert app.refuse(invoice("SO-1", (2, "-1"))).code == "invoice.negative_amount_due"
    assert app.store.numbers["sales.invoice"] == 0
    app.ok(invoice())
    assert numbers(app)[-1] == "INV-000001"
    # 100.00 - 20.00 - 50.00 deducted
    assert app.last_document().amount_due == D("30.00")


def test_a_purchase_posting_refused_for_its_vendor_number_takes_no_number(app: Harness) -> None:
    app.ok(vendor("V1", "30"), purchase_order(line(1, "1", "100.00")))
    app.ok(purchase_order(line(1, "1", "100.00"), order_id="PO-2"))
    app.ok(prepay("PO-1", ext="V-1"))
    assert app.refuse(prepay("PO-2", ext="V-1")).code == "purchase.external_document_no_used"
    assert app.refuse(prepay("PO-2")).code == "purchase.external_document_no_required"
    app.ok(prepay("PO-2", ext="V-2"))
    assert numbers(app, "PO-2") == ["PPPI-000002"]
