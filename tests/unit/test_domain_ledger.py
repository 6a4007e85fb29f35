"""Balanced ledger entries on every posted document, on the accounts of
workflows/setup.py DEFAULT_ACCOUNTS: sales 2350 prepayment (liability), 1200 receivable,
2510 VAT, 4000 revenue; purchase 1350 prepayment (asset), 2000 payable, 1510 VAT, 5000 expense.
"""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    credit,
    customer,
    data,
    invoice,
    ledger,
    line,
    order,
    pay,
    prepay,
    purchase_order,
    vendor,
)

from workflows.bus import process
from workflows.documents import PostedDocument
from workflows.memory import InMemoryUnitOfWork
from workflows.setup import DEFAULT_ACCOUNTS, PostingAccounts

Z = D("0")


def balanced(document: PostedDocument) -> bool:
    return sum(e.debit for e in document.ledger) == sum(e.credit for e in document.ledger)


@pytest.fixture
def sales(app: Harness) -> Harness:
    """10 x 100.00 at 19 % VAT, 30 %: prepayment 300.00 + 57.00 = 357.00."""
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")))
    return app


@pytest.fixture
def purchase(app: Harness) -> Harness:
    """The same figures bought from vendor V1."""
    app.ok(vendor("V1", "30"), purchase_order(line(1, "10", "100.00", vat="19")))
    return app


def test_a_sales_prepayment_invoice(sales: Harness) -> None:
    sales.ok(prepay())
    document = sales.last_document()
    # the customer owes 357.00; the prepayment is a liability until the goods ship
    assert ledger(document) == {
        "2350": (Z, D("300.00")),
        "2510": (Z, D("57.00")),
        "1200": (D("357.00"), Z),
    }
    assert balanced(document)


def test_a_sales_prepayment_credit_memo_mirrors_the_invoice(sales: Harness) -> None:
    sales.ok(prepay(), credit())
    assert ledger(sales.last_document()) == {
        "2350": (D("300.00"), Z),
        "2510": (D("57.00"), Z),
        "1200": (Z, D("357.00")),
    }
    assert balanced(sales.last_document())


def test_a_sales_final_invoice_releases_the_prepayment(sales: Harness) -> None:
    events = sales.ok(prepay(), pay("357.00"), invoice())
    # revenue 1000.00; VAT 190.00 less 57.00 deducted = 133.00;
    # receivable 1190.00 - 357.00 = 833.00
    assert ledger(sales.last_document()) == {
        "4000": (Z, D("1000.00")),
        "2350": (D("300.00"), Z),
        "2510": (Z, D("133.00")),
        "1200": (D("833.00"), Z),
    }
    assert balanced(sales.last_document())
    assert data(events, "invoice.posted")["ledger"] == [
        {"account": "4000", "debit": Z, "credit": D("1000.00")},
        {"account": "2510", "debit": Z, "credit": D("133.00")},
        {"account": "2350", "debit": D("300.00"), "credit": Z},
        {"account": "1200", "debit": D("833.00"), "credit": Z},
    ]


def test_a_purchase_prepayment_invoice(purchase: Harness) -> None:
    purchase.ok(prepay("PO-1", ext="V-100"))
    document = purchase.last_document("PO-1")
    # we owe the vendor 357.00; the prepayment is an asset, the VAT recoverable
    assert ledger(document) == {
        "1350": (D("300.00"), Z),
        "1510": (D("57.00"), Z),
        "2000": (Z, D("357.00")),
    }
    assert balanced(document)


def test_a_purchase_prepayment_credit_memo_mirrors_the_invoice(purchase: Harness) -> None:
    purchase.ok(prepay("PO-1", ext="V-100"), credit("PO-1", ext="VCM-1"))
    assert ledger(purchase.last_document("PO-1")) == {
        "1350": (Z, D("300.00")),
        "1510": (Z, D("57.00")),
        "2000": (D("357.00"), Z),
    }
    assert balanced(purchase.last_document("PO-1"))


def test_a_purchase_final_invoice_releases_the_prepayment(purchase: Harness) -> None:
    purchase.ok(prepay("PO-1", ext="V-100"), pay("357.00", "PO-1"), invoice("PO-1", ext="V-200"))
    # expense 1000.00; VAT 190.00 - 57.00 = 133.00 recoverable; payable 833.00
    assert ledger(purchase.last_document("PO-1")) == {
        "5000": (D("1000.00"), Z),
        "1350": (Z, D("300.00")),
        "1510": (D("133.00"), Z),
        "2000": (Z, D("833.00")),
    }
    assert balanced(purchase.last_document("PO-1"))


def test_an_invoice_without_prepayment_books_revenue_vat_and_receivable(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "2", "50.00", vat="7")), invoice())
    # 100.00 + 7 % = 107.00
    assert ledger(app.last_document()) == {
        "4000": (Z, D("100.00")),
        "2510": (Z, D("7.00")),
        "1200": (D("107.00"), Z),
    }


def test_prices_including_vat_book_the_net_amounts(app: Harness) -> None:
    app.ok(customer("C1", "100"), order(line(1, "1", "119.00", vat="19"), incl_vat=True))
    app.ok(prepay())
    # VAT round(119.00 - 119.00/1.19) = 19.00; net 100.00
    assert ledger(app.last_document()) == {
        "2350": (Z, D("100.00")),
        "2510": (Z, D("19.00")),
        "1200": (D("119.00"), Z),
    }


def test_the_posting_accounts_are_configurable(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")))
    uow = InMemoryUnitOfWork(app.store)
    uow.posting_accounts = {
        **DEFAULT_ACCOUNTS,
        "sales": PostingAccounts(prepayment="2351", party="1201", vat="2511", revenue="4001"),
    }
    assert not process("cmd-custom", prepay(), uow).rejected
    assert ledger(app.last_document()) == {
        "2351": (Z, D("300.00")),
        "2511": (Z, D("57.00")),
        "1201": (D("357.00"), Z),
    }
    assert app.last_document().lines[0].account == "2351"
