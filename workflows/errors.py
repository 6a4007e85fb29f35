"""Domain errors: each has a stable `code` that upstream systems can match on, a message a
person can act on (naming the order, the line and the values), and the `field` at fault."""

from __future__ import annotations


class DomainError(Exception):
    """A command that cannot be applied. Raised before anything changes."""

    code = "domain.error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationFailed(DomainError):
    """Input that breaks a rule of its own (range, precision, missing value)."""

    code = "command.invalid"


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class InvalidState(DomainError):
    """The state machine does not allow this command in the order's current state."""

    code = "order.invalid_state"


class ConcurrencyConflict(Exception):
    """Someone else changed the aggregate since it was loaded. Retryable, not a refusal."""


class LockConflict(ConcurrencyConflict):
    """A wait for another transaction's lock ended in a deadlock or timed out. Retryable, but
    only once this transaction let go of every lock it holds (a retry that keeps them meets
    the same deadlock again)."""
