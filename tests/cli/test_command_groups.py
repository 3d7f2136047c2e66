"""Every documented command is reachable: features adding to one group do not replace it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wacrm.cli.main import app

DOCUMENTED = [
    ("customer", {"import", "erase"}),
    ("agent", {"create", "import", "backup", "restore", "member"}),
    ("webhooks", {"list", "process", "replay"}),
]


@pytest.mark.parametrize(("group", "commands"), DOCUMENTED)
def test_group_has_every_documented_command(group: str, commands: set[str]) -> None:
    result = CliRunner().invoke(app, [group, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")}
    assert commands <= listed, f"{group}: missing {commands - listed}"
