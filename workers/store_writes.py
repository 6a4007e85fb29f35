"""Writes held back until the transaction commits (write-behind).

A command's writes are staged here instead of being sent one statement at a time; reads
inside the transaction look here first, so the command sees its own writes. At commit the
writes go to the database as one statement per table (`executemany`), or, in a batch (group
commit), are merged into the batch's writes and sent once for all of its commands. This is
what makes a batch of fifty commands cost a dozen statements instead of several hundred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.store_events import EventRows
from workflows.documents import PostedDocument
from workflows.order import Order
from workflows.payments import PaymentRecord
from workflows.setup import Party, PrepaymentRule


@dataclass(slots=True)
class Writes:
    inbox: dict[str, dict[str, Any]] = field(default_factory=dict)  # command id -> row
    parties: dict[str, Party] = field(default_factory=dict)
    rules: dict[tuple[object, ...], PrepaymentRule] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)  # added or saved
    numbers: dict[str, int] = field(default_factory=dict)  # series -> last number taken
    external_numbers: dict[tuple[str, str], None] = field(default_factory=dict)
    documents: list[PostedDocument] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    events: EventRows = field(default_factory=EventRows)

    def absorb(self, other: Writes) -> None:
        """Take over `other`'s writes (a command's, into its batch's); later ones win."""
        self.inbox.update(other.inbox)
        self.parties.update(other.parties)
        self.rules.update(other.rules)
        self.orders.update(other.orders)
        self.numbers.update(other.numbers)
        self.external_numbers.update(other.external_numbers)
        self.documents.extend(other.documents)
        self.payments.extend(other.payments)
        self.events.extend(other.events)

    def clear(self) -> None:
        for staged in (
            self.inbox, self.parties, self.rules, self.orders, self.numbers,
            self.external_numbers, self.documents, self.payments,
        ):  # fmt: skip
            if staged:
                staged.clear()
        self.events.clear()
