"""Agents with WhatsApp numbers in a benchmark database, and realistic pre-signed webhook payloads."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from wacrm.sandbox.customer import build_message
from wacrm.sandbox.payloads import (
    bsuid_for,
    build_inbound_payload,
    build_status_payload,
    dumps,
    new_wamid,
    sign,
)

WORDS = [
    "hello",
    "hi",
    "price",
    "order",
    "delivery",
    "shoes",
    "size",
    "red",
    "blue",
    "tomorrow",
    "address",
    "cash",
    "thanks",
    "please",
]
MEDIA = {
    "image": ("image/jpeg", "IMG"),
    "voice": ("audio/ogg; codecs=opus", "VOICE"),
    "document": ("application/pdf", "DOC"),
}


@dataclass(frozen=True)
class Agent:
    agent_id: int
    prefix: str
    user_id: Any
    token: str
    phone_number_id: str
    display_phone_number: str
    waba_id: str
    app_secret: str
    access_token: str


@dataclass(frozen=True)
class Payload:
    body: bytes
    signature: str
    kind: str  # "message" | "status"
    agent_id: int
    wamid: str


def number_fields(i: int) -> dict[str, str]:
    return {
        "phone_number_id": str(900_000_000_000 + i),
        "display_phone_number": str(15_550_000_000 + i),
        "waba_id": str(800_000_000_000 + i),
        "app_secret": f"bench-app-secret-{i:06d}",
        "access_token": f"bench-access-token-{i:06d}",
    }


async def _make_agent(conn: psycopg.AsyncConnection[Any], i: int, *, token: bool) -> Agent:
    from wacrm.accounts.service import create_user
    from wacrm.accounts.tokens import create_token
    from wacrm.agents.service import create_agent
    from wacrm.config import get_settings
    from wacrm.numbers.service import configure

    f = number_fields(i)
    user = await create_user(conn, email=f"agent{i}@bench.example", name=f"Agent {i}", role="agent")
    agent = await create_agent(conn, created_by=user["id"], user_id=user["id"])
    await configure(
        conn,
        user_id=user["id"],
        webhook_url=get_settings().webhook_url,
        whatsapp_number=f["display_phone_number"],
        phone_number_id=f["phone_number_id"],
        business_account_id=f["waba_id"],
        access_token=f["access_token"],
        app_secret=f["app_secret"],
        verify_token=f"verify-{i}",
    )
    plain = await create_token(conn, user_id=user["id"], name="bench") if token else ""
    return Agent(agent["id"], agent["agent_prefix"], user["id"], plain, **f)


async def _make_agents(
    url: str, first: int, count: int, *, concurrency: int, token: bool
) -> list[Agent]:
    queue = list(range(first, first + count))
    made: list[Agent] = []

    async def work() -> None:
        async with await psycopg.AsyncConnection.connect(
            url, row_factory=dict_row, autocommit=True
        ) as conn:
            while queue:
                made.append(await _make_agent(conn, queue.pop(0), token=token))

    await asyncio.gather(*(work() for _ in range(max(1, min(concurrency, count)))))
    return sorted(made, key=lambda a: a.agent_id)


def make_agents(
    url: str, count: int, *, first: int = 0, concurrency: int = 1, token: bool = True
) -> list[Agent]:
    """`count` users, each linked to a new agent (tables provisioned) with a WhatsApp number."""
    return asyncio.run(_make_agents(url, first, count, concurrency=concurrency, token=token))


SETUP_CHUNK = 100  # users or numbers per transaction of the setup (a commit each was most of it)


async def bench_users(conn: psycopg.AsyncConnection[Any], first: int, count: int) -> list[Any]:
    """Users agent<first>… agent<first+count-1>@bench.example (role agent); their ids."""
    from wacrm.accounts.service import create_user

    ids = []
    for start in range(first, first + count, SETUP_CHUNK):
        async with conn.transaction():
            for i in range(start, min(start + SETUP_CHUNK, first + count)):
                user = await create_user(
                    conn, email=f"agent{i}@bench.example", name=f"Agent {i}", role="agent"
                )
                ids.append(user["id"])
    return ids


async def bench_numbers(
    conn: psycopg.AsyncConnection[Any],
    first: int,
    agents: list[dict[str, Any]],
    *,
    token: bool,
) -> list[Agent]:
    """A WhatsApp number (number_fields(first + k)) for the k-th agent's user, and a token."""
    from wacrm.config import get_settings

    out: list[Agent] = []
    webhook_url = get_settings().webhook_url
    for k in range(0, len(agents), SETUP_CHUNK):
        async with conn.transaction():
            out += await _numbers_of(
                conn, first + k, agents[k : k + SETUP_CHUNK], webhook_url, token=token
            )
    return out


async def _numbers_of(
    conn: psycopg.AsyncConnection[Any],
    first: int,
    agents: list[dict[str, Any]],
    webhook_url: str,
    *,
    token: bool,
) -> list[Agent]:
    from wacrm.accounts.tokens import create_token
    from wacrm.numbers.service import configure

    out = []
    for i, agent in enumerate(agents, start=first):
        f = number_fields(i)
        await configure(
            conn,
            user_id=agent["user_id"],
            webhook_url=webhook_url,
            whatsapp_number=f["display_phone_number"],
            phone_number_id=f["phone_number_id"],
            business_account_id=f["waba_id"],
            access_token=f["access_token"],
            app_secret=f["app_secret"],
            verify_token=f"verify-{i}",
        )
        plain = await create_token(conn, user_id=agent["user_id"], name="bench") if token else ""
        out.append(Agent(agent["id"], agent["agent_prefix"], agent["user_id"], plain, **f))
    return out


async def _make_agents_bulk(
    url: str, first: int, count: int, *, token: bool, sessions: int
) -> list[Agent]:
    from wacrm.agents.service import AgentSpec, create_agents

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)

    async with await connect() as conn:
        users = await bench_users(conn, first, count)
        made = await create_agents(
            conn,
            created_by=users[0],
            specs=[AgentSpec(user_id=u) for u in users],
            sessions=sessions,
            connect=connect,
        )
        by_user = {a["user_id"]: a for a in made}
        return await bench_numbers(conn, first, [by_user[u] for u in users], token=token)


def make_agents_bulk(
    url: str, count: int, *, first: int = 0, token: bool = False, sessions: int = 3
) -> list[Agent]:
    """As `make_agents`, the agents provisioned with `create_agents` (batches, `sessions` at once)."""
    return asyncio.run(_make_agents_bulk(url, first, count, token=token, sessions=sessions))


def build_payloads(
    agents: list[Agent], count: int, *, customers: int = 5000, seed: int = 7
) -> list[Payload]:
    """`count` distinct signed webhooks: ~85% text, ~5% media, ~10% statuses, many customers."""
    rnd = random.Random(seed)
    out: list[Payload] = []
    for n in range(count):
        agent = agents[n % len(agents)]
        number = {
            "phone_number_id": agent.phone_number_id,
            "display_phone_number": agent.display_phone_number,
            "waba_id": agent.waba_id,
        }
        phone = str(4915_100_000_000 + rnd.randrange(customers))
        roll = rnd.random()
        wamid = new_wamid()
        if roll < 0.10:
            payload = build_status_payload(
                **number,
                wamid=wamid,
                status=rnd.choice(["sent", "delivered", "read"]),
                recipient_id=phone,
                recipient_user_id=bsuid_for(phone, agent.waba_id),
            )
            kind = "status"
        else:
            if roll < 0.15:
                media_kind = rnd.choice(list(MEDIA))
                mime, tag = MEDIA[media_kind]
                media = {"id": f"{tag}{n:012d}", "mime_type": mime, "sha256": f"{n:064x}"[-64:]}
                caption = " ".join(rnd.choices(WORDS, k=3)) if media_kind == "image" else None
                message = build_message(
                    media_kind,
                    caption,
                    media=media,
                    wamid=wamid,
                    business_phone=agent.display_phone_number,
                )
            else:
                text = " ".join(rnd.choices(WORDS, k=rnd.randint(1, 12))).capitalize()
                message = build_message(
                    "text", text, wamid=wamid, business_phone=agent.display_phone_number
                )
            payload = build_inbound_payload(
                **number,
                message=message,
                phone=phone,
                user_id=bsuid_for(phone, agent.waba_id) if rnd.random() < 0.5 else None,
                name=f"Customer {phone[-4:]}",
            )
            kind = "message"
        body = dumps(payload)
        out.append(Payload(body, sign(body, agent.app_secret), kind, agent.agent_id, wamid))
    return out


def stored(url: str, agents: list[Agent], payloads: list[Payload]) -> tuple[set[str], int]:
    """(wamids of these payloads the database holds, duplicate message rows among them).

    A message counts when its agent's messages table has its wamid; a status (for a send the
    CRM does not know) when inbound_early_statuses has it.
    """
    from wacrm.agents.tables import AgentTables

    found: set[str] = set()
    duplicates = 0
    by_agent: dict[int, list[str]] = {}
    for p in payloads:
        if p.kind == "message":
            by_agent.setdefault(p.agent_id, []).append(p.wamid)
    # autocommit: a statement per agent, its locks released at once (one transaction over 1,000
    # agents' tables would fill the server's lock table)
    with psycopg.connect(url, autocommit=True) as conn:
        for agent in agents:
            wamids = by_agent.get(agent.agent_id)
            if not wamids:
                continue
            t = AgentTables(agent.agent_id, agent.prefix)
            rows = conn.execute(
                t.query(
                    "SELECT wamid, count(*) FROM {messages} WHERE wamid = ANY(%s) GROUP BY wamid"
                ),
                (wamids,),
            ).fetchall()
            found.update(r[0] for r in rows)
            duplicates += sum(r[1] - 1 for r in rows)
        rows = conn.execute(
            "SELECT DISTINCT wamid FROM inbound_early_statuses WHERE wamid = ANY(%s)",
            ([p.wamid for p in payloads if p.kind == "status"],),
        ).fetchall()
        found.update(r[0] for r in rows)
    return found, duplicates


def journal_waiting(database_url: str) -> int:
    """Journal rows no processor has processed yet (the benchmarks and the reliability tests)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM webhook_journal WHERE status = 'received'"
        ).fetchone()
    return int(row[0]) if row else 0


def redeliver(base: str, payloads: list[Payload]) -> int:
    """POST payloads again (as Meta does when unsure); the number answered 200."""
    ok = 0
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        for p in payloads:
            r = client.post(
                "/webhooks/whatsapp",
                content=p.body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": p.signature},
            )
            ok += r.status_code == 200
    return ok
