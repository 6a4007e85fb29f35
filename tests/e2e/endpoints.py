"""The running service's HTTP endpoint and logs as the e2e tests read them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, frozenset[tuple[str, str]]]


def log_lines(log_path: Path) -> list[dict[str, Any]]:
    """The service's JSON log lines (its stderr is not a terminal); other lines skipped."""
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def wait_for_log(
    log_path: Path, matches: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for line in log_lines(log_path):
            if matches(line):
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no such log line in {log_path}")
        time.sleep(0.1)


def metrics_port(log_path: Path, timeout: float = 60) -> int:
    """The port `prepay serve` logged it listens on (PREPAY_METRICS_PORT=0 picks one)."""
    line = wait_for_log(log_path, lambda x: x.get("event") == "metrics.listening", timeout)
    return int(line["port"])


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(port: int) -> dict[Sample, float]:
    """Every sample of `/metrics`, by name and labels."""
    status, body = get(port, "/metrics")
    assert status == 200, body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: dict[Sample, float], name: str, **labels: str) -> float:
    """A sample's value; 0 when a labelled series has not appeared yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)
