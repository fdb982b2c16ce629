"""tron-client: `python -m lucid_tron.services.tron_client`.

Environment: TRONGRID_URL (required; `lucid-tron up` passes devnet's), TRONGRID_API_KEY (secret, optional),
TRONGRID_TIMEOUT_S, the mesh's CALL_TIMEOUT_S / GRPC_HOST / GRPC_PORT / LOG_* and Tor's variables
(`tor_proxy.TorSettings`: Tor is required unless USE_TOR_FOR_EXTERNAL_CALLS=false and
ALLOW_DIRECT_EXTERNAL_CALLS=true, which is logged as a WARNING and meant only for a devnet on loopback; while Tor is
required TRONGRID_URL must be https://, or http:// to loopback, a .test name or a .onion service).
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.mesh import ServiceSpec, metrics, run
from lucid_tron.trongrid import TronGridClient, TronGridSettings
from tor_proxy import TorRuntime

from .servicer import TronClientServicer, registration

NAME = "tron-client"


@dataclass(frozen=True, kw_only=True)
class TronClientSettings(TronGridSettings):
    """TronGrid's settings and the mesh's (CALL_TIMEOUT_S bounds a call without a deadline, retries included)."""


def build(settings: TronClientSettings) -> ServiceSpec:
    # Tor is this service's one way out: while it is down the process reports NOT_SERVING ("tor") and calls fail
    # fast, since there is nothing it could answer.
    tor = TorRuntime(settings.tor_config)
    metrics.counter_from("lucid_tor_rotations_total", "Tor circuit rotations", lambda: tor.stats.rotations)
    trongrid = TronGridClient(
        settings.trongrid_url, tor.proxy, api_key=settings.trongrid_api_key, timeout_s=settings.trongrid_timeout_s
    )
    metrics.counter_from("lucid_trongrid_requests_total", "HTTP requests sent to TronGrid, retries included",
                         lambda: trongrid.stats.requests)
    metrics.counter_from("lucid_trongrid_throttled_total", "TronGrid answers 429 Too Many Requests",
                         lambda: trongrid.stats.throttled)
    servicer = TronClientServicer(trongrid)
    return ServiceSpec(name=NAME, services=[registration(servicer)], on_start=[tor.start], on_stop=[tor.close])


if __name__ == "__main__":
    run(build, TronClientSettings)
