"""Contact import: reading the CSV (row-level errors, normalisation, duplicates), writing all or
nothing with merges by phone / BSUID, the CLI, and opt-out words on inbound messages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.helpers import make_agent_user
from wacrm.cli.main import app as cli
from wacrm.config import get_settings
from wacrm.contacts import csvfile
from wacrm.contacts import service as contacts

CSV = """Name;Mobile;Tags;Opt-in;Notes
Ada Lovelace;0151 2345 6789;vip, wholesale;yes;x
Bob;+33 6 12 34 56 78;;no;
Bad Phone;12;;;
Carl;0151 23456789;;;same person as Ada
;;;;
Dora;+49 30 1234567;bad label!;;
Eve;+4915123456700;;maybe;
"""


def test_parse_normalises_and_reports_rows() -> None:
    parsed = csvfile.parse(CSV.encode(), country="DE")
    assert parsed.total_rows == 6  # the empty row is not counted
    assert [c.phone for c in parsed.contacts] == ["+4915123456789", "+33612345678"]
    ada = parsed.contacts[0]
    assert ada.name == "Carl" and ada.labels == ["vip", "wholesale"] and ada.opted_in is True
    assert parsed.duplicates == 1
    assert parsed.contacts[1].opted_in is False
    assert [(e["line"], e["column"]) for e in parsed.errors] == [
        (4, "phone"),
        (7, "labels"),
        (8, "opt_in"),
    ]
    assert parsed.errors[0]["message"].startswith("not a valid phone number")
    assert parsed.ignored_columns == ["Notes"]


def test_parse_without_country_and_whole_file_errors() -> None:
    parsed = csvfile.parse(b"phone\n0151 2345 6789\n+4915123456789\n", country=None)
    assert parsed.errors[0]["message"].startswith("no country code")
    assert len(parsed.contacts) == 1
    with pytest.raises(csvfile.CsvError, match="no phone column"):
        csvfile.parse(b"name,email\nA,a@example.com\n", country="DE")
    with pytest.raises(csvfile.CsvError, match="empty"):
        csvfile.parse(b"", country="DE")


async def test_write_merges_by_phone_and_bsuid_all_or_nothing(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    await conn.execute(
        tables.query(
            "INSERT INTO {customers} (name, phone, bsuid) VALUES ('Old Ada', '+4915123456789', NULL), ('Hidden', NULL, 'DE.111')"
        )
    )
    await conn.execute(
        tables.query(
            "INSERT INTO {customers} (name, phone, opted_in, opt_in_source) VALUES ('Stopper', '+4915123456701', false, 'keyword: STOP')"
        )
    )
    parsed = csvfile.parse(
        b"name,phone,bsuid,opt_in\nAda,+4915123456789,,yes\nHidden Name,+4915123456702,DE.111,\n"
        b"Stopper,+4915123456701,,yes\nNew,+4915123456703,,no\n",
        country="DE",
    )
    counts = await contacts.write_contacts(conn, tables=tables, contacts=parsed.contacts)
    assert counts == {"created": 1, "merged": 3}
    cur = await conn.execute(
        tables.query(
            "SELECT name, phone, bsuid, opted_in, opt_in_source FROM {customers} ORDER BY id"
        )
    )
    rows = await cur.fetchall()
    assert rows == [
        {
            "name": "Ada",
            "phone": "+4915123456789",
            "bsuid": None,
            "opted_in": True,
            "opt_in_source": "import",
        },
        {
            "name": "Hidden Name",
            "phone": "+4915123456702",
            "bsuid": "DE.111",
            "opted_in": None,
            "opt_in_source": None,
        },
        # an opt-out the customer sent is not undone by an import
        {
            "name": "Stopper",
            "phone": "+4915123456701",
            "bsuid": None,
            "opted_in": False,
            "opt_in_source": "keyword: STOP",
        },
        {
            "name": "New",
            "phone": "+4915123456703",
            "bsuid": None,
            "opted_in": False,
            "opt_in_source": "import",
        },
    ]


async def test_write_is_all_or_nothing(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    parsed = csvfile.parse(b"name,phone\nA,+4915123456781\nB,+4915123456782\n", country=None)
    parsed.contacts[1].name = "x" * 10  # fine
    parsed.contacts.append(
        csvfile.Contact(9, "C", None, None, [], None)
    )  # violates the identity check

    with pytest.raises(Exception, match="check"):
        await contacts.write_contacts(conn, tables=tables, contacts=parsed.contacts)
    cur = await conn.execute(tables.query("SELECT count(*) AS n FROM {customers}"))
    assert (await cur.fetchone())["n"] == 0


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


async def _shop_with_country(db_url: str) -> dict[str, Any]:
    import psycopg
    from psycopg.rows import dict_row

    async with await psycopg.AsyncConnection.connect(
        db_url, row_factory=dict_row, autocommit=True
    ) as conn:
        user = await make_agent_user(conn, "shop@example.com")
        await contacts.set_default_country(conn, agent_id=user["agent"]["id"], country="DE")
        return user


def test_cli_import(db_url: str, sync_conn: Any, cli_env: Any) -> None:
    user = asyncio.run(_shop_with_country(db_url))
    agent = str(user["agent"]["id"])
    count = user["tables"].query("SELECT count(*) AS n FROM {customers}")
    path = cli_env / "people.csv"
    path.write_text(CSV)
    runner = CliRunner()
    refused = runner.invoke(cli, ["customer", "import", str(path), "--agent", agent, "--json"])
    assert refused.exit_code == 1
    out = json.loads(refused.stdout.strip().splitlines()[-1])
    assert out["written"] is False and out["error_rows"] == 3
    assert sync_conn.execute(count).fetchone()["n"] == 0
    done = runner.invoke(
        cli, ["customer", "import", str(path), "--agent", agent, "--skip-invalid", "--json"]
    )
    assert done.exit_code == 0, done.stdout
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["written"] and out["created"] == 2
    assert sync_conn.execute(count).fetchone()["n"] == 2
    human = runner.invoke(
        cli, ["customer", "import", str(path), "--agent", agent, "--skip-invalid"]
    )
    assert human.exit_code == 0
    assert "0 new customers, 2 merged" in human.stderr


@pytest.mark.parametrize(
    ("text", "opted_in"),
    [
        ("STOP", False),
        (" stop. ", False),
        ("Stopp!", False),
        ("please stop sending", None),
        ("START", True),
    ],
)
async def test_opt_out_words_on_inbound_messages(
    conn: Any, text: str, opted_in: bool | None
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    cur = await conn.execute(
        tables.query(
            "INSERT INTO {customers} (name, phone) VALUES ('A', '+4915123456781') RETURNING id"
        )
    )
    customer = (await cur.fetchone())["id"]
    await conn.execute(
        tables.query(
            "INSERT INTO {messages} (customer_id, message, direction, wa_type) VALUES (%s, %s, 'inbound', 'text')"
        ),
        (customer, text),
    )
    cur = await conn.execute(tables.query("SELECT opted_in, opt_in_source FROM {customers}"))
    row = await cur.fetchone()
    assert row["opted_in"] is opted_in
    if opted_in is not None:
        assert row["opt_in_source"].startswith("keyword: ")


async def test_opt_out_words_are_configurable_and_outbound_ignored(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    await conn.execute(
        "UPDATE agents SET opt_out_words = %s WHERE id = %s",
        (json.dumps({"en": ["halt"], "sv": ["STOPPA"]}), user["agent"]["id"]),
    )
    cur = await conn.execute(
        tables.query(
            "INSERT INTO {customers} (name, phone) VALUES ('A', '+4915123456781') RETURNING id"
        )
    )
    customer = (await cur.fetchone())["id"]
    insert = tables.query(
        "INSERT INTO {messages} (customer_id, message, direction) VALUES (%s, %s, %s)"
    )
    await conn.execute(insert, (customer, "stoppa", "outbound"))
    await conn.execute(
        insert, (customer, "STOP", "inbound")
    )  # not a word of this workspace any more
    cur = await conn.execute(tables.query("SELECT opted_in FROM {customers}"))
    assert (await cur.fetchone())["opted_in"] is None
    await conn.execute(insert, (customer, "Stoppa", "inbound"))
    cur = await conn.execute(tables.query("SELECT opted_in FROM {customers}"))
    assert (await cur.fetchone())["opted_in"] is False


async def test_import_labels_become_conversation_labels(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    parsed = csvfile.parse(
        b"phone,labels\n+4915123456781,vip;wholesale\n+4915123456782,vip\n", country=None
    )
    await contacts.write_contacts(conn, tables=tables, contacts=parsed.contacts)
    cur = await conn.execute(
        tables.query(
            "SELECT c.phone, array_agg(w.name ORDER BY w.name) AS labels FROM {conversation_labels} cl"
            " JOIN workspace_labels w ON w.id = cl.label_id JOIN {customers} c ON c.id = cl.customer_id"
            " GROUP BY c.phone ORDER BY c.phone"
        )
    )
    assert await cur.fetchall() == [
        {"phone": "+4915123456781", "labels": ["vip", "wholesale"]},
        {"phone": "+4915123456782", "labels": ["vip"]},
    ]
