"""Fault tests: the running service against a real RabbitMQ and PostgreSQL while something
breaks (a worker killed, the broker restarted, the database cut off, the relay killed between
publishing and removing from the outbox), then compared with a single clean worker and reconciled.

Like the end-to-end tests, they skip without the services on a laptop and fail when CI=true.
"""

from __future__ import annotations

from e2e.conftest import broker

__all__ = ["broker"]
