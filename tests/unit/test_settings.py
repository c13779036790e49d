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
