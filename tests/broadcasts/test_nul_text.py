"""A NUL character in text the API keeps as JSON (a broadcast's parameters) is a clear 422 naming
it, as it is for text columns, not a server error; nothing is written."""

from __future__ import annotations

from typing import Any

from tests.helpers import bearer


async def test_nul_in_broadcast_parameters_is_422(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    made = await client.post(
        "/api/v1/broadcasts",
        json={"name": "Promo", "template_name": "we_miss_you", "params": ["a\u0000b", "c"]},
        headers=bearer(shop["token"]),
    )
    assert made.status_code == 422, made.text
    assert "NUL" in made.json()["detail"]
    cur = await conn.execute("SELECT count(*) AS n FROM broadcasts")
    assert (await cur.fetchone())["n"] == 0
