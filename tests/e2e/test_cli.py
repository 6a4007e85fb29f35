"""The `prepay` CLI where no broker is involved: migrations, and the answers to wrong usage."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from workers.cli import app


def prepay(*args: str, database: Path | None = None) -> Result:
    env = {"PREPAY_DATABASE_URL": f"sqlite:///{database}"} if database else {}
    return CliRunner().invoke(app, list(args), env=env)


def test_db_upgrade_creates_the_schema_and_may_run_again(tmp_path: Path) -> None:
    database = tmp_path / "prepay.db"
    first = prepay("db", "upgrade", database=database)
    assert first.exit_code == 0, first.output
    assert "is up to date" in first.output
    assert prepay("db", "upgrade", database=database).exit_code == 0
    missing = prepay("order", "show", "SO-NONE", database=database)
    assert missing.exit_code == 1
    assert "no order 'SO-NONE'" in missing.output


def test_database_url_option_overrides_the_environment(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.db"
    done = prepay(
        "db", "upgrade", "--database-url", f"sqlite:///{chosen}", database=tmp_path / "env.db"
    )
    assert done.exit_code == 0, done.output
    assert chosen.exists() and not (tmp_path / "env.db").exists()


def test_publish_refuses_data_that_is_not_a_json_object(tmp_path: Path) -> None:
    assert prepay("publish", "order.cancel", "--data", "{oops").exit_code == 1
    assert prepay("publish", "order.cancel", "--data", "[1, 2]").exit_code == 1
    missing_file = prepay("publish", "order.cancel", "--data", f"@{tmp_path / 'none.json'}")
    assert missing_file.exit_code == 1
    assert "--data" in missing_file.output


def test_dead_replay_needs_exactly_one_of_id_and_all() -> None:
    assert prepay("dead", "replay").exit_code == 2
    assert prepay("dead", "replay", "--id", "x", "--all").exit_code == 2


def test_help_lists_the_commands() -> None:
    shown = prepay("--help")
    assert shown.exit_code == 0
    for command in ("serve", "publish", "order", "dead", "db"):
        assert command in shown.output
