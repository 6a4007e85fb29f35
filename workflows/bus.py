"""Processing one command exactly once: the inbox claim, the handler, the rejection path and
the events all go through one unit of work, so they commit together or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows import events as ev
from workflows.commands import COMMAND_TYPES, Command
from workflows.errors import DomainError
from workflows.events import Event
from workflows.handlers import handle
from workflows.unit_of_work import AbstractUnitOfWork


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which
# costs about 1 % of a command; nothing keeps an Outcome beyond reading it once.
@dataclass(slots=True)
class Outcome:
    events: list[Event] = field(default_factory=list)
    duplicate: bool = False
    error: DomainError | None = None
    # A duplicate id whose first command had other content: not a redelivery but a reuse.
    reused: bool = False

    @property
    def rejected(self) -> bool:
        return self.error is not None


def process(
    command_id: str, command: Command, uow: AbstractUnitOfWork, fingerprint: str | None = None
) -> Outcome:
    """Apply a command once. A redelivered id changes nothing; a refused command changes
    nothing but is answered with `command.rejected` (and its id is still recorded, so a
    redelivery of it is not answered twice). With a `fingerprint` (a digest of the command's
    content), an id seen before with another fingerprint is reported as `reused`."""
    with uow:
        if not uow.inbox.claim(command_id, fingerprint):
            return _duplicate(command_id, fingerprint, uow)
        try:
            events = handle(command, uow)
        except DomainError as error:
            uow.rollback()
            return reject(
                command_id,
                COMMAND_TYPES[type(command)],
                error,
                uow,
                order_id=getattr(command, "order_id", None),
            )
        uow.record_events(events)
        uow.commit()
        return Outcome(events)


def reject(
    command_id: str,
    command_type: str,
    error: DomainError,
    uow: AbstractUnitOfWork,
    *,
    order_id: str | None = None,
    fingerprint: str | None = None,
) -> Outcome:
    """Record the refusal of a command (also one that failed validation before it became a
    domain command): its id in the inbox and a `command.rejected` event, nothing else."""
    with uow:
        if not uow.inbox.claim(command_id, fingerprint):
            return _duplicate(command_id, fingerprint, uow)
        order = uow.orders.get(order_id) if order_id else None
        rejected = Event(
            ev.COMMAND_REJECTED,
            order_id,
            {
                "order_id": order_id,
                "state": order.state if order else None,
                "command_id": command_id,
                "command_type": command_type,
                "code": error.code,
                "message": error.message,
                "field": error.field,
            },
        )
        uow.record_events([rejected])
        uow.commit()
        return Outcome([rejected], error=error)


def _duplicate(command_id: str, fingerprint: str | None, uow: AbstractUnitOfWork) -> Outcome:
    first = uow.inbox.fingerprint(command_id) if fingerprint is not None else None
    return Outcome(duplicate=True, reused=first is not None and first != fingerprint)
