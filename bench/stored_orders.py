"""Fill a prepay database with N finished orders, to measure throughput against a big store
(issue 7: with 1,000,000 orders stored, >= 90 % of the throughput with 1,000).

    .venv/bin/python bench/stored_orders.py --orders 1000000 --database-url URL
    PREPAY_DATABASE_URL=URL .venv/bin/prepay bench --commands 8000

One template order goes through its whole life cycle (create, prepayment invoice, payment,
final invoice) in the real service code, so its rows are exactly what prepay writes. The
database then copies them N times itself (INSERT ... SELECT over a number series), giving
each copy its own order id, command ids, document numbers, payment id and event ids, and
the same ids inside the JSON payloads. No row goes through Python, so a million orders
(about 20 rows and 10 KB each: orders, lines, inbox, documents, lines, ledger, payments,
history) take minutes. Their outbox rows are left out: the relay deletes a published
event's row (`workers.outbox.settle_published`), so a running system's outbox holds what
waits.
"""

from __future__ import annotations

import argparse
import json
import time

from sqlalchemy import Engine, Table, delete, text

from schemas.tables import (
    DOCUMENT_LINES,
    INBOX,
    LEDGER_ENTRIES,
    ORDER_HISTORY,
    ORDER_LINES,
    ORDERS,
    OUTBOX,
    PAYMENTS,
    POSTED_DOCUMENTS,
)
from workers import bench, db
from workers.processing import CommandProcessor
from workers.store import SqlUnitOfWork

TEMPLATE = "STORED-TEMPLATE"
TEMPLATE_COMMANDS = [f"{TEMPLATE}-{n}" for n in range(4)]  # its copies' ids get a suffix


def make_template(engine: Engine) -> list[str]:
    """Run one life cycle for the template order; returns its document numbers."""
    processor = CommandProcessor(SqlUnitOfWork(engine))
    party = bench.command_message("party.upsert", bench.PARTY, "BENCH-C")
    processor.handle(party.body)
    amount = bench.prepayment_gross()
    for n, (command_type, data) in enumerate(bench.life_cycles(1, "x", amount)):
        data = {**data, "order_id": TEMPLATE}
        if command_type == "payment.record":
            data["payment_id"] = f"P-{TEMPLATE}"
        envelope = {"specversion": "1.0", "id": TEMPLATE_COMMANDS[n], "source": "stored-orders",
                    "type": command_type, "subject": TEMPLATE, "data": data}  # fmt: skip
        result = processor.handle(json.dumps(envelope).encode())
        if result.kind != "applied":
            raise RuntimeError(f"template {command_type}: {result.kind} {result.reason}")
    with engine.begin() as connection:
        # Published, as far as the benchmark is concerned: the relay would have removed them.
        connection.execute(delete(OUTBOX).where(OUTBOX.c.subject == TEMPLATE))
        rows = connection.execute(
            text("SELECT document_no FROM posted_documents WHERE order_id = :o"), {"o": TEMPLATE}
        )
        return [row.document_no for row in rows]


def _series(dialect: str) -> str:
    if dialect == "postgresql":
        return "generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g(i)"
    return "g"


def _with_series(dialect: str) -> str:
    if dialect == "postgresql":
        return ""
    return "WITH RECURSIVE g(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM g WHERE i < :hi) "


def copy_statement(dialect: str, table: Table, documents: list[str]) -> str:
    """INSERT ... SELECT making copies :lo..:hi of the template's rows of `table`."""
    # Zero-padded, so that copies sort in the order they are inserted: every index then
    # grows at its end instead of at random places (minutes instead of hours for a million).
    padded = "lpad(g.i::text, 7, '0')" if dialect == "postgresql" else "printf('%07d', g.i)"
    order = f"('STORED-' || {padded})"

    def renumbered(column: str) -> str:
        return f"('S' || {padded} || '-' || {column})"

    def rewritten(column: str) -> str:  # ids inside JSON text
        expression = f"replace({column}, '\"{TEMPLATE}\"', '\"' || {order} || '\"')"
        for number in documents:
            new_number = f"'\"S' || {padded} || '-{number}\"'"
            expression = f"replace({expression}, '\"{number}\"', {new_number})"
        return expression

    new_uuid = "gen_random_uuid()" if dialect == "postgresql" else "lower(hex(randomblob(16)))"
    special = {
        "order_id": order,
        "document_no": renumbered("document_no"),
        "payment_id": f"(payment_id || '-' || {padded})",
        "command_id": f"(command_id || '-' || {padded})",
        "correlation_id": f"(correlation_id || '-' || {padded})",
        "event_id": new_uuid,
        "payload": rewritten("payload"),
        "prepayment_invoices": rewritten("prepayment_invoices"),
        "applied": rewritten("applied"),
    }
    columns = [c.name for c in table.c if not (c.primary_key and c.autoincrement is True)]
    if table.name in {"posted_documents", "payments", "order_history"}:
        columns = [c for c in columns if c != "id"]
    values = [special.get(c, c) for c in columns]
    where = {
        "inbox": f"command_id IN ({', '.join(repr(x) for x in TEMPLATE_COMMANDS)})",
        "document_lines": "document_no IN (SELECT document_no FROM posted_documents "
        f"WHERE order_id = '{TEMPLATE}')",
        "ledger_entries": "document_no IN (SELECT document_no FROM posted_documents "
        f"WHERE order_id = '{TEMPLATE}')",
    }.get(table.name, f"order_id = '{TEMPLATE}'")
    return (
        f"{_with_series(dialect)}INSERT INTO {table.name} ({', '.join(columns)}) "
        # The template's few rows first, then each number: CROSS JOIN fixes that order on
        # SQLite, which would otherwise scan the growing table once per number.
        f"SELECT {', '.join(values)} FROM (SELECT * FROM {table.name} WHERE {where}) AS t "
        f"CROSS JOIN {_series(dialect)} "
        f"ORDER BY g.i, {', '.join('t.' + c.name for c in table.primary_key.columns)}"
    )


TABLES = (
    ORDERS,
    ORDER_LINES,
    INBOX,
    POSTED_DOCUMENTS,
    DOCUMENT_LINES,
    LEDGER_ENTRIES,
    PAYMENTS,
    ORDER_HISTORY,
)


def fill(engine: Engine, orders: int, chunk: int = 50_000) -> None:
    documents = make_template(engine)
    statements = [copy_statement(engine.dialect.name, t, documents) for t in TABLES]
    started = time.perf_counter()
    for lo in range(1, orders + 1, chunk):
        hi = min(orders, lo + chunk - 1)
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA cache_size=-1000000")  # 1 GB
            for statement in statements:
                connection.execute(text(statement), {"lo": lo, "hi": hi})
        rate = hi / (time.perf_counter() - started)
        print(f"{hi:>10,} orders stored  ({rate:,.0f}/s)", flush=True)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    db.upgrade(args.database_url)
    engine = db.make_engine(args.database_url, sqlite_synchronous="OFF")
    with engine.connect() as connection:
        existing = connection.execute(text("SELECT count(*) FROM orders")).scalar_one()
    if existing:
        raise SystemExit(f"the database already holds {existing} orders; give an empty one")
    fill(engine, args.orders)
    print(f"done: {args.orders:,} orders stored")


if __name__ == "__main__":
    main()
