"""The shared connection pool: one pywa client per number and token, one pool per event loop."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox_fixture import DEFAULT_NUMBER
from wacrm.outbound import client as client_module
from wacrm.outbound.client import client_for, close_shared
from wacrm.outbound.errors import AuthError

CONFIG = {
    "phone_number_id": DEFAULT_NUMBER["phone_number_id"],
    "access_token": DEFAULT_NUMBER["access_token"],
    "business_account_id": DEFAULT_NUMBER["waba_id"],
}


async def test_sends_reuse_one_client_and_one_connection(graph_base: Any) -> None:
    graph_base.register_number(enforce_window=False)
    await close_shared()
    async with client_for(CONFIG, graph_base.graph) as first:
        wamid1 = await first.send_text("4915100000001", "one")
    async with client_for(CONFIG, graph_base.graph) as second:
        wamid2 = await second.send_text("4915100000002", "two")
    assert second is first
    assert wamid1 != wamid2
    got = await graph_base.asent_messages(DEFAULT_NUMBER["phone_number_id"])
    sent = {m["to"] for m in got["messages"]}
    assert {"4915100000001", "4915100000002"} <= sent
    shared = client_module._shared_for_loop()
    assert list(shared.transports) == [CONFIG["phone_number_id"]]  # a pool per number
    pool = shared.transports[CONFIG["phone_number_id"]]._pool
    assert len(pool.connections) == 1  # keep-alive: the second send reused the first connection
    await close_shared()
    assert client_module._shared_for_loop() is not shared  # closed, a new pool comes next


async def test_another_token_gets_its_own_client_with_its_own_authorization(
    graph_base: Any,
) -> None:
    graph_base.register_number(enforce_window=False)
    await close_shared()
    async with client_for(CONFIG, graph_base.graph) as good:
        await good.send_text("4915100000003", "ok")
    wrong = {**CONFIG, "access_token": "not-the-right-token-123"}
    async with client_for(wrong, graph_base.graph) as bad:
        assert bad is not good
        with pytest.raises(AuthError):  # the sandbox refuses the token: the good one was not reused
            await bad.send_text("4915100000004", "refused")
    async with client_for(CONFIG, graph_base.graph) as again:
        assert again is good
        await again.send_text("4915100000005", "still ok")
    await close_shared()
