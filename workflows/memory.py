"""An in-memory unit of work: the reference implementation of the storage port, used by unit
tests, the domain benchmark and as the model the SQL store is checked against.

Handlers check everything before they change an order, so a rollback only has to drop what
was staged here (new rows, numbers, inbox ids, events), never undo a half-changed order."""

from __future__ import annotations

from collections import defaultdict

from workflows.commands import Side
from workflows.documents import PostedDocument
from workflows.errors import ConcurrencyConflict
from workflows.events import Event
from workflows.order import Order
from workflows.payments import PaymentRecord
from workflows.setup import Party, PrepaymentRule
from workflows.unit_of_work import AbstractUnitOfWork


class MemoryStore:
    """What survives commits: the tables of a tiny database."""

    def __init__(self) -> None:
        self.parties: dict[str, Party] = {}
        self.rules: dict[tuple[str, str], dict[tuple[object, ...], PrepaymentRule]] = defaultdict(
            dict
        )
        self.orders: dict[str, Order] = {}
        self.documents: dict[str, list[PostedDocument]] = defaultdict(list)
        self.payments: list[PaymentRecord] = []
        self.numbers: dict[str, int] = defaultdict(int)
        self.external_numbers: set[tuple[str, str]] = set()
        self.inbox: dict[str, str | None] = {}  # command id -> fingerprint
        self.history: dict[str | None, list[Event]] = defaultdict(list)
        self.outbox: list[Event] = []


class _Parties:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def get(self, party_id: str) -> Party | None:
        return self._uow.staged_parties.get(party_id) or self._uow.store.parties.get(party_id)

    def upsert(self, party: Party) -> None:
        self._uow.staged_parties[party.party_id] = party


class _Rules:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def for_item(self, side: Side, item_id: str) -> list[PrepaymentRule]:
        stored = self._uow.store.rules.get((side, item_id))
        if not self._uow.staged_rules:
            return list(stored.values()) if stored else []
        merged: dict[tuple[object, ...], PrepaymentRule] = dict(stored or {})
        for rule in self._uow.staged_rules:
            if (rule.side, rule.item_id) == (side, item_id):
                merged[rule.key] = rule
        return list(merged.values())

    def upsert(self, rule: PrepaymentRule) -> None:
        self._uow.staged_rules.append(rule)


class _Orders:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def get(self, order_id: str) -> Order | None:
        return self._uow.staged_orders.get(order_id) or self._uow.store.orders.get(order_id)

    def add(self, order: Order) -> None:
        if order.order_id in self._uow.store.orders:
            raise ConcurrencyConflict(f"order {order.order_id} was created concurrently")
        self._uow.staged_orders[order.order_id] = order

    def save(self, order: Order) -> None:
        order.version += 1


class _Documents:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, document: PostedDocument) -> None:
        self._uow.staged_documents.append(document)

    def add_payment(self, payment: PaymentRecord) -> None:
        self._uow.staged_payments.append(payment)

    def for_order(self, order_id: str) -> list[PostedDocument]:
        return list(self._uow.store.documents.get(order_id, []))


class _Numbers:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def next(self, series: str) -> int:
        staged = self._uow.staged_numbers
        # .get on the store: reading a series must not add it there (store.numbers defaults).
        number = staged[series] = (staged.get(series) or self._uow.store.numbers.get(series, 0)) + 1
        return number


class _ExternalNumbers:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def is_used(self, party_id: str, number: str) -> bool:
        key = (party_id, number)
        return key in self._uow.store.external_numbers or key in self._uow.staged_external

    def claim(self, party_id: str, number: str) -> None:
        self._uow.staged_external.add((party_id, number))


class _Inbox:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def claim(self, command_id: str, fingerprint: str | None = None) -> bool:
        if command_id in self._uow.store.inbox or command_id in self._uow.staged_inbox:
            return False
        self._uow.staged_inbox[command_id] = fingerprint
        return True

    def fingerprint(self, command_id: str) -> str | None:
        return self._uow.store.inbox.get(command_id) or self._uow.staged_inbox.get(command_id)


class _History:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def for_order(self, order_id: str) -> list[Event]:
        return list(self._uow.store.history.get(order_id, []))


class InMemoryUnitOfWork(AbstractUnitOfWork):
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()
        self.parties = _Parties(self)
        self.rules = _Rules(self)
        self.orders = _Orders(self)
        self.documents = _Documents(self)
        self.numbers = _Numbers(self)
        self.external_numbers = _ExternalNumbers(self)
        self.inbox = _Inbox(self)
        self.history = _History(self)
        self.committed = False
        self.staged_parties: dict[str, Party] = {}
        self.staged_rules: list[PrepaymentRule] = []
        self.staged_orders: dict[str, Order] = {}
        self.staged_documents: list[PostedDocument] = []
        self.staged_payments: list[PaymentRecord] = []
        self.staged_numbers: dict[str, int] = {}
        self.staged_external: set[tuple[str, str]] = set()
        self.staged_inbox: dict[str, str | None] = {}
        self.staged_events: list[Event] = []

    def record_events(self, events: list[Event]) -> None:
        self.staged_events.extend(events)

    # Staging is emptied in place and only where something was staged: a transaction runs
    # for every command, and most commands stage only an inbox id, events and a document.
    def commit(self) -> None:
        store = self.store
        if self.staged_parties:
            store.parties.update(self.staged_parties)
            self.staged_parties.clear()
        if self.staged_rules:
            for rule in self.staged_rules:
                store.rules[(rule.side, rule.item_id)][rule.key] = rule
            self.staged_rules.clear()
        if self.staged_orders:
            store.orders.update(self.staged_orders)
            self.staged_orders.clear()
        if self.staged_documents:
            for document in self.staged_documents:
                store.documents[document.order_id].append(document)
            self.staged_documents.clear()
        if self.staged_payments:
            store.payments.extend(self.staged_payments)
            self.staged_payments.clear()
        if self.staged_numbers:
            store.numbers.update(self.staged_numbers)
            self.staged_numbers.clear()
        if self.staged_external:
            store.external_numbers |= self.staged_external
            self.staged_external.clear()
        if self.staged_inbox:
            store.inbox.update(self.staged_inbox)
            self.staged_inbox.clear()
        if self.staged_events:
            history = store.history
            for event in self.staged_events:
                history[event.subject].append(event)
            store.outbox.extend(self.staged_events)
            self.staged_events.clear()
        self.committed = True

    def rollback(self) -> None:
        if self.staged_parties:
            self.staged_parties.clear()
        if self.staged_rules:
            self.staged_rules.clear()
        if self.staged_orders:
            self.staged_orders.clear()
        if self.staged_documents:
            self.staged_documents.clear()
        if self.staged_payments:
            self.staged_payments.clear()
        if self.staged_numbers:
            self.staged_numbers.clear()
        if self.staged_external:
            self.staged_external.clear()
        if self.staged_inbox:
            self.staged_inbox.clear()
        if self.staged_events:
            self.staged_events.clear()
