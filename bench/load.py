"""Closed-loop load over grpc.aio: N calls in flight over K channels, bounded by a count and a time.

The client is the same for every target: it sends pre-serialized request bytes and keeps the response bytes (no
protobuf work in the loop), so the differences between rows are the servers' and what they call. A sample of the
responses is kept for the caller to check what came back (e.g. the relay's cache hits).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from bench.system import cpu_seconds

__all__ = ["Call", "Measurement", "measure", "percentile", "wait_ready"]

#: One call's limit: a stuck server costs a measurement this much, never a hang.
CALL_TIMEOUT_S = 10.0
#: Every Nth successful response is kept for inspection after the timed window.
SAMPLE_EVERY = 32
# grpc shares one connection between channels to the same address with the same options (the global subchannel
# pool); a local pool per channel gives each channel its own HTTP/2 connection, which is the point of K > 1.
_CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)
# A server that is still starting refuses connections; grpc's default reconnect backoff (1 s at first) would be
# counted as start time, so readiness probes reconnect quickly.
_PROBE_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 10),
    ("grpc.min_reconnect_backoff_ms", 10),
    ("grpc.max_reconnect_backoff_ms", 50),
    ("grpc.use_local_subchannel_pool", 1),
)


@dataclass(frozen=True)
class Call:
    """One unary RPC as bytes on the wire."""

    method: str  # "/package.Service/Method"
    request: bytes


@dataclass
class Measurement:
    concurrency: int
    channels: int
    ok: int = 0
    elapsed_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ns: list[int] = field(default_factory=list)
    client_cpu_s: float = 0.0
    #: CPU seconds each watched process (the server, what it calls) spent during the timed window.
    process_cpu_s: dict[str, float] = field(default_factory=dict)
    samples: list[bytes] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ns, 50)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies_ns, 99)

    def cpu_per_call_us(self, seconds: float) -> float | None:
        """CPU seconds per successful call, in microseconds: what a call costs, whatever else ran on the machine."""
        return 1e6 * seconds / self.ok if self.ok else None

    def cpu_percent(self, seconds: float) -> float:
        """CPU seconds as a share of one core over the timed window (200 = both cores of a 2-core machine)."""
        return 100.0 * seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0


def percentile(latencies_ns: list[int], rank: float) -> float | None:
    """The nearest-rank percentile in milliseconds, None without samples."""
    if not latencies_ns:
        return None
    ordered = sorted(latencies_ns)
    index = min(len(ordered), max(1, math.ceil(rank / 100 * len(ordered)))) - 1
    return ordered[index] / 1e6


async def measure(
    address: str,
    call: Call,
    *,
    concurrency: int,
    channels: int,
    max_requests: int,
    duration_s: float,
    warmup_s: float,
    watched: Mapping[str, int],
    credentials: grpc.ChannelCredentials | None = None,
) -> Measurement:
    """Warm up on fresh channels, then run `concurrency` callers until `max_requests` calls or `duration_s` passed.

    `watched` names the processes (name -> pid) whose CPU time is reported for the timed window. `credentials`: mutual
    TLS (None: plaintext). TimeoutError when a channel cannot connect within CALL_TIMEOUT_S.
    """
    opened = [_channel(address, _CHANNEL_OPTIONS, credentials) for _ in range(channels)]
    try:
        for channel in opened:
            await asyncio.wait_for(channel.channel_ready(), CALL_TIMEOUT_S)
        # No serializers: bytes go out as they are and come back as bytes.
        stubs = [channel.unary_unary(call.method) for channel in opened]
        warmup = Measurement(concurrency, channels)
        await _drive(stubs, call.request, warmup, concurrency, max(4 * concurrency, max_requests // 10), warmup_s)
        result = Measurement(concurrency, channels)
        before = {name: cpu_seconds(pid) for name, pid in watched.items()}
        client_before = time.process_time()
        await _drive(stubs, call.request, result, concurrency, max_requests, duration_s)
        result.client_cpu_s = time.process_time() - client_before
        for name, pid in watched.items():
            start, end = before[name], cpu_seconds(pid)
            if start is not None and end is not None:
                result.process_cpu_s[name] = end - start
        return result
    finally:
        for channel in opened:
            await channel.close()


async def _drive(
    stubs: list[grpc.aio.UnaryUnaryMultiCallable],
    request: bytes,
    into: Measurement,
    concurrency: int,
    max_requests: int,
    duration_s: float,
) -> None:
    remaining = max_requests
    deadline = time.perf_counter() + duration_s

    async def caller(stub: grpc.aio.UnaryUnaryMultiCallable) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            started = time.perf_counter_ns()
            try:
                response = await stub(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                into.errors[error.code().name] += 1
                continue
            into.latencies_ns.append(time.perf_counter_ns() - started)
            into.ok += 1
            if into.ok % SAMPLE_EVERY == 1:
                into.samples.append(response)

    began = time.perf_counter()
    await asyncio.gather(*(caller(stubs[index % len(stubs)]) for index in range(concurrency)))
    into.elapsed_s = time.perf_counter() - began


def _channel(
    address: str, options: Sequence[tuple[str, Any]], credentials: grpc.ChannelCredentials | None
) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=list(options))
    return grpc.aio.secure_channel(address, credentials, options=list(options))


async def wait_ready(
    address: str,
    probe: Call,
    answered: Callable[[bytes], bool],
    *,
    timeout_s: float,
    credentials: grpc.ChannelCredentials | None = None,
) -> bool:
    """Call `probe` every 10 ms until `answered(response)` is true (True) or `timeout_s` passed (False)."""
    deadline = time.monotonic() + timeout_s
    async with _channel(address, _PROBE_OPTIONS, credentials) as channel:
        stub = channel.unary_unary(probe.method)
        while time.monotonic() < deadline:
            try:
                if answered(await stub(probe.request, timeout=max(0.05, min(1.0, deadline - time.monotonic())))):
                    return True
            except grpc.aio.AioRpcError:
                pass  # not listening yet, or still starting
            await asyncio.sleep(0.01)
    return False
