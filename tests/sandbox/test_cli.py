"""`wacrm sandbox` starts the sandbox with the numbers given by flags or a JSON file."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from wacrm.sandbox.server import free_port

WACRM = [sys.executable, "-c", "from wacrm.cli import main; main()"]


@pytest.mark.slow  # a real process: imports the whole CLI (several seconds on a busy machine)
def test_cli_registers_numbers_and_prints_the_base_url(tmp_path) -> None:
    port = free_port()
    numbers = tmp_path / "numbers.json"
    numbers.write_text(
        json.dumps(
            [
                {
                    "phone_number_id": "3001",
                    "display_phone_number": "15550003001",
                    "waba_id": "4001",
                    "access_token": "file-token-3001",
                    "app_secret": "file-secret-3001",
                }
            ]
        )
    )
    cmd = [
        *WACRM,
        "sandbox",
        "--port",
        str(port),
        "--numbers-file",
        str(numbers),
        "--phone-number-id",
        "3002",
        "--display-phone-number",
        "15550003002",
        "--waba-id",
        "4001",
        "--access-token",
        "flag-token-3002",
        "--app-secret",
        "flag-secret-3002",
        "--webhook-url",
        "http://127.0.0.1:9/webhooks/whatsapp",
        "--messages-per-second",
        "20",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                numbers_now = httpx.get(f"{base}/sandbox/numbers").json()["numbers"]
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    "the sandbox did not start"
                )
                time.sleep(0.1)
        assert {n["phone_number_id"] for n in numbers_now} == {"3001", "3002"}
        assert (
            next(n for n in numbers_now if n["phone_number_id"] == "3002")["messages_per_second"]
            == 20
        )
        details = httpx.get(
            f"{base}/v23.0/3002", headers={"Authorization": "Bearer flag-token-3002"}
        )
        assert details.json()["display_phone_number"] == "15550003002"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"WHATSAPP_API_BASE_URL=http://127.0.0.1:{port}" in out


def test_cli_refuses_an_invalid_number() -> None:
    from typer.testing import CliRunner

    from wacrm.cli.main import app

    result = CliRunner().invoke(app, ["sandbox", "--port", "1", "--phone-number-id", "x"])
    assert result.exit_code != 0 and "invalid number" in result.output
    bad = CliRunner().invoke(app, ["sandbox", "--status-delays", "1,2"])
    assert bad.exit_code != 0 and "status-delays" in bad.output
