"""The storage port the handlers see. Adapters (in-memory here, SQLModel in `workers/`)
implement it; handlers never learn which one they run on."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Protocol

from workflows.commands import Side
from workflows.documents import PostedDocument
from workflows.events import Event
from workflows.order import Order
from workflows.payments import PaymentRecord
from workflows.setup import DEFAULT_ACCOUNTS, Party, PostingAccounts, PrepaymentRule


class PartyRepository(Protocol):
    def get(self, party_id: str) -> Party | None: ...
    def upsert(self, party: Party) -> None: ...


class RuleRepository(Protocol):
    def for_item(self, side: Side, item_id: str) -> list[PrepaymentRule]: ...
    def upsert(self, rule: PrepaymentRule) -> None: ...


class OrderRepository(Protocol):
    def get(self, order_id: str) -> Order | None: ...
    def add(self, order: Order) -> None: ...
    def save(self, order: Order) -> None:
        """Persist changes to a loaded order; raises ConcurrencyConflict if its version moved."""
        ...


class DocumentRepository(Protocol):
    def add(self, document: PostedDocument) -> None: ...
    def add_payment(self, payment: PaymentRecord) -> None: ...
    def for_order(self, order_id: str) -> list[PostedDocument]: ...


class NumberSeries(Protocol):
    def next(self, series: str) -> int:
        """The next number of a gapless series; taken only if the transaction commits."""
        ...


class ExternalDocumentNumbers(Protocol):
    def is_used(self, party_id: str, number: str) -> bool: ...
    def claim(self, party_id: str, number: str) -> None: ...


class Inbox(Protocol):
    def claim(self, command_id: str, fingerprint: str | None = None) -> bool:
        """Record the command id (with a digest of the command it stands for); False if it
        was already processed (a redelivery)."""
        ...

    def fingerprint(self, command_id: str) -> str | None:
        """The digest recorded with a processed command id, if any."""
        ...


class History(Protocol):
    def for_order(self, order_id: str) -> list[Event]: ...


class AbstractUnitOfWork(abc.ABC):
    """One transaction: the inbox record, the state change and the outbox events commit
    together or not at all."""

    parties: PartyRepository
    rules: RuleRepository
    orders: OrderRepository
    documents: DocumentRepository
    numbers: NumberSeries
    external_numbers: ExternalDocumentNumbers
    inbox: Inbox
    history: History
    posting_accounts: dict[str, PostingAccounts] = DEFAULT_ACCOUNTS

    def __enter__(self) -> AbstractUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def record_events(self, events: list[Event]) -> None:
        """Queue events for the outbox and the order history, in this transaction."""

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard everything not committed; harmless after a commit."""
