"""The README is a contract too: its settings table and commands match the code."""

from __future__ import annotations

import re

from monitor.cli import build_parser
from monitor.settings import env_name, setting_keys
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_opens_with_the_two_setup_commands() -> None:
    head = README[: README.index("## Quick start")]
    assert "scripts/demo" in head and "scripts/test" in head


def test_settings_table_lists_every_setting_with_its_variable() -> None:
    rows = re.findall(r"^\| `\[(\w+)\] (\w+)` \| `(MONITOR_\w+)` \|", README, flags=re.M)
    assert [(section, key) for section, key, _ in rows] == setting_keys()
    assert all(variable == env_name(section, key) for section, key, variable in rows)
    assert "`MONITOR_EMAIL_SMTP_PASSWORD`" in README


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands
    for command in commands:
        assert f"`monitor {command}" in README, command
