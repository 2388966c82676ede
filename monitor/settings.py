"""Settings: embedded defaults < config/monitor.toml < --config FILE < MONITOR_* env < flags.

`load_settings()` reads every layer once and returns one frozen `Settings`. Each key
`[section] key` may also be given as the environment variable `MONITOR_SECTION_KEY`
(lists comma-separated). Secrets (the SMTP password) come only from the environment.
An invalid value raises `ConfigError` naming where it came from and the key.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("config/monitor.toml")
ENV_PREFIX = "MONITOR_"
SECRET_ENV = {"MONITOR_EMAIL_SMTP_PASSWORD"}
MAX_RATE_PER_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgarSettings:
    user_agent: str = ""
    www_url: str = "https://www.sec.gov"
    data_url: str = "https://data.sec.gov"
    mirror: Path | None = None
    rate_per_s: float = 8.0
    timeout_s: float = 30.0
    max_retry_wait_s: float = 120.0
    cache_dir: Path = Path(".cache/edgar")


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistSettings:
    path: Path = Path("config/watchlist.toml")
    forms: tuple[str, ...] = ("10-K", "10-Q", "8-K", "20-F", "6-K")


@dataclass(frozen=True, slots=True, kw_only=True)
class LexiconSettings:
    path: Path = Path("config/lexicon.toml")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    path: Path = Path("data/monitor.db")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSettings:
    dir: Path = Path("out")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    lookback_days: int = 7
    workers: int = 0  # processes that parse and detect in backfill and rescan; 0: every core


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSettings:
    cron: str = "0 7 * * 1-5"
    timezone: str = "America/New_York"
    misfire_grace_s: int = 3600  # a run due while the machine slept still runs this late


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalsSettings:
    inventory_qoq: float = 0.25
    inventory_yoy: float = 0.50
    dio_days: float = 20.0
    writedown_share: float = 0.05
    china_share_pp: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    transport: str = ""  # "" resolves to "smtp" when smtp_host is set, else "file"
    smtp_host: str = ""
    smtp_port: int = 587
    security: str = "starttls"
    smtp_user: str = ""
    from_: str = ""
    to: tuple[str, ...] = ()
    ops_to: tuple[str, ...] = ()  # empty: same as `to`
    smtp_password: str = field(default="", repr=False)  # environment only


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    edgar: EdgarSettings = EdgarSettings()
    watchlist: WatchlistSettings = WatchlistSettings()
    lexicon: LexiconSettings = LexiconSettings()
    store: StoreSettings = StoreSettings()
    output: OutputSettings = OutputSettings()
    run: RunSettings = RunSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    signals: SignalsSettings = SignalsSettings()
    email: EmailSettings = EmailSettings()
    sources: tuple[str, ...] = ()  # the files that were read, for messages


SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Settings)[f.name]
    for f in dataclasses.fields(Settings)
    if f.name != "sources"
}


def toml_key(field_name: str) -> str:
    """The TOML/env spelling of a dataclass field (`from_` is `from`)."""
    return field_name.rstrip("_")


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


def setting_keys() -> list[tuple[str, str]]:
    """Every public `(section, key)`, in declaration order (the README table's rows)."""
    return [
        (section, toml_key(f.name))
        for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
        if f.name != "smtp_password"
    ]


@dataclass(frozen=True, slots=True)
class _Value:
    raw: object
    origin: str  # "config/monitor.toml", "environment MONITOR_X", "--mirror"


def load_settings(
    config_path: Path | None = None,
    *,
    env: Mapping[str, str],
    overrides: Mapping[tuple[str, str], object] | None = None,
    default_path: Path = DEFAULT_CONFIG_PATH,
) -> Settings:
    """Read every layer and return validated, frozen settings."""
    layers: dict[tuple[str, str], _Value] = {}
    sources: list[str] = []
    for path in (default_path, config_path):
        if path is None or (path == default_path and not path.exists()):
            continue
        layers.update(_read_toml_layer(path))
        sources.append(str(path))
    layers.update(_read_env_layer(env))
    for (section, key), raw in (overrides or {}).items():
        layers[(section, key)] = _Value(raw, f"command line ({section}.{key})")
    sections = {name: _build_section(name, cls, layers) for name, cls in SECTIONS.items()}
    email = sections["email"]
    sections["email"] = dataclasses.replace(
        email, smtp_password=env.get("MONITOR_EMAIL_SMTP_PASSWORD", "")
    )
    return Settings(**sections, sources=tuple(sources))


def email_transport(email: EmailSettings) -> str:
    return email.transport or ("smtp" if email.smtp_host else "file")


def _read_toml_layer(path: Path) -> dict[tuple[str, str], _Value]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values: dict[tuple[str, str], _Value] = {}
    for section, table in data.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        known = {toml_key(f.name) for f in dataclasses.fields(SECTIONS[section])}
        for key, raw in table.items():
            if section == "email" and key == "smtp_password":
                raise ConfigError(
                    f"{path}: [email] smtp_password: secrets are read only from the "
                    "environment; remove it and set MONITOR_EMAIL_SMTP_PASSWORD"
                )
            if key not in known:
                raise ConfigError(f"{path}: [{section}] {key}: unknown key")
            values[(section, key)] = _Value(raw, str(path))
    return values


def _read_env_layer(env: Mapping[str, str]) -> dict[tuple[str, str], _Value]:
    by_name = {env_name(section, key): (section, key) for section, key in setting_keys()}
    values: dict[tuple[str, str], _Value] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in SECRET_ENV:
            continue
        if name in by_name:
            values[by_name[name]] = _Value(raw, f"environment {name}")
        else:
            logger.warning("ignoring environment variable %s: no such setting", name)
    return values


def _build_section(name: str, cls: type[Any], layers: Mapping[tuple[str, str], _Value]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        key = toml_key(f.name)
        value = layers.get((name, key))
        if value is None or f.name == "smtp_password":
            continue
        where = f"{value.origin}: [{name}] {key}"
        try:
            converted = _convert(value.raw, hints[f.name])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        problem = _VALIDATORS.get((name, key), _accept)(converted)
        if problem:
            raise ConfigError(f"{where}: {problem}, got {value.raw!r}")
        kwargs[f.name] = converted
    return cls(**kwargs)


def _convert(raw: object, hint: Any) -> object:
    """Turn a TOML value or an environment string into the field's type."""
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    if optional:
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw == "":
            return None
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.lower() in ("true", "1", "yes")
        raise TypeError("must be true or false")
    if hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise TypeError("must be a whole number")
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if hint is float:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise TypeError("must be a number")
        try:
            return float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
    if hint is Path:
        if not isinstance(raw, str):
            raise TypeError("must be a path string")
        return Path(raw).expanduser()
    if hint is str:
        if not isinstance(raw, str):
            raise TypeError("must be a string")
        return raw.strip()
    if typing.get_origin(hint) is tuple:
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise TypeError("must be a list of strings (comma-separated in the environment)")
        return tuple(i.strip() for i in items if i.strip())
    raise TypeError(f"unsupported setting type {hint!r}")  # pragma: no cover


def _accept(value: object) -> str | None:
    return None


def _http_url(value: object) -> str | None:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        return "must be an http(s) base URL such as https://www.sec.gov"
    return None


def _rate(value: object) -> str | None:
    assert isinstance(value, float)
    if not 0 < value <= MAX_RATE_PER_S:
        return f"must be more than 0 and at most {MAX_RATE_PER_S:g} requests per second (SEC rule)"
    return None


def _positive(value: object) -> str | None:
    assert isinstance(value, int | float)
    return None if value > 0 else "must be more than 0"


def _not_negative(value: object) -> str | None:
    assert isinstance(value, int | float)
    return None if value >= 0 else "must be 0 or more"


def _directory(value: object) -> str | None:
    if value is None:
        return None
    assert isinstance(value, Path)
    return None if value.is_dir() else "must be an existing directory laid out as {host}/{path}"


def _forms(value: object) -> str | None:
    assert isinstance(value, tuple)
    bad = [form for form in value if not re.fullmatch(r"[0-9A-Z][0-9A-Z-]*(/A)?", form)]
    if not value or bad:
        return "must list EDGAR form types such as 10-K, 10-Q, 8-K"
    return None


def _timezone(value: object) -> str | None:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "must be an IANA time zone such as America/New_York"
    return None


def _cron(value: object) -> str | None:
    from monitor.serve import cron_trigger  # APScheduler: only when the key is checked

    try:
        cron_trigger(str(value), "UTC")
    except ValueError as exc:
        return f"must be a 5-field cron expression ({exc})"
    return None


def _one_of(*choices: str) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"

    return check


def _port(value: object) -> str | None:
    assert isinstance(value, int)
    return None if 0 < value < 65536 else "must be a TCP port (1-65535)"


_VALIDATORS: dict[tuple[str, str], Callable[[object], str | None]] = {
    ("edgar", "www_url"): _http_url,
    ("edgar", "data_url"): _http_url,
    ("edgar", "mirror"): _directory,
    ("edgar", "rate_per_s"): _rate,
    ("edgar", "timeout_s"): _positive,
    ("edgar", "max_retry_wait_s"): _not_negative,
    ("watchlist", "forms"): _forms,
    ("run", "lookback_days"): _not_negative,
    ("run", "workers"): _not_negative,
    ("schedule", "cron"): _cron,
    ("schedule", "timezone"): _timezone,
    ("schedule", "misfire_grace_s"): _positive,
    ("signals", "inventory_qoq"): _positive,
    ("signals", "inventory_yoy"): _positive,
    ("signals", "dio_days"): _positive,
    ("signals", "writedown_share"): _positive,
    ("signals", "china_share_pp"): _positive,
    ("email", "transport"): _one_of("", "file", "smtp"),
    ("email", "security"): _one_of("starttls", "tls", "ssl", "none"),
    ("email", "smtp_port"): _port,
}
