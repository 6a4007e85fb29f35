"""Logs, probes and metrics against a real SQLite database, without a broker: the command
context on the log lines of the real processor (prepay's and the libraries'), the HTTP
endpoint's answers, and counters from several processes added up at one scrape."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import insert

from schemas.tables import OUTBOX
from workers import logs, metrics
from workers.config import Settings
from workers.db import make_engine, upgrade
from workers.monitoring import Monitor
from workers.processing import CommandProcessor, TransientFailure
from workers.publishing import command_envelope
from workers.store import SqlUnitOfWork

pytestmark = pytest.mark.integration


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


@pytest.fixture
def json_logs() -> Iterator[None]:
    logs.configure("INFO", json=True)
    yield
    logs.configure("INFO")


def test_lines_logged_while_a_command_is_handled_carry_its_ids(
    tmp_path: Path, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "prepay.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}", busy_timeout=0.05)
    processor = CommandProcessor(SqlUnitOfWork(engine), retry_attempts=2, sleep=lambda _: None)
    envelope = command_envelope(
        "order.create",
        {"order_id": "SO-LOG", "side": "sales", "party_id": "C-1", "currency": "EUR",
         "order_date": "2026-11-27",
         "lines": [{"line_no": 1, "item_id": "A", "quantity": "1", "unit_price": "1",
                    "vat_percent": "0"}]},
        command_id="cmd-log-1",
    )  # fmt: skip
    envelope["correlationid"] = "corr-log-1"
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # every attempt waits for the lock, then gives up
    try:
        with pytest.raises(TransientFailure):
            processor.handle(json.dumps(envelope).encode())
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        engine.dispose()
    retrying = [x for x in json_lines(capsys.readouterr().err) if x["event"] == "command.retrying"]
    assert [x["attempt"] for x in retrying] == [1, 2]
    for entry in retrying:
        assert entry["command_id"] == "cmd-log-1"
        assert entry["correlation_id"] == "corr-log-1"
        assert entry["command_type"] == "order.create"
        assert entry["order_id"] == "SO-LOG"
        assert entry["level"] == "warning" and entry["logger"] == "prepay.worker"
        assert entry["timestamp"].endswith("Z")


def test_pika_and_sqlalchemy_lines_go_through_the_same_pipeline(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with structlog.contextvars.bound_contextvars(command_id="c-7", order_id="SO-7"):
        logging.getLogger("pika.adapters.blocking_connection").warning("socket closed: %s", "EOF")
        logging.getLogger("sqlalchemy.engine.Engine").error("connection invalidated")
        logging.getLogger("pika").info("chatter")  # libraries are held to warnings
    pika_line, sql_line = json_lines(capsys.readouterr().err)
    assert pika_line["event"] == "socket closed: EOF"
    assert pika_line["logger"] == "pika.adapters.blocking_connection"
    assert sql_line["level"] == "error" and sql_line["logger"] == "sqlalchemy.engine.Engine"
    for entry in (pika_line, sql_line):
        assert (entry["command_id"], entry["order_id"]) == ("c-7", "SO-7")


def test_a_commands_ids_are_on_its_lines_only_while_it_is_handled(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log = structlog.get_logger("prepay.test")
    with logs.command_context(command_id="c-1", command_type="order.create", order_id="SO-1"):
        with logs.command_context(command_id="c-2", order_id=None):
            log.info("inner")
            logging.getLogger("pika").warning("library line")
        log.info("outer", order_id="given by the call")
    log.info("after")
    inner, library, outer, after = json_lines(capsys.readouterr().err)
    assert (inner["command_id"], inner["order_id"]) == ("c-2", None)
    assert "command_type" not in inner  # the inner command's own ids, not a mix
    assert (library["command_id"], library["logger"]) == ("c-2", "pika")
    assert (outer["command_id"], outer["command_type"]) == ("c-1", "order.create")
    assert outer["order_id"] == "given by the call"
    assert not {"command_id", "command_type", "order_id"} & after.keys()


def test_a_terminal_gets_readable_lines(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", json=False)
    structlog.get_logger("prepay.test").info("consumer.started", queues=["q"])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().err)  # colours on a terminal
    assert plain.split()[1:5] == ["[info", "]", "consumer.started", "[prepay.test]"]
    assert plain.split()[5] == "queues=['q']"


# --- the HTTP endpoint -----------------------------------------------------------------------


def answer(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_endpoint_answers_for_the_loop_the_broker_and_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prepay.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:  # one event, committed an hour ago, not yet published
        connection.execute(
            insert(OUTBOX).values(
                event_id=uuid.uuid4(), type="order.created", subject="SO-1", stored_payload="{}",
                created_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )  # fmt: skip
    engine.dispose()
    connected = {"now": False}
    monitor = Monitor(Settings(database_url=url, metrics_port=0), outbox_every_s=0.05)
    monitor.ready_when("broker", lambda: connected["now"])
    port = monitor.start()
    try:
        assert answer(port, "/healthz") == (200, "loop ok\n")
        assert answer(port, "/readyz") == (503, "database ok\nbroker down\n")
        connected["now"] = True
        assert answer(port, "/readyz") == (200, "database ok\nbroker ok\n")
        status, body = answer(port, "/metrics")
        assert status == 200 and "prepay_commands_total" in body
        assert metrics.OUTBOX_PENDING._value.get() == 1
        assert 3590 < metrics.OUTBOX_OLDEST_AGE._value.get() < 3700
        monitor.stopping()
        assert answer(port, "/readyz") == (503, "database ok\nbroker ok\nshutting down\n")
        monitor._last_beat -= 60  # the loop stopped beating: stuck
        assert answer(port, "/healthz") == (503, "loop down\n")
    finally:
        monitor.close()
    Path(url.removeprefix("sqlite:///")).unlink()  # the probe holds no connection open
    missing = Monitor(Settings(database_url=url, metrics_port=0))
    try:
        assert missing.health.ready() == (True, {"database": True})  # SQLite creates files
    finally:
        missing.close()


# --- several processes, one scrape -----------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from workers import metrics
    for _ in range(int(sys.argv[1])):
        metrics.COMMANDS.labels("order.create", "applied").inc()
    metrics.LATENCY.labels("order.create").observe(0.003)
    metrics.BATCH_COMMANDS.observe(int(sys.argv[1]))
    metrics.CONSUMER_BUSY.inc(0.25)
    """
)
PARENT = textwrap.dedent(
    """
    import subprocess, sys
    from workers import metrics
    for count in (2, 3):
        subprocess.run([sys.executable, "-c", sys.argv[1], str(count)], check=True)
    metrics.OUTBOX_PENDING.set(4)
    sys.stdout.write(metrics.exposition().decode())
    """
)


def test_counters_of_every_process_add_up_at_one_scrape(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PARENT, CHILD], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert 'prepay_commands_total{outcome="applied",type="order.create"} 5.0' in lines
    assert 'prepay_command_seconds_count{type="order.create"} 2.0' in lines
    assert "prepay_batch_commands_count 2.0" in lines and "prepay_batch_commands_sum 5.0" in lines
    assert 'prepay_batch_commands_bucket{le="2.0"} 1.0' in lines
    assert "prepay_consumer_busy_seconds_total 0.5" in lines
    assert "prepay_outbox_pending 4.0" in lines  # "max" over the processes, the others hold 0
