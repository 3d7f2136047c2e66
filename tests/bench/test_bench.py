"""The benchmark harness: every benchmark at a tiny size (counts, not timings), and the docs table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.load import wrk_path

from bench import env, report


@pytest.fixture
def crm_environment() -> Iterator[None]:
    """The harness points this process's settings at its databases; put them back afterwards."""
    from wacrm.config import get_settings

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_benchmark_runs_and_counts_correctly(
    pg_server_url: str, crm_environment: None
) -> None:
    from bench.run import BENCHMARKS, run_all

    from bench import admin_pages

    names = [n for n in BENCHMARKS if n != "ingest" or wrk_path() is not None]
    server = env.Server(pg_server_url)
    result = run_all(names, "tiny", write=False, server=server)
    benches: dict[str, Any] = result["benchmarks"]
    assert not [n for n, b in benches.items() if "error" in b], benches
    assert server.created == []  # every database it made was dropped

    if "ingest" in benches:
        chk = benches["ingest"]["check"]
        assert chk["exact"], chk
        assert chk["stored"] == chk["distinct_webhooks_sent"] > 0
        assert chk["duplicates"] == 0
        for r in benches["ingest"]["runs"]:
            assert r["constant_rate"]["sent"] == r["constant_rate"]["ok"]
            # deferred processing: the journal processor processed every journaled webhook
            assert r["processing"]["processed"] > 0 and r["processing"]["failed"] == 0
            assert (
                r["redelivered"]["ok"]
                == r["redelivered"]["unanswered"] + r["redelivered"]["already_stored"]
            )

    inbox = benches["inbox"]
    assert inbox["database"]["large"]["messages"] == inbox["seed"]["large"]["messages"]
    assert set(inbox["http"]["large"]) >= {
        "inbox_first_page",
        "chat_newest_page",
        "chat_older_page",
    }
    for size in ("small", "large"):  # the web pages, signed in as the agent
        assert set(inbox["web_pages"][size]) == {"inbox_page", "inbox_page_search", "chat_page"}

    team = benches["team"]  # the team inbox's filters: every case ran, over the API too
    assert {"status_open", "assignee_me", "label_vip", "mentions", "counts"} <= set(
        team["database"]
    )
    assert {"api_status_open", "api_label", "api_counts", "web_inbox_mine_vip"} <= set(team["http"])

    agents = benches["agents"]
    assert agents["migration"]["agents_upgraded"] == agents["migration"]["agents"]
    assert agents["migration"]["columns_added"] == agents["migration"]["agents"]
    assert agents["many"]["sizes"]["agents"] == agents["size"]["many"]
    for case in ("few", "many"):  # webhooks spread over every agent: each stored exactly once
        spread = agents["spread"][case]
        assert spread["exact"] and spread["journal"] == {"processed": spread["webhooks"]}, spread
    assert agents["spread"]["many"]["agents"] == agents["size"]["provision"]

    for scenario in ("one_number", "ten_numbers", "ten_numbers_in_turn"):
        s = benches["outbound"][scenario]
        assert s["sent"] == s["queued"] == s["accepted_by_sandbox"], s
        assert s["failed"] == 0 and s["errors"].get("130429", 0) == 0

    export = benches["export"]
    assert export["rows_exported"] == export["orders"] * export["items_per_order"]

    reach = benches["reach"]  # every row imported or merged; every broadcast message accepted
    assert reach["import"]["correct"], reach["import"]
    assert reach["broadcast"]["correct"], reach["broadcast"]

    admin = benches["admin"]  # every admin page answered 200 with few and with many agents
    assert set(admin["few"]) == set(admin["many"]) == set(admin_pages.PAGES)

    table = report.table(result)
    for b in benches.values():
        for r in b["rows"]:
            assert r["what"].replace("|", "\\|") in table


def test_row_compares_with_the_target() -> None:
    assert report.row("a", 20, "ms", 25, "<=")["met"] is True
    assert report.row("a", 30, "ms", 25, "<=") | {"note": ""} == {
        "what": "a",
        "figure": 30,
        "unit": "ms",
        "target": 25,
        "op": "<=",
        "ratio": 1.2,
        "met": False,
        "note": "",
    }
    assert report.row("a", 0.5, "", 0.6, ">=")["met"] is False
    assert report.row("a", "exact", "", "exact", "==")["met"] is True
    assert report.row("a", 1.0, "ms", None, None)["met"] is None


def _result(figure: float) -> dict[str, Any]:
    return {
        "started_at": "2025-01-01 00:00:00",
        "quick": True,
        "seconds": 1.0,
        "conditions": "test",
        "machine": {
            "cpu": "cpu",
            "cores": 2,
            "memory_gib": 1,
            "load_average_at_start": [0, 0, 0],
            "python": "3.11",
            "git_commit": "abc",
        },
        "postgres": {"postgresql": "PostgreSQL 15.0, x", "synchronous_commit": "on", "fsync": "on"},
        "benchmarks": {
            "ingest": {"rows": [report.row("Ingest ratio", figure, "", 0.6, ">=")]},
            "outbound": {"error": "RuntimeError: boom"},
        },
    }


def test_docs_table_is_replaced_between_markers_and_other_prose_kept(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    report.update_doc(_result(0.7), doc)
    first = doc.read_text()
    assert report.BEGIN in first and report.END in first and "| Ingest ratio | 0.7 |" in first
    doc.write_text(
        first.replace(report.BEGIN, "## Conversations\n\nTheir prose.\n\n" + report.BEGIN)
        + "\n## Orders\n\nMore prose.\n"
    )
    report.update_doc(_result(0.5), doc)
    text = doc.read_text()
    assert "Their prose." in text and "More prose." in text
    assert (
        "| Ingest ratio | 0.5 |" in text
        and "0.7" not in text.split(report.BEGIN)[1].split(report.END)[0]
    )
    assert text.count(report.BEGIN) == 1
    assert "| outbound | not run |" in text and "boom" in text


def test_a_partial_run_keeps_the_other_benchmarks_rows(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    report.update_doc(_result(0.7), doc)
    only_outbound = _result(0.7)
    only_outbound["benchmarks"] = {
        "outbound": {"rows": [report.row("Sends/s", 80.0, "/s", 76, ">=")]}
    }
    report.update_doc(only_outbound, doc)
    text = doc.read_text()
    assert "| Ingest ratio | 0.7 |" in text  # kept from the first run
    assert "| Sends/s | 80 /s |" in text and "boom" not in text  # outbound replaced
    assert text.count("<!-- bench:outbound:begin -->") == 1


def test_results_json_is_written_per_date(tmp_path: Path) -> None:
    first = report.write_json(_result(0.7), tmp_path)
    second = report.write_json(_result(0.8), tmp_path)
    assert first != second and first.exists() and second.exists()
    assert '"figure": 0.8' in second.read_text()
