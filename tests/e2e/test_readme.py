"""The README's worked example, executed as a reader would: its `sh` block runs in bash with
the installed `prepay` on the path, against a service of its own (own vhost, fresh SQLite
database, so the document numbers start at 1), and the `console` block's command must print
exactly the documents the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e.conftest import Broker
from workers import db, service
from workers.config import Settings
from workers.order_report import load_report

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
ORDER_ID = "SO-1001"
# The README shows the tables as a terminal this wide prints them.
COLUMNS = "100"


def worked_example() -> tuple[str, str, str]:
    """The example's shell script, the command of its console block, and that command's
    output as the README shows it."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Worked example\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    script = next(body for language, body in blocks if language == "sh")
    console = next(body for language, body in blocks if language == "console")
    first, *output = console.splitlines()
    assert first.startswith("$ "), first
    return script, first[2:], "\n".join(output)


def normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@contextmanager
def service_in_this_process(amqp_url: str, database_url: str) -> Iterator[service.Service]:
    settings = Settings(database_url=database_url, amqp_url=amqp_url)
    db.upgrade(database_url)
    running = service.build(settings)
    running.start()
    try:
        assert running.consumer.connected.wait(30), "the consumer did not connect"
        yield running
    finally:
        running.stop()


def test_the_readme_example_posts_the_documents_it_shows(broker: Broker, tmp_path: Path) -> None:
    script, command, shown = worked_example()
    assert command == f"prepay order documents {ORDER_ID}"
    database_url = f"sqlite:///{tmp_path / 'prepay.db'}"
    with broker.vhost() as amqp_url, service_in_this_process(amqp_url, database_url) as running:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREPAY_AMQP_URL": amqp_url,
            "PREPAY_DATABASE_URL": database_url,
            "COLUMNS": COLUMNS,
        }
        published = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert published.returncode == 0, published.stderr
        ids = published.stdout.split()
        assert len(ids) == script.count("prepay publish")
        assert all(uuid.UUID(printed) for printed in ids)

        deadline = time.monotonic() + 30
        while (report := load_report(running.engine, ORDER_ID)) is None or report["order"][
            "state"
        ] != "final_invoiced":
            assert time.monotonic() < deadline, f"{ORDER_ID} did not reach final_invoiced"
            time.sleep(0.1)

        printed = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
        )
    assert printed.returncode == 0, printed.stderr
    assert normalized(printed.stdout) == normalized(shown), printed.stdout
