"""deploy/systemd: the units are valid for this machine's systemd (systemd-analyze verify), their
hardening is applied, and each runs `wacrm check` before it starts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("wacrm-web.service", "wacrm-worker.service")


@pytest.mark.parametrize("unit", UNITS)
def test_units_verify_and_are_hardened(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "ExecStartPre=/opt/wacrm/.venv/bin/wacrm check --skip-meta" in text
    for option in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=wacrm",
        "Restart=on-failure",
    ):
        assert option in text, option
    # verify against this checkout's wacrm (the unit names /opt/wacrm, the documented place)
    wacrm = Path(sys.executable).parent / "wacrm"
    local = tmp_path / unit
    local.write_text(text.replace("/opt/wacrm/.venv/bin/wacrm", str(wacrm)))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(local)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if str(local) in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=true", str(local)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    if found is None:
        pytest.skip(f"systemd-analyze security --offline is not supported here: {security.stderr}")
    assert float(found.group(1)) <= 2.0, security.stdout  # "OK" on systemd's scale of 0-10
