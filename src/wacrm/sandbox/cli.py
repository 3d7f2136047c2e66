"""`wacrm sandbox`: run the WhatsApp sandbox on loopback, optionally with numbers registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from wacrm.sandbox.schemas import NumberIn


def _numbers(file: Path | None, flags: dict[str, Any]) -> list[NumberIn]:
    """Numbers from a JSON file (one object or a list) and/or the command-line flags."""
    raw: list[dict[str, Any]] = []
    if file is not None:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc}") from exc
        raw.extend(data if isinstance(data, list) else [data])
    given = {k: v for k, v in flags.items() if v is not None}
    if given:
        raw.append(given)
    try:
        return [NumberIn.model_validate(item) for item in raw]
    except ValidationError as exc:
        raise typer.BadParameter(f"invalid number: {exc}") from exc


def sandbox(
    host: str = typer.Option("127.0.0.1", help="Interface (keep it on loopback)."),
    port: int = typer.Option(8900, help="Port."),
    numbers_file: Path | None = typer.Option(
        None, "--numbers-file", help="JSON: a number or a list."
    ),
    phone_number_id: str | None = typer.Option(None, help="Register a number with this id."),
    display_phone_number: str | None = typer.Option(
        None, help="Its phone number, e.g. 15550001111."
    ),
    waba_id: str | None = typer.Option(None, help="Its WhatsApp Business Account id."),
    access_token: str | None = typer.Option(None, help="The Bearer token the CRM must use."),
    app_secret: str | None = typer.Option(None, help="Secret signing the webhooks."),
    webhook_url: str | None = typer.Option(None, help="The CRM's /webhooks/whatsapp URL."),
    messages_per_second: int | None = typer.Option(None, help="Throughput limit (default 80)."),
    status_delays: str = typer.Option("50,150,400", help="sent,delivered,read delays in ms."),
    webhook_retries: int = typer.Option(4, min=0, help="Re-deliveries of a webhook without a 200."),
) -> None:
    """Run the local WhatsApp Cloud API sandbox (point WHATSAPP_API_BASE_URL at it)."""
    import uvicorn

    from wacrm.sandbox.app import create_sandbox_app
    from wacrm.sandbox.state import SandboxConfig

    try:
        delays = tuple(int(x) for x in status_delays.split(","))
    except ValueError as exc:
        raise typer.BadParameter("--status-delays takes three integers: 50,150,400") from exc
    if len(delays) != 3 or min(delays) < 0:
        raise typer.BadParameter("--status-delays takes three non-negative integers: 50,150,400")
    flags = {
        "phone_number_id": phone_number_id,
        "display_phone_number": display_phone_number,
        "waba_id": waba_id,
        "access_token": access_token,
        "app_secret": app_secret,
        "webhook_url": webhook_url,
        "messages_per_second": messages_per_second,
    }
    config = SandboxConfig(status_delays_ms=delays, webhook_retries=webhook_retries)
    app = create_sandbox_app(config)
    for item in _numbers(numbers_file, flags):
        app.state.sandbox.numbers[item.phone_number_id] = item.to_number(config.status_delays_ms)
    base = f"http://{host}:{port}"
    typer.echo(f"WhatsApp sandbox on {base} (page: {base}/sandbox/)")
    typer.echo(f"WHATSAPP_API_BASE_URL={base}")
    for number in app.state.sandbox.numbers.values():
        typer.echo(
            f"number {number.phone_number_id} ({number.display_phone_number}) -> "
            f"{number.webhook_url or 'no webhook URL'}"
        )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
