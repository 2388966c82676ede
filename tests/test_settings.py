"""Settings: layers, precedence, validation messages that name file and key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings import (
    Settings,
    email_transport,
    env_name,
    load_settings,
    setting_keys,
)
from tests.conftest import REPO

DEFAULTS = REPO / "config" / "monitor.toml"


def load(
    tmp_path: Path, text: str | None = None, env: dict[str, str] | None = None, **kw: object
) -> Settings:
    config = None
    if text is not None:
        config = tmp_path / "extra.toml"
        config.write_text(text)
    return load_settings(config, env=env or {}, default_path=DEFAULTS, **kw)  # type: ignore[arg-type]


def test_shipped_config_file_equals_the_embedded_defaults(tmp_path: Path) -> None:
    from_file = load(tmp_path)
    embedded = load_settings(None, env={}, default_path=tmp_path / "absent.toml")
    assert dataclasses.replace(from_file, sources=()) == embedded == Settings()
    assert from_file.sources == (str(DEFAULTS),)


def test_every_setting_is_in_the_shipped_file() -> None:
    text = DEFAULTS.read_text()
    for section, key in setting_keys():
        assert f"[{section}]" in text and f"\n{key} = " in text, (section, key)


def test_precedence_flag_over_env_over_config_over_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        '[store]\npath = "from-config.db"\n[output]\ndir = "from-config"\n'
        "[run]\nlookback_days = 3\n",
        env={"MONITOR_OUTPUT_DIR": "from-env", "MONITOR_RUN_LOOKBACK_DAYS": "5"},
        overrides={("run", "lookback_days"): 9},
    )
    assert settings.store.path == Path("from-config.db")
    assert settings.output.dir == Path("from-env")
    assert settings.run.lookback_days == 9
    assert settings.edgar.rate_per_s == 8.0


def test_environment_names_and_lists(tmp_path: Path, mirror: Path) -> None:
    settings = load(
        tmp_path,
        env={
            "MONITOR_EDGAR_USER_AGENT": "Acme Research ops@acme.example",
            "MONITOR_EDGAR_WWW_URL": "http://127.0.0.1:8080/www.sec.gov",
            "MONITOR_EDGAR_MIRROR": str(mirror),
            "MONITOR_WATCHLIST_FORMS": "10-K, 20-F",
            "MONITOR_EMAIL_FROM": "monitor@acme.example",
            "MONITOR_EMAIL_TO": "a@acme.example,b@acme.example",
            "MONITOR_STORE_PATH": "/srv/monitor.db",
        },
    )
    assert settings.edgar.user_agent == "Acme Research ops@acme.example"
    assert settings.edgar.www_url == "http://127.0.0.1:8080/www.sec.gov"
    assert settings.edgar.mirror == mirror
    assert settings.watchlist.forms == ("10-K", "20-F")
    assert settings.email.from_ == "monitor@acme.example"
    assert settings.email.to == ("a@acme.example", "b@acme.example")
    assert settings.store.path == Path("/srv/monitor.db")
    assert env_name("email", "from") == "MONITOR_EMAIL_FROM"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[edgar]\nrate_per_s = 12\n",
            "extra.toml: [edgar] rate_per_s: must be more than 0 and at most 10",
        ),
        ("[edgar]\nrate_per_s = 'fast'\n", "extra.toml: [edgar] rate_per_s: must be a number"),
        (
            "[edgar]\nwww_url = 'ftp://x'\n",
            "extra.toml: [edgar] www_url: must be an http(s) base URL",
        ),
        (
            "[edgar]\nmirror = '/no/such/dir'\n",
            "extra.toml: [edgar] mirror: must be an existing directory",
        ),
        ("[edgar]\nuser_agnet = 'x'\n", "extra.toml: [edgar] user_agnet: unknown key"),
        ("[edgr]\nx = 1\n", "extra.toml: unknown section [edgr]"),
        ("[schedule]\ncron = '0 7 * *'\n", "extra.toml: [schedule] cron: must be a 5-field cron"),
        (
            "[schedule]\ntimezone = 'Mars/Olympus'\n",
            "extra.toml: [schedule] timezone: must be an IANA",
        ),
        ("[run]\nlookback_days = -1\n", "extra.toml: [run] lookback_days: must be 0 or more"),
        ("[watchlist]\nforms = []\n", "extra.toml: [watchlist] forms: must list EDGAR form types"),
        (
            "[email]\nsmtp_password = 'hunter2'\n",
            "extra.toml: [email] smtp_password: secrets are read only",
        ),
        ("[email]\nsecurity = 'tls1.3'\n", "extra.toml: [email] security: must be one of"),
        ("[store\npath = 'x'\n", "extra.toml: not valid TOML"),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_invalid_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"environment MONITOR_EDGAR_TIMEOUT_S: \[edgar\] timeout_s"
    ):
        load(tmp_path, env={"MONITOR_EDGAR_TIMEOUT_S": "soon"})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_settings(tmp_path / "nope.toml", env={}, default_path=DEFAULTS)


def test_password_only_from_environment_and_never_shown(tmp_path: Path) -> None:
    settings = load(tmp_path, env={"MONITOR_EMAIL_SMTP_PASSWORD": "hunter2"})
    assert settings.email.smtp_password == "hunter2"
    assert "hunter2" not in repr(settings)


def test_unknown_monitor_variable_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load(tmp_path, env={"MONITOR_STORE_PAHT": "x.db"})
    assert "MONITOR_STORE_PAHT" in caplog.text


def test_email_transport_follows_the_smtp_host(tmp_path: Path) -> None:
    assert email_transport(load(tmp_path).email) == "file"
    assert (
        email_transport(load(tmp_path, env={"MONITOR_EMAIL_SMTP_HOST": "mail.example"}).email)
        == "smtp"
    )
    assert (
        email_transport(load(tmp_path, "[email]\ntransport = 'file'\nsmtp_host = 'm'\n").email)
        == "file"
    )


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.edgar.rate_per_s = 10.0  # type: ignore[misc]
