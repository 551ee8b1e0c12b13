"""Load shedding under overload: goodput, latency, 503 share and memory at 1x, 2x and 4x capacity.

Run ``python -m bench.load`` (``--quick``: shorter levels). ``veracity serve`` runs in a subprocess on loopback
with the verdict cache off (every request does the full work, as distinct pages would) and checks a health
paragraph per request. Clients run a closed loop: send, and on a 503 retry after a short pause (not the
server's Retry-After, which would lower the load the level is meant to offer).

* Capacity is the goodput (200s per second) with as many clients as the server admits at once
  (``VERACITY_MAX_IN_FLIGHT``): every request is admitted and the machine is busy.
* 2x and 4x run two and four times as many clients. The target: at 4x, goodput at least 80% of capacity,
  the rest answered 503 with Retry-After, quickly.
* Baseline, measured in the same run: the same 4x load on a server that admits everything at once
  (``VERACITY_MAX_IN_FLIGHT`` = the number of clients), which is what shedding is there to prevent.

Writes bench/results/load.json and load.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from bench import machine, results_dir, table, write_result
from bench.server import rss_mb, running_server

MAX_IN_FLIGHT = 4  # the server's default
# One request: a short health paragraph (5 sentences, 4 of them claims), each request a new text variant.
PARAGRAPH = (
    "Opioid withdrawal can cause nausea, sweating and muscle aches. Naloxone reverses an opioid overdose. "
    "Methadone and buprenorphine are used to treat opioid use disorder. Kratom is not approved by the FDA "
    "for any medical use. Read more about treatment options below."
)


def _client(base: str, stop: threading.Event, out: list[tuple[float, int]], name: int) -> None:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    n = 0
    while not stop.is_set():
        n += 1
        body = json.dumps({"text": f"{PARAGRAPH} (Client {name}, request {n}.)"})
        t0 = time.perf_counter()
        try:
            conn.request("POST", parts.path + "/check", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            status = 0  # a dropped connection counts against the server
        out.append((time.perf_counter() - t0, status))
        if status == 503:
            time.sleep(0.1)
    conn.close()


def level(base: str, pid: int, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``seconds``; requests still running at the end are counted when done."""
    stop = threading.Event()
    records: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    threads = [threading.Thread(target=_client, args=(base, stop, records[i], i), daemon=True) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    rows = [r for per_client in records for r in per_client]
    ok = sorted(lat for lat, status in rows if status == 200)
    shed = sorted(lat for lat, status in rows if status == 503)
    other = [status for _, status in rows if status not in (200, 503)]

    memory = rss_mb(pid)

    def pct(values: list[float], q: float) -> float | None:
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000) if values else None

    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(rows),
        "ok": len(ok),
        "goodput_per_s": round(len(ok) / elapsed, 2),
        "p50_ms": pct(ok, 0.50),
        "p95_ms": pct(ok, 0.95),
        "shed_share": round(len(shed) / len(rows), 3) if rows else 0.0,
        "shed_p95_ms": pct(shed, 0.95),
        "errors": len(other),
        "error_statuses": sorted(set(other)),
        "rss_mb": memory["VmRSS"],
        "peak_rss_mb": memory["VmHWM"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per level instead of 40 s")
    args = parser.parse_args(argv)
    seconds = 10.0 if args.quick else 40.0
    started = time.perf_counter()
    env = {"VERACITY_VERDICT_CACHE_SIZE": "0", "VERACITY_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT)}
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "max_in_flight": MAX_IN_FLIGHT}
    with running_server(env) as (base, pid):
        level(base, pid, MAX_IN_FLIGHT, min(seconds, 10.0))  # warm-up: first requests load lazy parts
        results["levels"] = {f"{m}x": level(base, pid, m * MAX_IN_FLIGHT, seconds) for m in (1, 2, 4)}
    unbounded = {**env, "VERACITY_MAX_IN_FLIGHT": str(4 * MAX_IN_FLIGHT)}
    with running_server(unbounded) as (base, pid):
        level(base, pid, MAX_IN_FLIGHT, min(seconds, 10.0))
        results["baseline_4x_no_shedding"] = level(base, pid, 4 * MAX_IN_FLIGHT, seconds)
    capacity = results["levels"]["1x"]["goodput_per_s"]
    results["goodput_at_4x_vs_capacity"] = round(results["levels"]["4x"]["goodput_per_s"] / capacity, 3)
    results["seconds"] = round(time.perf_counter() - started, 1)
    markdown = render(results)
    print(markdown)
    write_result("load", results, markdown, results_dir(args.quick))
    return 0


def render(r: dict[str, Any]) -> str:
    capacity = r["levels"]["1x"]["goodput_per_s"]
    rows = []
    named = [(f"{k} ({v['clients']} clients)", v) for k, v in r["levels"].items()]
    named.append(
        (
            f"baseline: 4x, no shedding ({r['baseline_4x_no_shedding']['clients']} admitted)",
            r["baseline_4x_no_shedding"],
        )
    )
    for name, v in named:
        rows.append(
            [
                name,
                f"{v['goodput_per_s']:.2f}/s",
                f"{v['goodput_per_s'] / capacity:.0%}",
                f"{v['p50_ms']} / {v['p95_ms']} ms",
                f"{v['shed_share']:.1%}",
                "-" if v["shed_p95_ms"] is None else f"{v['shed_p95_ms']} ms",
                str(v["errors"]),
                f"{v['rss_mb']:g} MB (peak {v['peak_rss_mb']:g})",
            ]
        )
    verdict = "met" if r["goodput_at_4x_vs_capacity"] >= 0.8 else "NOT met"
    return "\n".join(
        [
            "# Load shedding (loopback, `veracity serve`)",
            "",
            f"{r['machine']}; VERACITY_MAX_IN_FLIGHT={r['max_in_flight']}, verdict cache off; each request checks a "
            f"5-sentence paragraph; {r['levels']['1x']['seconds']:g} s per level; {r['seconds']:g} s in all.",
            "",
            table(
                ["load", "goodput", "of capacity", "p50 / p95 (200s)", "503 share", "503 p95", "other errors", "RSS"],
                rows,
            ),
            "",
            f"Goodput at 4x is {r['goodput_at_4x_vs_capacity']:.0%} of capacity (target at least 80%: {verdict}).",
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
