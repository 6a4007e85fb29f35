"""`workflows.invariants`: a sound order passes every check; each kind of damage a crash, a
lost write or a bug could leave behind is named by its own code."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest
from builders import D, Harness, cancel, credit, customer, invoice, line, order, pay, prepay

from workflows.bus import process
from workflows.documents import DocumentLine, LedgerEntry, PostedDocument
from workflows.events import Event
from workflows.invariants import Violation, check_history, check_order
from workflows.memory import InMemoryUnitOfWork
from workflows.order import Order
from workflows.payments import PaymentRecord

Parts = tuple[Order, list[PostedDocument], list[PaymentRecord], list[Event]]


def sound_order_store(scenario: str) -> Harness:
    """SO-1: 2 x 50.00 at 20 % VAT, 30 % prepayment (36.00 gross), taken to `scenario`."""
    harness = Harness()
    harness.ok(customer("C1", "30"), order(line(1, "2", "50.00", vat="20")), prepay())
    if scenario == "credited":
        harness.ok(pay("18.00"), credit())
    elif scenario == "cancelled":
        harness.ok(credit(), cancel())
    else:
        harness.ok(pay("36.00"))
    if scenario == "partially_invoiced":
        harness.ok(invoice("SO-1", (1, "1")))
    elif scenario == "final_invoiced":
        harness.ok(invoice())
    assert harness.state() == scenario if scenario != "credited" else "amended"
    return harness


def parts(harness: Harness, order_id: str = "SO-1") -> Parts:
    store = harness.store
    return copy.deepcopy(
        (
            store.orders[order_id],
            store.documents[order_id],
            [p for p in store.payments if p.order_id == order_id],
            store.history[order_id],
        )
    )


def violations(found: Parts) -> list[Violation]:
    order, documents, payments, history = found
    return check_order(order, documents, payments) + check_history(
        order, documents, payments, history
    )


def codes(found: Parts) -> set[str]:
    return {v.code for v in violations(found)}


@pytest.fixture(params=["paid", "partially_invoiced", "final_invoiced", "credited", "cancelled"])
def sound(request: pytest.FixtureRequest) -> Parts:
    return parts(sound_order_store(request.param))


def test_a_sound_order_has_no_violations(sound: Parts) -> None:
    assert violations(sound) == []


def test_violations_name_the_order() -> None:
    order, documents, payments, _ = parts(sound_order_store("paid"))
    order.prepayment_paid += D("0.01")
    (found, *_) = check_order(order, documents, payments)
    assert found.order_id == "SO-1" and found.code == "order.payments_mismatch"
    assert "36.01" in found.message


def _line(found: Parts, **changes: Decimal) -> None:
    line = found[0].lines[1]
    for name, value in changes.items():
        setattr(line, name, value)


def _ledger(found: Parts) -> None:
    document = found[1][0]
    first, *rest = document.ledger
    found[1][0] = dataclasses.replace(
        document, ledger=(LedgerEntry(first.account, first.debit + 1, first.credit), *rest)
    )


def _document_line(found: Parts) -> None:
    document = found[1][0]
    first, *rest = document.lines
    changed = DocumentLine(
        first.description, first.account, first.net, first.vat_percent, first.vat,
        first.gross + D("0.01"), first.order_line_no, first.quantity, first.is_deduction,
    )  # fmt: skip
    found[1][0] = dataclasses.replace(document, lines=(changed, *rest))


def _negative_document(found: Parts) -> None:
    document = found[1][0]
    first, *rest = document.lines
    negative = DocumentLine(
        first.description, first.account, -first.net, first.vat_percent, -first.vat,
        -first.gross, first.order_line_no, first.quantity, first.is_deduction,
    )  # fmt: skip
    found[1][0] = dataclasses.replace(document, lines=(negative, *rest))


def _fraction_of_a_cent(found: Parts) -> None:
    document = found[1][0]
    first, *rest = document.lines
    odd = DocumentLine(
        first.description, first.account, first.net + D("0.001"), first.vat_percent,
        first.vat, first.gross + D("0.001"), first.order_line_no, first.quantity,
        first.is_deduction,
    )  # fmt: skip
    found[1][0] = dataclasses.replace(document, lines=(odd, *rest))


def _lost_document(found: Parts) -> None:
    found[1].pop()


def _lost_payment(found: Parts) -> None:
    found[2].pop()


def _lost_events(found: Parts) -> None:
    del found[3][-2:]


def _stale_state(found: Parts) -> None:
    found[0].state = "draft"


def _unknown_state(found: Parts) -> None:
    found[0].state = "halfway"


def _open_too_much(found: Parts) -> None:
    invoice = found[0].prepayment_invoices[0]
    invoice.open = invoice.gross + 1


def _foreign_currency(found: Parts) -> None:
    found[1][0] = dataclasses.replace(found[1][0], currency="USD")


DAMAGE: list[tuple[str, str, Callable[[Parts], None], str]] = [
    ("paid", "deducted above invoiced", lambda f: _line(f, prepayment_deducted=D(999)),
     "line.deducted_above_invoiced"),
    ("paid", "invoiced above prepayment", lambda f: _line(f, prepayment_line_amount=D(1)),
     "line.invoiced_above_prepayment"),
    ("paid", "a third of a cent", lambda f: _line(f, line_amount=D("1.001")),
     "amount.precision"),
    ("paid", "invoiced lines beyond the documents",
     lambda f: _line(f, prepayment_invoiced=D(45)), "order.documents_mismatch"),
    ("final_invoiced", "a quantity invoiced twice", lambda f: _line(f, quantity_invoiced=D(3)),
     "line.quantity_above_ordered"),
    ("partially_invoiced", "an invoice without its line update",
     lambda f: _line(f, amount_invoiced=D(0), quantity_invoiced=D(0)),
     "line.invoiced_mismatch"),
    ("paid", "an unbalanced ledger", _ledger, "document.unbalanced"),
    ("paid", "a line whose gross is not net + VAT", _document_line,
     "document.line_arithmetic"),
    ("paid", "a document that owes the party", _negative_document,
     "document.negative_amount"),
    ("paid", "a document line in fractions of a cent", _fraction_of_a_cent,
     "amount.precision"),
    ("paid", "VAT deducted above invoiced", lambda f: _line(f, prepayment_vat_deducted=D(99)),
     "line.deducted_above_invoiced"),
    ("paid", "a payment in fractions of a cent",
     lambda f: setattr(f[0], "prepayment_paid", D("36.001")), "amount.precision"),
    ("paid", "a document of another currency", _foreign_currency, "document.order_mismatch"),
    ("paid", "a lost prepayment invoice", _lost_document, "order.invoices_mismatch"),
    ("paid", "a lost payment record", _lost_payment, "order.payments_mismatch"),
    ("paid", "an invoice more open than billed", _open_too_much,
     "prepayment_invoice.open_out_of_range"),
    ("paid", "a state the figures contradict", _stale_state, "order.state_mismatch"),
    ("paid", "a state the machine does not know", _unknown_state, "order.unknown_state"),
    ("paid", "events lost from the history", _lost_events, "history.state_mismatch"),
    ("final_invoiced", "a final invoice with prepayment left",
     lambda f: _line(f, prepayment_deducted=D(0)), "order.final_incomplete"),
    ("cancelled", "cancelled with prepayment held",
     lambda f: _line(f, prepayment_invoiced=D(10)), "order.state_mismatch"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "damage", "code"),
    [(scenario, damage, code) for scenario, _, damage, code in DAMAGE],
    ids=[name for _, name, _, _ in DAMAGE],
)
def test_each_kind_of_damage_is_named(
    scenario: str, damage: Callable[[Parts], None], code: str
) -> None:
    found = parts(sound_order_store(scenario))
    damage(found)
    assert code in codes(found)


def test_a_document_or_payment_missing_from_the_history_is_named() -> None:
    order, documents, payments, history = parts(sound_order_store("paid"))
    kept = [e for e in history if e.type not in ("prepayment_invoice.posted", "payment.recorded")]
    found = {v.code for v in check_history(order, documents, payments, kept)}
    assert found == {"history.document_missing", "history.payment_missing"}


def test_a_payment_that_does_not_add_up_is_named() -> None:
    order, documents, payments, history = parts(sound_order_store("paid"))
    payments[0] = dataclasses.replace(payments[0], unapplied=D(5))
    assert "payment.unbalanced" in codes((order, documents, payments, history))


def test_an_order_with_no_history_is_stuck() -> None:
    order, documents, payments, _ = parts(sound_order_store("paid"))
    found = check_history(order, documents, payments, [])
    assert {v.code for v in found} >= {"history.state_mismatch", "history.document_missing"}


def test_a_closed_balance_nobody_paid_is_named() -> None:
    order, documents, payments, history = parts(sound_order_store("credited"))
    order.unapplied_credit += D(1)
    assert "order.balance_mismatch" in codes((order, documents, payments, history))


def test_the_inbox_tells_a_reused_id_from_a_redelivery() -> None:
    """The in-memory reference keeps the digest of each command id's content (bus.process)."""
    harness = Harness()
    party = customer("C1", "30")
    assert not process("c-1", party, InMemoryUnitOfWork(harness.store), "digest-a").duplicate
    same = process("c-1", party, InMemoryUnitOfWork(harness.store), "digest-a")
    other = process("c-1", cancel(), InMemoryUnitOfWork(harness.store), "digest-b")
    plain = process("c-1", cancel(), InMemoryUnitOfWork(harness.store))
    assert (same.duplicate, same.reused) == (True, False)
    assert (other.duplicate, other.reused) == (True, True)
    assert (plain.duplicate, plain.reused) == (True, False)
