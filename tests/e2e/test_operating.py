"""Operating the running service from the CLI: `prepay demo`, `queues`, `tail`, `replay`,
`bench`, and the single-process service's HTTP endpoint."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from typer.testing import CliRunner

from e2e.conftest import SHARDS, Broker, Client, ServiceProcess, unique
from e2e.endpoints import get, metrics_port, scrape, value
from workers import topology
from workers.cli import app as cli_app
from workers.publishing import command_publisher

pytestmark = pytest.mark.e2e

PREPAYMENT_INVOICED = ["prepayment_invoice.posted", "order.amended", "order.state_changed"]


def draft_order(client: Client) -> str:
    """A draft order of 2 x 50.00 at 20 % VAT for a 20 % prepayment customer."""
    customer, order_id = unique("C"), unique("SO")
    client.send(
        "party.upsert",
        {"party_id": customer, "side": "sales", "name": "C", "prepayment_percent": "20"},
        subject=order_id,
    )
    client.run(
        "order.create",
        {"order_id": order_id, "side": "sales", "party_id": customer, "currency": "EUR",
         "order_date": "2026-11-27",
         "lines": [{"line_no": 1, "item_id": "A", "quantity": "2", "unit_price": "50.00",
                    "vat_percent": "20"}]},
        ["order.created"],
    )  # fmt: skip
    return order_id


# --- demo ------------------------------------------------------------------------------------


def test_demo_runs_both_orders_and_prints_every_document(sqlite_service: ServiceProcess) -> None:
    shown = sqlite_service.cli("demo", "--timeout", "30")
    assert shown.exit_code == 0, shown.output
    out = shown.output
    # Sales: 30 % of 123.50 (19 %) and 269.97 (7 %), then 4 more bolts; purchase: 50 % of
    # 1,093.00 including 19 % VAT (the amounts of tests/e2e/test_life_cycles.py).
    for figure in ("130.75", "17.64", "148.39", "346.23", "546.50"):
        assert figure in out, figure
    assert out.count("Prepayment invoice PPI-") == 2
    assert out.count("Invoice INV-") == 1
    assert "Prepayment invoice PPPI-" in out and "Invoice PINV-" in out
    assert "ledger: " in out and "total" in out
    assert "5 documents posted" in out
    sales_order = next(w for w in out.split() if w.startswith("SO-DEMO-")).rstrip(":")
    report = sqlite_service.report(sales_order)
    assert report is not None and report["order"]["state"] == "final_invoiced"
    documents = sqlite_service.cli("order", "documents", sales_order, "--json")
    assert documents.exit_code == 0, documents.output
    assert [d["amount_due"] for d in json.loads(documents.output)] == [
        "130.75", "17.64", "346.23"
    ]  # fmt: skip


def test_demo_without_a_service_says_so(broker: Broker) -> None:
    with broker.vhost() as amqp_url:
        env = {"PREPAY_AMQP_URL": amqp_url}
        shown = CliRunner().invoke(cli_app, ["demo", "--timeout", "1"], env=env)
    assert shown.exit_code == 1
    assert "is `prepay serve` running" in shown.output


# --- queues ----------------------------------------------------------------------------------


def queues_report(service: ServiceProcess, *args: str) -> dict[str, Any]:
    shown = service.cli("queues", "--json", *args)
    assert shown.exit_code == 0, shown.output
    return dict(json.loads(shown.output))


def test_queues_show_depth_consumers_and_dead_letters_by_origin(
    sqlite_service: ServiceProcess, client: Client
) -> None:
    order_id = draft_order(client)
    parked = f"broken-{uuid.uuid4()}"
    client.send_raw("order.amend", b"{not json", subject=order_id, message_id=parked)
    letter = sqlite_service.wait_for_dead_letter(lambda x: x["id"] == parked)
    by_origin: dict[str, int] = {}
    for x in sqlite_service.dead_letters():
        by_origin[x["queue"]] = by_origin.get(x["queue"], 0) + 1

    exact = queues_report(sqlite_service, "--no-management")
    assert exact["source"] == "passive declares"
    shards = [topology.shard_queue(s) for s in range(SHARDS)]
    names = [q["name"] for q in exact["queues"]]
    assert names == [*shards, topology.DEAD_LETTERS, topology.UNROUTED]
    for q in exact["queues"]:
        assert q["unacked"] is None
        assert q["consumers"] == (1 if q["name"] in shards else 0)
        assert q["dead_letters"] == by_origin.get(q["name"], 0)
    assert exact["dead_letters_total"] == sum(by_origin.values())
    assert next(q for q in exact["queues"] if q["name"] == letter["queue"])["dead_letters"] >= 1

    # The management API refreshes its figures every few seconds.
    deadline = time.monotonic() + 15
    while True:
        managed = queues_report(sqlite_service)
        assert managed["source"].startswith("management API")
        listed = {q["name"]: q for q in managed["queues"]}
        if all(listed.get(s, {}).get("consumers") == 1 for s in shards):
            break
        assert time.monotonic() < deadline, managed
        time.sleep(0.5)
    assert set(listed) >= {*shards, topology.DEAD_LETTERS}
    assert all(isinstance(q["unacked"], int) for q in managed["queues"])
    assert listed[letter["queue"]]["dead_letters"] == by_origin[letter["queue"]]

    fallback = queues_report(sqlite_service, "--management-url", "http://127.0.0.1:1")
    assert fallback["source"] == "passive declares"
    assert "unavailable" in fallback["note"]
    table = sqlite_service.cli("queues", "--no-management")
    assert table.exit_code == 0, table.output
    assert "prepay.commands.shard-0" in table.output and "passive declares" in table.output


# --- tail ------------------------------------------------------------------------------------


def test_tail_prints_matching_events_as_they_are_published(
    sqlite_service: ServiceProcess, client: Client
) -> None:
    script = Path(sys.executable).with_name("prepay")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "workers.cli"]
    tail = subprocess.Popen(
        [*command, "tail", "order.created", "prepayment_invoice.*", "-n", "2"],
        env=sqlite_service.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        while "following prepay.events" not in (line := tail.stderr.readline()):
            assert line, "prepay tail ended before it was bound"
        order_id = draft_order(client)
        client.run("prepayment.invoice", {"order_id": order_id}, PREPAYMENT_INVOICED)
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert tail.returncode == 0, err
    created, invoiced = out.splitlines()
    assert created.split()[1:4] == ["order.created", order_id, "draft"]
    assert invoiced.split()[1:4] == ["prepayment_invoice.posted", order_id, "prepayment_invoiced"]
    assert invoiced.endswith("due 24.00")  # 20 % of 100.00, plus 20 % VAT


# --- replay ----------------------------------------------------------------------------------


@pytest.fixture
def raw_events(sqlite_service: ServiceProcess) -> Iterator[Any]:
    """Every event as it arrives on the wire: (properties, body)."""
    connection = pika.BlockingConnection(pika.URLParameters(sqlite_service.amqp_url))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, topology.EVENTS, "#")
    arrived: list[tuple[Any, bytes]] = []
    channel.basic_consume(queue, lambda _c, _m, props, body: arrived.append((props, body)))

    def wait_for(subject: str, count: int) -> list[tuple[Any, bytes]]:
        deadline = time.monotonic() + 30
        while len(mine := [x for x in arrived if x[0].headers.get("subject") == subject]) < count:
            assert time.monotonic() < deadline, f"{len(mine)} of {count} events of {subject}"
            connection.process_data_events(time_limit=0.05)
        return mine

    yield wait_for
    connection.close()


def test_replay_publishes_an_orders_events_again_as_they_were(
    sqlite_service: ServiceProcess, client: Client, raw_events: Any
) -> None:
    order_id = draft_order(client)
    client.run("prepayment.invoice", {"order_id": order_id}, PREPAYMENT_INVOICED)
    first = raw_events(order_id, 4)

    replayed = sqlite_service.cli("replay", order_id)
    assert replayed.exit_code == 0, replayed.output
    assert f"4 event(s) of {order_id} published again" in replayed.output
    again = raw_events(order_id, 8)[4:]
    # Byte for byte the same envelopes, with the same ids and properties.
    assert [body for _, body in again] == [body for _, body in first]
    for (was, _), (now, _) in zip(first, again, strict=True):
        assert (now.message_id, now.correlation_id, now.type, now.timestamp) == (
            was.message_id, was.correlation_id, was.type, was.timestamp
        )  # fmt: skip

    history = sqlite_service.report(order_id)
    assert history is not None
    last = history["history"][-2]["sequence"]
    tail_only = sqlite_service.cli("replay", order_id, "--since", str(last))
    assert tail_only.exit_code == 0, tail_only.output
    assert f"1 event(s) of {order_id} published again" in tail_only.output
    assert raw_events(order_id, 9)[8][1] == first[3][1]

    unknown = sqlite_service.cli("replay", "SO-NOBODY")
    assert unknown.exit_code == 1
    assert "no events of order 'SO-NOBODY'" in unknown.output


# --- the endpoint of a one-process service -----------------------------------------------------


def test_a_single_process_service_serves_metrics_and_health(
    sqlite_service: ServiceProcess, client: Client
) -> None:
    port = metrics_port(sqlite_service.log_path)
    draft_order(client)
    assert get(port, "/healthz") == (200, "loop ok\n")
    status, body = get(port, "/readyz")
    assert status == 200, body
    assert set(body.splitlines()) == {"database ok", "broker ok"}
    samples = scrape(port)
    assert value(samples, "prepay_commands_total", type="order.create", outcome="applied") >= 1
    assert value(samples, "prepay_events_published_total") >= 1
    assert get(port, "/nothing")[0] == 404


# --- bench -----------------------------------------------------------------------------------


def bench_env(amqp_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PREPAY_AMQP_URL": amqp_url, "PREPAY_DATABASE_URL": f"sqlite:///{tmp_path}/b.db"}


def run_bench(env: dict[str, str], *options: str) -> tuple[Any, dict[str, Any]]:
    """`prepay bench --json` with `options`: its result and the figures of its last line."""
    done = CliRunner().invoke(cli_app, ["bench", *options, "--json"], env=env,
                              catch_exceptions=False)  # fmt: skip
    assert done.exit_code == 0, done.output
    return done, json.loads(done.output.strip().splitlines()[-1])


def test_bench_refuses_to_purge_waiting_commands(broker: Broker, tmp_path: Path) -> None:
    with broker.vhost() as amqp_url:
        with command_publisher(amqp_url, SHARDS) as publisher:
            publisher.publish("order.cancel", {"order_id": "SO-WAITING"})
        refused = CliRunner().invoke(
            cli_app, ["bench", "--commands", "8"], env=bench_env(amqp_url, tmp_path)
        )
        assert refused.exit_code == 1
        assert "hold 1 command(s)" in refused.output and "--yes" in refused.output
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        waiting = sum(
            channel.queue_declare(topology.shard_queue(s), passive=True).method.message_count
            for s in range(SHARDS)
        )
        connection.close()
    assert waiting == 1  # nothing was purged


def test_bench_prints_its_figures_with_json_last(broker: Broker, tmp_path: Path) -> None:
    with broker.vhost() as amqp_url:
        done, figures = run_bench(bench_env(amqp_url, tmp_path), "--commands", "40")
    assert figures["commands"] == 40
    assert figures["commands_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["rss_mb"] > 0
    assert "recorded_p50_ms" not in figures  # only with --split
    # The CPU each part spent per command while measured (the broker's and the database's
    # only where they run on this machine). 40 commands take the smaller parts a few ms,
    # under a clock tick at times, so only the worker is sure to show some.
    cpu = figures["cpu_ms_per_command"]
    assert {"workers", "supervisor and relay", "load generator"} <= set(cpu)
    assert cpu["workers"] > 0
    assert 0 < cpu["machine_busy_pct"] <= 100 * (os.cpu_count() or 1)
    assert any(x.startswith("cpu_ms_per_command ") for x in done.output.splitlines())


def test_bench_sends_the_life_cycles_as_a_steady_mix_when_asked(
    broker: Broker, tmp_path: Path
) -> None:
    with broker.vhost() as amqp_url:
        env = bench_env(amqp_url, tmp_path)
        _, figures = run_bench(env, "-n", "80", "--mix", "steady", "--rate", "200")
        refused = CliRunner().invoke(cli_app, ["bench", "-n", "8", "--mix", "random"], env=env)
    assert figures["commands"] == 80
    # Every life cycle went through, each order's commands in their order; and the first
    # final invoice was posted before the last order was created, which rounds never do.
    # (Order 0's final invoice leaves 13 commands, 65 ms, before order 19's create: ample
    # for the shard queues, which the worker takes from side by side, not to swap them.)
    with sqlite3.connect(tmp_path / "b.db") as database:
        states = database.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall()
        first_final, last_create = database.execute(
            "SELECT min(CASE type WHEN 'invoice.posted' THEN id END),"
            " max(CASE type WHEN 'order.created' THEN id END) FROM order_history"
        ).fetchone()
    assert states == [("final_invoiced", 20)]
    assert first_final < last_create
    assert refused.exit_code == 2 and "--mix" in refused.output


def test_bench_splits_each_latency_where_the_worker_recorded_the_event(
    broker: Broker, tmp_path: Path
) -> None:
    with broker.vhost() as amqp_url:
        done, figures = run_bench(bench_env(amqp_url, tmp_path), "--commands", "40", "--split")
    # The event is recorded after the command left and before its event arrived.
    assert 0 < figures["recorded_p50_ms"] <= figures["recorded_p99_ms"] <= figures["p99_ms"]
    assert 0 < figures["after_recorded_p50_ms"] <= figures["after_recorded_p99_ms"]
    assert figures["after_recorded_p99_ms"] <= figures["p99_ms"]
    assert any(x.startswith("recorded_p50_ms ") for x in done.output.splitlines())
    rounds = figures["rounds"]  # the same, per round of the life cycles
    assert set(rounds) == {"order.create", "prepayment.invoice", "payment.record", "order.invoice"}
    assert all(0 < r["recorded_p50_ms"] <= r["p50_ms"] <= r["p99_ms"] for r in rounds.values())
    # 40 commands: each p99 is the largest latency, overall and of each round of 10.
    assert max(r["p99_ms"] for r in rounds.values()) == figures["p99_ms"]


def test_bench_sends_at_the_rate_asked(broker: Broker, tmp_path: Path) -> None:
    with broker.vhost() as amqp_url:
        done, figures = run_bench(
            bench_env(amqp_url, tmp_path), "--commands", "40", "--rate", "20", "--timeline"
        )
    assert figures["commands"] == 40
    # The 40th command leaves 39/20 s after the first: the run cannot be shorter.
    assert figures["seconds"] >= 39 / 20
    assert figures["commands_per_s"] <= 20.5
    # Sent over two seconds: command n is due at n/20 s, so second 0 holds the first 20, or
    # fewer when a late timer pushed some into the next second (never the other way).
    windows = figures["timeline"]
    assert [w["second"] for w in windows] == list(range(len(windows)))
    assert 2 <= len(windows) <= 3
    assert sum(w["commands"] for w in windows) == 40
    assert 10 <= windows[0]["commands"] <= 20
    assert all(0 < w["p50_ms"] <= w["p99_ms"] <= w["max_ms"] for w in windows)
    assert any(x.startswith("second 1 ") for x in done.output.splitlines())


def test_targets_repeats_each_measurement_and_judges_the_median(
    broker: Broker, tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    with broker.vhost() as amqp_url:
        env = {**os.environ, "PREPAY_AMQP_URL": amqp_url}
        done = subprocess.run(
            [sys.executable, "bench/targets.py", "--databases", "sqlite", "--commands", "40",
             "--repeat", "2", "--rss-commands", "0", "--jitter-seconds", "0",
             "--scratch", str(tmp_path)],
            cwd=root, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Two pairs at full speed, then two runs at half the median rate, each printed as it ends.
    assert sum(" naive worker " in line for line in lines) == 2
    assert sum(" prepay, full speed " in line for line in lines) == 2
    halves = [line for line in lines if line.startswith("sqlite     prepay at ")]
    assert len(halves) == 2 and len({line.split()[3] for line in halves}) == 1  # one rate
    ratio = next(line for line in lines if line.startswith("prepay / naive"))
    assert "median of 2 pairs" in ratio
    p99 = next(line for line in lines if line.startswith("p99 at half the maximum"))
    assert "(median of 2 runs, " in p99
    assert next(line for line in lines if line.startswith("worker RSS")).endswith("not measured")
