"""`prepay reconcile`: every stored order checked against the domain's invariants
(`workflows.invariants`), plus what only the store can tell: events left unpublished in the
outbox, and gaps in the document number series.

It reads through the same unit of work the workers write with, in one read-only transaction
at a single snapshot (REPEATABLE READ on PostgreSQL, one WAL read transaction on SQLite), so
a service running meanwhile cannot make an order look half-changed: each command's effects
commit together, and the snapshot sees all of them or none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, func, select

from schemas.tables import NUMBER_SERIES, ORDERS, OUTBOX, POSTED_DOCUMENTS
from workers.store import SqlUnitOfWork
from workflows.commands import Side
from workflows.documents import DocumentType, format_document_no, series_name
from workflows.invariants import Violation, check_history, check_order

OUTBOX_SUBJECT = "outbox"


@dataclass(frozen=True, slots=True)
class Reconciliation:
    orders: int
    violations: list[Violation]
    pending_events: int

    @property
    def clean(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "pending_events": self.pending_events,
            "violations": [
                {"order_id": v.order_id, "code": v.code, "message": v.message}
                for v in self.violations
            ],
        }


def reconcile(
    engine: Engine, *, outbox_grace: timedelta = timedelta(0), now: datetime | None = None
) -> Reconciliation:
    """Check every order. Events still in the outbox count as violations only once they
    waited longer than `outbox_grace` (a running relay publishes within milliseconds)."""
    if engine.dialect.name == "postgresql":
        engine = cast(
            Engine,
            engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True),
        )
    uow = SqlUnitOfWork(engine, read_only=True)
    violations: list[Violation] = []
    with uow:
        order_ids = uow.execute(select(ORDERS.c.order_id).order_by(ORDERS.c.order_id)).scalars()
        checked = 0
        for order_id in list(order_ids):
            order = uow.orders.get(order_id)
            if order is None:  # pragma: no cover - the snapshot cannot lose it
                continue
            documents = uow.documents.for_order(order_id)
            payments = uow.documents.payments_for_order(order_id)
            history = uow.history.for_order(order_id)
            violations += check_order(order, documents, payments)
            violations += check_history(order, documents, payments, history)
            checked += 1
        pending, late = _outbox(uow, (now or datetime.now(UTC)) - outbox_grace)
        violations += late
        violations += _series_gaps(uow)
    return Reconciliation(checked, violations, pending)


def _outbox(uow: SqlUnitOfWork, cutoff: datetime) -> tuple[int, list[Violation]]:
    """(events unpublished, one violation per order whose events waited since before
    `cutoff`): a committed change downstream never heard of."""
    unpublished = OUTBOX.c.published_at.is_(None)
    pending = uow.execute(select(func.count()).where(unpublished)).scalar_one()
    late = uow.execute(
        select(
            OUTBOX.c.subject,
            func.count().label("count"),
            func.min(OUTBOX.c.created_at).label("oldest"),
        )
        .where(unpublished, OUTBOX.c.created_at < cutoff)
        .group_by(OUTBOX.c.subject)
        .order_by(OUTBOX.c.subject)
    ).all()
    found = [
        Violation(
            row.subject or OUTBOX_SUBJECT,
            "outbox.not_drained",
            f"{row.count} event(s) unpublished since {row.oldest.isoformat()}",
        )
        for row in late
    ]
    return int(pending), found


def _series_gaps(uow: SqlUnitOfWork) -> Iterator[Violation]:
    """Each number series is gapless: numbers 1..last each name exactly one document."""
    used: dict[str, list[str]] = {}
    documents = POSTED_DOCUMENTS.c
    rows = uow.execute(select(documents.side, documents.document_type, documents.document_no))
    for row in rows:
        used.setdefault(series_name(row.side, row.document_type), []).append(row.document_no)
    for row in uow.execute(select(NUMBER_SERIES.c.series, NUMBER_SERIES.c.last_number)):
        series, last = row.series, row.last_number
        side, document_type = series.split(".", 1)
        kind = cast(DocumentType, document_type)
        expected = Counter(
            format_document_no(cast(Side, side), kind, n) for n in range(1, last + 1)
        )
        found = Counter(used.pop(series, []))
        missing, extra = expected - found, found - expected
        if missing or extra:
            yield Violation(
                f"series {series}",
                "series.gap",
                f"last number {last}; missing {_few(missing)}, unexpected {_few(extra)}",
            )
    for series, numbers in used.items():
        yield Violation(f"series {series}", "series.gap", f"no series row for {_few(numbers)}")


def _few(numbers: Counter[str] | list[str], limit: int = 5) -> str:
    names = sorted(numbers)
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def render(result: Reconciliation) -> str:
    """One line per violation, then the summary line."""
    lines = [f"{v.order_id}\t{v.code}\t{v.message}" for v in result.violations]
    lines.append(
        f"{result.orders} orders checked, {len(result.violations)} violation(s), "
        f"{result.pending_events} event(s) awaiting the relay"
    )
    return "\n".join(lines)
