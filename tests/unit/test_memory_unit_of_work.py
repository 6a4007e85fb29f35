"""The in-memory unit of work's isolation: a transaction reads what it staged, and a rollback
leaves the store exactly as it was, whatever was staged."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date

from builders import D, customer, line, order, prepay

from workflows.bus import process
from workflows.events import Event
from workflows.memory import InMemoryUnitOfWork, MemoryStore
from workflows.payments import PaymentRecord
from workflows.setup import Party, PrepaymentRule


def _rule(percent: str, starting: date | None = None) -> PrepaymentRule:
    return PrepaymentRule("sales", "BIKE", "all", None, D(percent), starting)


def test_a_transaction_reads_the_rules_it_staged_over_the_stored_ones() -> None:
    uow = InMemoryUnitOfWork()
    with uow:
        uow.rules.upsert(_rule("10"))
        uow.rules.upsert(_rule("15", date(2026, 1, 1)))
        uow.commit()
    with uow:
        uow.rules.upsert(_rule("20"))  # same key as the stored 10 %: replaces it
        uow.rules.upsert(PrepaymentRule("sales", "HELMET", "all", None, D(5)))
        staged = sorted(rule.percent for rule in uow.rules.for_item("sales", "BIKE"))
        assert staged == [D(15), D(20)]
    # Rolled back: the stored rules are read again.
    assert sorted(rule.percent for rule in uow.rules.for_item("sales", "BIKE")) == [D(10), D(15)]
    assert uow.rules.for_item("sales", "HELMET") == []


def test_a_rollback_discards_everything_staged_and_leaves_the_store_unchanged() -> None:
    store = MemoryStore()
    uow = InMemoryUnitOfWork(store)
    process("setup", customer(percent="30"), uow)
    process("create", order(line(1, "2", "100.00")), uow)
    process("prepay", prepay(), uow)
    before = copy.deepcopy(vars(store))
    stored_order = store.orders["SO-1"]
    with uow:
        assert uow.inbox.claim("cmd-1", "digest")
        uow.parties.upsert(Party("C2", "sales", "Another customer"))
        uow.rules.upsert(_rule("10"))
        uow.orders.add(dataclasses.replace(stored_order, order_id="SO-2"))
        uow.numbers.next("sales.invoice")
        uow.external_numbers.claim("V1", "EXT-1")
        uow.documents.add(dataclasses.replace(store.documents["SO-1"][0], document_no="PPI-000002"))
        uow.documents.add_payment(PaymentRecord("PAY-1", "SO-1", D(1), "EUR", None, (), D(0)))
        uow.record_events([Event("order.cancelled", "SO-1", {"order_id": "SO-1"})])
        assert uow.orders.get("SO-2") is not None and uow.inbox.fingerprint("cmd-1") == "digest"
    # Leaving the block without a commit rolled back: nothing staged is kept or visible.
    assert vars(store) == before
    assert uow.orders.get("SO-2") is None and uow.parties.get("C2") is None
    assert uow.rules.for_item("sales", "BIKE") == [] and uow.inbox.claim("cmd-1")
