"""Webhook ingest: `wacrm serve` vs a bare JSON endpoint under wrk, open-loop p99, exact row counts."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench import env
from bench.fixtures import (
    Agent,
    Payload,
    build_payloads,
    journal_waiting,
    make_agents,
    redeliver,
    stored,
)
from bench.load import open_loop, run_wrk
from bench.report import row

SIZES: dict[str, dict[str, Any]] = {
    "full": {"agents": 10, "seconds": 10, "rate": 1000, "rate_seconds": 10, "max_rate": 8000},
    "quick": {"agents": 3, "seconds": 3, "rate": 500, "rate_seconds": 3, "max_rate": 8000},
    "tiny": {"agents": 2, "seconds": 1, "rate": 100, "rate_seconds": 1, "max_rate": 6000},
}


def _journal_max_id(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM webhook_journal").fetchone()
    return int(row[0]) if row else 0


def _drain(url: str, timeout: float = 600) -> float:
    """Seconds until the journal processor has processed every waiting row."""
    t0 = time.perf_counter()
    while journal_waiting(url):
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("the journal processor did not catch up")
        time.sleep(0.05)
    return round(time.perf_counter() - t0, 2)


def _processing(url: str, first_id: int, constant_from: int, started: float) -> dict[str, Any]:
    """Journal → inbox figures: processing rate of the wrk phases, lag in the constant-rate run."""
    with psycopg.connect(url) as conn:
        # the wrk phases: everything journaled before the constant-rate run, processed as fast as
        # the processor can (from the first request to the last row processed)
        total = conn.execute(
            "SELECT count(*), extract(epoch FROM max(processed_at)) FROM webhook_journal"
            " WHERE id > %s AND id <= %s AND status = 'processed'",
            (first_id, constant_from),
        ).fetchone()
        lag = conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM processed_at - received_at) * 1000)"
            " FROM webhook_journal WHERE id > %s",
            (constant_from,),
        ).fetchone()
        failed = conn.execute(
            "SELECT count(*) FROM webhook_journal WHERE id > %s AND status = 'failed'", (first_id,)
        ).fetchone()
    assert total is not None and lag is not None and failed is not None
    n, last = int(total[0]), float(total[1] or started)
    p50, p99 = lag[0] or [None, None]
    return {
        "processed": n,
        "failed": int(failed[0]),
        "processed_per_second": round(n / max(1e-6, last - started), 1),
        "constant_lag_p50_ms": round(p50, 1) if p50 is not None else None,
        "constant_lag_p99_ms": round(p99, 1) if p99 is not None else None,
    }


def _one_configuration(
    url: str, agents: list[Agent], payloads: list[Payload], workers: int, size: dict[str, Any]
) -> tuple[dict[str, Any], list[Payload]]:
    """Bare ceiling, CRM under wrk, CRM at a constant rate, RSS; returns (result, payloads sent)."""
    bare, bare_url = env.start_bare(workers=workers)
    with bare:
        run_wrk(f"{bare_url}/webhooks/whatsapp", payloads[:2000], seconds=1)  # warm-up
        ceiling = run_wrk(f"{bare_url}/webhooks/whatsapp", payloads, seconds=size["seconds"])
    crm, base = env.start_crm(url, workers=workers)
    with crm, env.start_processor(url):
        # the constant-rate run's payloads are set aside first: wrk, however fast, cannot use them
        # (past the end of its share it sends its payloads again, as Meta's re-deliveries)
        n_rate = int(size["rate"] * size["rate_seconds"])
        at_rate, for_wrk = payloads[-n_rate:], payloads[:-n_rate]
        first_id = _journal_max_id(url)
        started = time.time()
        warm = run_wrk(f"{base}/webhooks/whatsapp", for_wrk, seconds=1)
        sent = for_wrk[: min(warm["issued"], len(for_wrk))]
        warm_distinct = len(sent)
        rest = for_wrk[len(sent) :]
        if not rest:
            raise RuntimeError("wrk's warm-up used every payload: raise the size's max_rate")
        closed = run_wrk(f"{base}/webhooks/whatsapp", rest, seconds=size["seconds"])
        closed_distinct = min(closed["issued"], len(rest))
        sent += rest[:closed_distinct]
        backlog_after_wrk = journal_waiting(url)
        drained_after_wrk = _drain(url)
        constant_from = _journal_max_id(url)
        constant = open_loop(f"{base}/webhooks/whatsapp", at_rate, rate=size["rate"])
        sent += at_rate
        rss = crm.rss_mib()
        # 200s for distinct payloads: past the end of its share wrk re-sends (Meta's re-deliveries),
        # and those 200s answer payloads already counted
        answered = (
            min(warm["ok"], warm_distinct) + min(closed["ok"], closed_distinct) + constant["ok"]
        )
        drained_after_constant = _drain(url)
        processing = _processing(url, first_id, constant_from, started)
        processing.update(
            backlog_after_wrk=backlog_after_wrk,
            drain_seconds_after_wrk=drained_after_wrk,
            drain_seconds_after_constant=drained_after_constant,
        )
        found, _ = stored(url, agents, sent)
        missing = [p for p in sent if p.wamid not in found]
        # Meta re-delivers what was not answered 200 (wrk drops its in-flight requests at the end),
        # and sometimes what was: both must leave exactly one row per message.
        redelivered = redeliver(base, missing + sent[:50])
    return (
        {
            "workers": workers,
            "bare": ceiling,
            "crm": closed,
            "ratio": round(closed["per_second"] / ceiling["per_second"], 3)
            if ceiling["per_second"]
            else None,
            "constant_rate": constant,
            "answered_200": answered,
            "stored_before_redelivery": len(found),
            "no_loss": len(found) >= answered,
            "redelivered": {"unanswered": len(missing), "already_stored": 50, "ok": redelivered},
            "rss_mib": rss,
            "processing": processing,
        },
        sent,
    )


def run(
    server: env.Server, size_name: str = "full", workers_list: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size, "runs": []}
    with server.database("ingest") as url:
        env.use_crm_settings(url)
        t0 = time.perf_counter()
        agents = make_agents(url, size["agents"], token=False)
        out["setup_agents_seconds"] = round(time.perf_counter() - t0, 2)
        per_run = (
            # wrk's 1 s warm-up and its run at up to max_rate/s, then the constant-rate run
            int(size["max_rate"] * (size["seconds"] + 1) + size["rate"] * size["rate_seconds"])
            + 1000
        )
        t0 = time.perf_counter()
        payloads = build_payloads(agents, per_run * len(workers_list))
        out["build_payloads_seconds"] = round(time.perf_counter() - t0, 2)
        all_sent: list[Payload] = []
        for k, workers in enumerate(workers_list):
            chunk = payloads[k * per_run : (k + 1) * per_run]
            result, sent = _one_configuration(url, agents, chunk, workers, size)
            all_sent += sent
            out["runs"].append(result)
        found, duplicates = stored(url, agents, all_sent)
        out["check"] = {
            "distinct_webhooks_sent": len(all_sent),
            "messages_sent": sum(p.kind == "message" for p in all_sent),
            "statuses_sent": sum(p.kind == "status" for p in all_sent),
            "stored": len(found),
            "duplicates": duplicates,
            "no_loss_before_redelivery": all(r["no_loss"] for r in out["runs"]),
            "exact": len(found) == len(all_sent)
            and duplicates == 0
            and all(r["no_loss"] for r in out["runs"]),
        }
        out["media_share"] = round(
            sum(b"mime_type" in p.body and p.kind == "message" for p in all_sent)
            / max(1, len(all_sent)),
            3,
        )
    return out


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the docs table for this benchmark."""
    rows: list[dict[str, Any]] = []
    for r in result["runs"]:
        w = r["workers"]
        rows.append(
            row(
                f"Ingest, {w} web process(es): webhooks/s journaled, answered 200"
                f" (wrk, {r['crm']['connections']} conns)",
                r["crm"]["per_second"],
                "/s",
                None,
                None,
                note=f"bare JSON endpoint {r['bare']['per_second']}/s; p50 {r['crm']['p50_ms']} ms, "
                f"p99 {r['crm']['p99_ms']} ms",
            )
        )
        rows.append(
            row(
                f"Ingest, {w} web process(es): ratio to bare endpoint",
                r["ratio"],
                "",
                0.6 if w == 1 else 0.8,
                ">=",
            )
        )
        c = r["constant_rate"]
        rows.append(
            row(
                f"Ingest, {w} web process(es): p99 at {c['offered_per_second']:.0f}/s offered (open loop)",
                c["p99_ms"],
                "ms",
                25,
                "<=",
                note=f"p50 {c['p50_ms']} ms, {c['ok']}/{c['sent']} answered 200",
            )
        )
        pr = r.get("processing")
        if pr:
            rows.append(
                row(
                    f"Ingest, {w} web process(es): journal processed into messages (1 processor)",
                    pr["processed_per_second"],
                    "/s",
                    None,
                    None,
                    note=f"wrk phases: {pr['processed']} webhooks, backlog {pr['backlog_after_wrk']}"
                    f" when wrk stopped, drained {pr['drain_seconds_after_wrk']} s later;"
                    f" {pr['failed']} failed",
                )
            )
            if r["bare"]["per_second"]:
                rows.append(
                    row(
                        f"Ingest, {w} web process(es): journal processed into messages / bare"
                        " endpoint",
                        round(pr["processed_per_second"] / r["bare"]["per_second"], 3),
                        "",
                        0.8 if w == 1 else None,
                        ">=" if w == 1 else None,
                    )
                )
            rows.append(
                row(
                    f"Ingest, {w} web process(es): journal → inbox lag p99 at"
                    f" {c['offered_per_second']:.0f}/s",
                    pr["constant_lag_p99_ms"],
                    "ms",
                    None,
                    None,
                    note=f"p50 {pr['constant_lag_p50_ms']} ms (from the journal commit to the"
                    " processing commit)",
                )
            )
        rows.append(
            row(
                f"RSS of a web process after ingest ({w} process(es))",
                max(r["rss_mib"]),
                "MiB",
                250,
                "<=",
            )
        )
    by_workers = {r["workers"]: r["crm"]["per_second"] for r in result["runs"]}
    if by_workers.get(1) and by_workers.get(2):
        rows.append(
            row(
                "Ingest: webhooks/s journaled, 2 web processes / 1 web process",
                round(by_workers[2] / by_workers[1], 3),
                "",
                1.0,
                ">=",
            )
        )
    chk = result["check"]
    rows.append(
        row(
            "Ingest: rows stored = distinct webhooks sent (no loss, no duplicates)",
            "exact" if chk["exact"] else "MISMATCH",
            "",
            "exact",
            "==",
            note=f"{chk['distinct_webhooks_sent']} sent ({chk['messages_sent']} messages, "
            f"{chk['statuses_sent']} statuses), {chk['stored']} stored, "
            f"{chk['duplicates']} duplicates; every 200 was stored before re-delivery: "
            f"{chk['no_loss_before_redelivery']}",
        )
    )
    return rows
