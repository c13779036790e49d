"""Settings: typed, prefixed, validated, and documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.settings import Settings, SettingsError, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_variables_with_the_prefix_are_read_and_typed() -> None:
    settings = Settings.from_env({"LEDGER_API_PORT": "9001", "LEDGER_HOME": "/tmp/x", "OTHER": "1"})

    assert settings.api_port == 9001
    assert settings.home == Path("/tmp/x")
    assert settings.topic_submissions == "ledger.submissions"


def test_a_value_of_the_wrong_type_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="LEDGER_API_PORT='eighty'"):
        Settings.from_env({"LEDGER_API_PORT": "eighty"})


def test_a_batch_larger_than_the_safe_save_size_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"1\.\.2000"):
        Settings.from_env({"LEDGER_INGEST_BATCH": "2001"})


def test_child_processes_receive_the_same_settings() -> None:
    settings = Settings(api_port=8123, database_url="postgresql://x@h/db")

    assert Settings.from_env(settings.to_env()) == settings


def test_the_readme_shows_every_setting_as_the_code_defines_it() -> None:
    assert settings_table() in README.read_text()


def test_every_command_finds_the_home_from_where_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    resolved = Settings.from_env({}).resolved()

    # A child process started from elsewhere is handed this absolute path.
    assert resolved.home == tmp_path.resolve() / ".ledger"
    assert Settings.from_env(resolved.to_env()).home == resolved.home


def test_empty_addresses_name_the_embedded_servers_except_for_commands_that_start_them() -> None:
    settings = Settings(embedded_pg_port=54400, embedded_kafka_port=19100)

    resolved = settings.resolved()
    starting = settings.resolved(addresses=False)

    assert resolved.database_url == "postgresql://postgres@127.0.0.1:54400/postgres"
    assert resolved.kafka_bootstrap == "127.0.0.1:19100"
    assert (starting.database_url, starting.kafka_bootstrap) == ("", "")


def test_configured_addresses_are_kept() -> None:
    settings = Settings(database_url="postgresql://x@h/db", kafka_bootstrap="k:9092")

    resolved = settings.resolved()

    assert (resolved.database_url, resolved.kafka_bootstrap) == ("postgresql://x@h/db", "k:9092")


def test_the_largest_event_must_fit_one_kafka_record() -> None:
    with pytest.raises(SettingsError, match=r"MAX_EVENT_BYTES must be 1024\.\.524288"):
        Settings.from_env({"LEDGER_MAX_EVENT_BYTES": "2000000"})
    assert Settings.from_env({"LEDGER_MAX_EVENT_BYTES": "524288"}).max_event_bytes == 524_288
