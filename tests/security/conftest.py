"""Fixtures for hostile-input tests: an app that also knows a global app secret, an agent with a number."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import WEBHOOK_URL, make_agent_user
from tests.inbound.conftest import APP_SECRET, PNID
from wacrm.numbers import service as numbers

ACCESS_TOKEN = "EAAB-hostile-access-token-5f1c9e"  # noqa: S105 (a test value)


@pytest.fixture
def settings(settings: Any) -> Any:
    """Test settings plus WHATSAPP_APP_SECRET, so that bodies without a phone_number_id verify too."""
    return settings.model_copy(update={"whatsapp_app_secret": APP_SECRET})


@pytest.fixture
async def agent(conn: Any) -> dict[str, Any]:
    """An agent whose user owns the number PNID (app secret APP_SECRET)."""
    a = await make_agent_user(conn, "seller@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=a["user_id"],
        whatsapp_number="+15550001111",
        phone_number_id=PNID,
        business_account_id="102290129340398",
        access_token=ACCESS_TOKEN,
        app_secret=APP_SECRET,
        verify_token="verify-token-abc",
    )
    return a
