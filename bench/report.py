"""The budgets (PASS/MISS) and the human-readable table, both computed from the results dict that `--json` writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["BUDGETS", "budgets", "publish", "table"]

MESH_RATIO_BUDGET = 0.90
RELAY_RATIO_BUDGET = 0.85
SERVICE_RSS_BUDGET_MIB = 60.0
SERVING_BUDGET_S = 3.0

BUDGETS = (
    "mesh echo >= 90% of bare echo req/s at the highest concurrency, every channel count",
    "relay cached GetNowBlock >= 85% of bare echo req/s at the highest concurrency, every channel count",
    "each service's idle RSS <= 60 MiB",
    "every service SERVING within 3 s of `up` spawning them",
)


def publish(results: dict[str, Any], tables: Sequence[str], json_option: str | None) -> None:
    """What every bench command prints: its tables on stdout, unless `--json -` asks for JSON only there; and the
    results as JSON to the file `--json` names."""
    if json_option != "-":
        print("\n\n".join(tables), flush=True)
    if json_option:
        text = json.dumps(results, indent=2)
        if json_option == "-":
            print(text, flush=True)
        else:
            Path(json_option).write_text(text + "\n")


def budgets(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _ratio_budget(results, "mesh-echo", MESH_RATIO_BUDGET, BUDGETS[0]),
        _ratio_budget(results, "relay", RELAY_RATIO_BUDGET, BUDGETS[1]),
        _memory_budget(results),
        _serving_budget(results),
    ]


def _ratio_budget(results: dict[str, Any], target: str, budget: float, name: str) -> dict[str, Any]:
    """`target`'s req/s over the bare echo's at the highest concurrency, for each channel count tried: the median of
    the per-round ratios (the throughput rows' `vs echo`). Met when every channel count meets it. The CPU-per-call
    ratio is shown beside it: it depends much less on what else runs on the machine."""
    top = max(results["settings"]["concurrency"])
    rows = [row for row in results["throughput"] if row["target"] == target and row["concurrency"] == top]
    by_channels = {row["channels"]: row for row in rows if row["ratio"] is not None}
    parts = [
        f"ch={channels}: {_ratio(row['ratio'], row['ratio_min'], row['ratio_max'])}"
        + ("" if row["cpu_ratio"] is None else f", by CPU {row['cpu_ratio']:.2f}")
        for channels, row in sorted(by_channels.items())
    ]
    value = min((row["ratio"] for row in by_channels.values()), default=None)
    return {
        "name": name,
        "value": value,
        "by_channels": {channels: row["ratio"] for channels, row in by_channels.items()},
        "cpu_by_channels": {channels: row["cpu_ratio"] for channels, row in by_channels.items()},
        "budget": budget,
        "shown": "; ".join(parts) or "not measured",
        "status": "PASS" if value is not None and value >= budget else "MISS",
    }


def _memory_budget(results: dict[str, Any]) -> dict[str, Any]:
    services = [row for row in results["memory"]["processes"] if row["kind"] == "service"]
    worst = max(services, key=lambda row: row["idle_rss_kib"] or 0)
    value = (worst["idle_rss_kib"] or 0) / 1024
    over = [row["process"] for row in services if (row["idle_rss_kib"] or 0) / 1024 > SERVICE_RSS_BUDGET_MIB]
    return {
        "name": BUDGETS[2],
        "value": value,
        "worst": worst["process"],
        "over_budget": over,
        "budget": SERVICE_RSS_BUDGET_MIB,
        "shown": f"max {value:.1f} MiB ({worst['process']})" + (f"; over: {', '.join(over)}" if over else ""),
        "status": "MISS" if over else "PASS",
    }


def _serving_budget(results: dict[str, Any]) -> dict[str, Any]:
    startup = results["startup"]
    value = startup["up_slowest_serving_after_s"]
    return {
        "name": BUDGETS[3],
        "value": value,
        "slowest": startup["up_slowest_service"],
        "budget": SERVING_BUDGET_S,
        "shown": f"{value:.2f} s (slowest: {startup['up_slowest_service']})",
        "status": "PASS" if value <= SERVING_BUDGET_S else "MISS",
    }


# -- table -----------------------------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    env, settings = results["environment"], results["settings"]
    load = f"{env['loadavg_start'][0]:.2f} -> {env['loadavg_end'][0]:.2f}"
    lines = [
        f"lucid-tron bench: {env['cpus']} CPUs ({env['machine']}), Python {env['python']}, grpcio {env['grpcio']},"
        f" protobuf {env['protobuf']}; 1-min load average {load}",
        f"{settings['rounds']} rounds x {settings['duration']:g} s per measurement (at most {settings['requests']}"
        f" calls), {settings['warmup']:g} s warm-up each; whole run {results['elapsed_s']:.0f} s",
        "",
        *_throughput(results["throughput"]),
        "",
        *_memory(results["memory"]),
        "",
        *_startup(results["startup"], settings["start_repeats"]),
        "",
        "BUDGETS (informational; --strict exits 1 on a MISS)",
        *_columns([[b["name"], b["shown"], b["status"]] for b in results["budgets"]], right=()),
    ]
    return "\n".join(lines)


def _throughput(rows: list[dict[str, Any]]) -> list[str]:
    header = [
        "target", "conc", "ch", "req/s", "p50 ms", "p99 ms", "vs echo", "srv cpu", "srv us/call", "cpu vs echo",
        "deps us/call", "client cpu", "note",
    ]  # fmt: skip
    body = []
    for row in rows:
        if row["broken"]:
            body.append([row["label"], str(row["concurrency"]), str(row["channels"]), *["-"] * 9, row["broken"]])
            continue
        note = row["note"] + (f"; {row['errors']} errors" if row["errors"] else "")
        body.append(
            [
                row["label"],
                str(row["concurrency"]),
                str(row["channels"]),
                _number(row["requests_per_s"], 0),
                _number(row["p50_ms"], 2),
                _number(row["p99_ms"], 2),
                _ratio(row["ratio"], row["ratio_min"], row["ratio_max"]),
                _percent(row["server_cpu_pct"]),
                _number(row["server_cpu_per_call_us"], 0),
                _ratio(row["cpu_ratio"], row["cpu_ratio_min"], row["cpu_ratio_max"]),
                _number(row["deps_cpu_per_call_us"], 0) if row["target"] in ("relay", "tron-client") else "-",
                _percent(row["client_cpu_pct"]),
                note,
            ]
        )
    return [
        "THROUGHPUT AND LATENCY (medians over rounds; vs echo = req/s over the bare echo's in the same round and"
        " configuration, median (min..max) of rounds;",
        "  srv cpu = the server process's share of one core; srv us/call = its CPU time per call; cpu vs echo = the"
        " echo's us/call over this row's; deps = Redis + devnet; client = this harness's process)",
        *_columns([header, *body], right=(1, 2, 3, 4, 5, 7, 8, 10, 11)),
    ]


def _ratio(value: float | None, low: float | None, high: float | None) -> str:
    return "-" if value is None or low is None or high is None else f"{value:.2f} ({low:.2f}..{high:.2f})"


def _memory(memory: dict[str, Any]) -> list[str]:
    rows = memory["processes"]
    echo_rss = next((row["idle_rss_kib"] for row in rows if row["process"] == "echo"), None)
    header = ["process", "idle RSS MiB", "idle PSS MiB", "RSS after load", "vs echo"]
    body = []
    for row in rows:
        ratio = f"{row['idle_rss_kib'] / echo_rss:.2f}" if echo_rss and row["idle_rss_kib"] else "-"
        body.append(
            [row["process"], _mib(row["idle_rss_kib"]), _mib(row["idle_pss_kib"]), _mib(row["loaded_rss_kib"]), ratio]
        )
    services, mesh = memory["services_total"], memory["mesh_total"]
    count = sum(row["kind"] == "service" for row in rows)
    body.append([f"{count} services together", _mib(services["idle_rss_kib"]), _mib(services["idle_pss_kib"]), "", ""])
    body.append(
        [
            f"whole mesh ({len(mesh['processes'])} processes: services, devnet, mongo, redis, up)",
            _mib(mesh["idle_rss_kib"]),
            _mib(mesh["idle_pss_kib"]),
            "",
            "",
        ]
    )
    return [
        "MEMORY (VmRSS once SERVING and idle; PSS splits shared pages among processes, so its sums add up;"
        " vs echo = RSS over the bare echo server's)",
        *_columns([header, *body], right=(1, 2, 3, 4)),
    ]


def _startup(startup: dict[str, Any], repeats: int) -> list[str]:
    rows = startup["processes"]
    echo_s = next((row["alone_s"] for row in rows if row["process"] == "echo"), None)
    header = ["process", "in up", f"alone, median of {repeats}", "min..max", "vs echo"]
    body = []
    for row in rows:
        spread = (
            f"{row['alone_min_s']:.2f}..{row['alone_max_s']:.2f}" if row["alone_min_s"] is not None else "-"
        ) + (f" ({row['alone_failed']} failed)" if row["alone_failed"] else "")
        ratio = f"{row['alone_s'] / echo_s:.2f}" if echo_s and row["alone_s"] else "-"
        body.append([row["process"], _number(row["up_serving_after_s"], 2), _number(row["alone_s"], 2), spread, ratio])
    return [
        "TIME TO SERVING, s (in up: from `up` spawning all seven at once to each answering SERVING, as `up` reports"
        " it; alone: this process spawned by itself until it answers)",
        *_columns([header, *body], right=(1, 2, 3, 4)),
        f"`up` launched -> every service SERVING, devnet, database and Redis included: {startup['up_ready_after_s']:.2f} s",
    ]


def _columns(rows: Sequence[Sequence[str]], right: Sequence[int]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}" if digits == 0 else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _mib(kib: int | None) -> str:
    return "-" if not kib else f"{kib / 1024:.1f}"
