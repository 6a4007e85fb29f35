"""The relay's side of the outbox, and column types, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select, text, update

from schemas.tables import OUTBOX, PARTIES
from workers.event_json import decode_stored, encode_stored, encode_wire
from workers.outbox import (
    fetch_batch,
    oldest_pending_age,
    pending_count,
    remove_marked,
    settle_published,
)
from workers.store import SqlUnitOfWork
from workflows.events import Event
from workflows.setup import Party

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    found: Engine = request.getfixturevalue(fixture)
    return found


def _record(engine: Engine, command_id: str, *events: Event) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.inbox.claim(command_id)
        uow.record_events(list(events))
        uow.commit()


def _outbox_types(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT type FROM outbox ORDER BY id")).scalars())


def _history_types(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        query = text("SELECT type FROM order_history ORDER BY id")
        return list(connection.execute(query).scalars())


def test_batches_come_oldest_first_until_published(engine: Engine) -> None:
    _record(engine, "c1", Event("a", "SO-1", {"n": 1}), Event("b", "SO-1", {"n": 2}))
    _record(engine, "c2", Event("c", None, {"n": 3}))
    with engine.begin() as connection:
        assert pending_count(connection) == 3
        first = fetch_batch(connection, 2)
        assert [(r.type, r.subject, r.correlation_id) for r in first] == [
            ("a", "SO-1", "c1"),
            ("b", "SO-1", "c1"),
        ]
        assert settle_published(connection, [r.id for r in first]) == 2
    assert _outbox_types(engine) == ["c"], "published rows are deleted, not kept"
    assert _history_types(engine) == ["a", "b"], "the history keeps every event of an order"
    with engine.begin() as connection:
        (last,) = fetch_batch(connection, 10)
        assert (last.type, last.subject, last.data()) == ("c", None, {"n": 3})
        assert pending_count(connection) == 1
        assert settle_published(connection, [last.id, first[0].id]) == 1
        assert fetch_batch(connection) == [] and pending_count(connection) == 0
        assert oldest_pending_age(connection) is None
        assert settle_published(connection, []) == 0
    assert _outbox_types(engine) == []


def test_event_ids_are_stable_and_unique(engine: Engine) -> None:
    _record(engine, "c1", Event("a", "SO-1", {}), Event("b", "SO-1", {}))
    with engine.connect() as connection:
        once = fetch_batch(connection)
    with engine.connect() as connection:
        twice = fetch_batch(connection)
    assert [r.event_id for r in once] == [r.event_id for r in twice]
    assert len({r.event_id for r in once}) == 2


def test_age_of_the_oldest_pending_row(engine: Engine) -> None:
    _record(engine, "c1", Event("a", "SO-1", {}))
    later = datetime.now(UTC) + timedelta(minutes=5)
    with engine.connect() as connection:
        (record,) = fetch_batch(connection)
        age = oldest_pending_age(connection, now=later)
    assert record.created_at.tzinfo is not None
    assert age is not None and timedelta(minutes=4) < age <= timedelta(minutes=5, seconds=5)


def test_payload_is_stored_exactly_and_published_as_wire_json(engine: Engine) -> None:
    data = {"amount": Decimal("1000.80"), "day": date(2026, 11, 27), "lines": [Decimal("1E+2")]}
    _record(engine, "c1", Event("a", "SO-1", data))
    with engine.connect() as connection:
        (record,) = fetch_batch(connection)
    assert record.stored_payload == encode_stored(data)
    assert decode_stored(record.stored_payload) == data
    assert record.wire_payload() == encode_wire(data)
    assert json.loads(record.wire_payload()) == {
        "amount": "1000.80",
        "day": "2026-11-27",
        "lines": ["100"],
    }
    assert record.event() == Event("a", "SO-1", json.loads(record.wire_payload()))


def test_events_about_no_order_stay_marked_as_their_one_stored_copy(engine: Engine) -> None:
    _record(engine, "c1", Event("a", "SO-1", {}), Event("refused", None, {"n": 1}))
    with engine.begin() as connection:
        about_order, about_none = fetch_batch(connection)
        settled = settle_published(connection, [about_order.id], kept=[about_none.id])
        assert settled == 2
        assert fetch_batch(connection) == [] and pending_count(connection) == 0
        assert settle_published(connection, [], kept=[about_none.id]) == 0, "settled already"
    assert _outbox_types(engine) == ["refused"]
    assert _history_types(engine) == ["a"]


def test_rows_a_relay_before_0004_marked_are_skipped_then_cleared(engine: Engine) -> None:
    """During a rolling upgrade a relay of the version before may lead, marking rows instead
    of deleting them: they are not pending, and the relay that takes over deletes those
    whose event the history holds."""
    _record(
        engine,
        "c1",
        Event("a", "SO-1", {}),
        Event("b", "SO-1", {}),
        Event("refused", None, {}),
    )
    with engine.begin() as connection:
        first, _, about_none = fetch_batch(connection)
        connection.execute(  # what that version's `mark_published` ran
            update(OUTBOX).where(OUTBOX.c.id.in_([first.id, about_none.id])),
            {"published_at": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    with engine.begin() as connection:
        assert [r.type for r in fetch_batch(connection)] == ["b"]
        assert settle_published(connection, [first.id]) == 0, "not pending: not this relay's"
        assert remove_marked(connection) == 1
        assert [r.type for r in fetch_batch(connection)] == ["b"]
    assert _outbox_types(engine) == ["b", "refused"]


def test_relays_on_postgresql_skip_each_others_rows(pg_engine: Engine) -> None:
    _record(pg_engine, "c1", *[Event("e", "SO-1", {"n": n}) for n in range(4)])
    with pg_engine.begin() as one, pg_engine.begin() as two:
        mine = fetch_batch(one, 2)
        theirs = fetch_batch(two, 10)
    assert [r.data()["n"] for r in mine] == [0, 1]
    assert [r.data()["n"] for r in theirs] == [2, 3]


EXACT = [
    "99999999999999.99",
    "0.001",
    "33.33333333333333333333333333",
    "-12.50",
    "0.00",
    "123456789012345678901234567890.123456789",
]


@pytest.mark.parametrize("value", EXACT)
def test_decimals_round_trip_exactly(engine: Engine, value: str) -> None:
    party = Party("P", "sales", "P", prepayment_percent=Decimal(value))
    with SqlUnitOfWork(engine) as uow:
        uow.parties.upsert(party)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.parties.get("P")
    assert loaded is not None and str(loaded.prepayment_percent) == value


def test_sqlite_keeps_decimals_as_text_never_real(sqlite_engine: Engine) -> None:
    with SqlUnitOfWork(sqlite_engine) as uow:
        uow.parties.upsert(Party("P", "sales", "P", prepayment_percent=Decimal("0.001")))
        uow.commit()
    with sqlite_engine.connect() as connection:
        kind = connection.execute(text("SELECT typeof(prepayment_percent) FROM parties"))
        assert kind.scalar_one() == "text"
        assert connection.execute(select(PARTIES.c.prepayment_percent)).scalar_one() == Decimal(
            "0.001"
        )


def test_removals_of_any_size_share_one_statement_text(engine: Engine) -> None:
    """Each distinct text is a prepared statement the driver keeps: removals of varying sizes
    must not grow that cache (an IN list of n parameters made one text per n)."""
    _record(engine, "c1", *[Event("a", "SO-1", {"n": n}) for n in range(7)])
    texts: set[str] = set()

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            texts.add(statement)

    with engine.begin() as connection:
        ids = [r.id for r in fetch_batch(connection, 10)]
        event.listen(engine, "before_cursor_execute", seen)
        try:
            for chunk in (ids[:1], ids[1:3], ids[3:7]):
                assert settle_published(connection, chunk) == len(chunk)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert pending_count(connection) == 0
    assert len(texts) == 1, texts
