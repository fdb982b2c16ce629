"""`<state-dir>/endpoints.json`: where a running `lucid-tron up` serves, for `status`, tests and tools.

    {"services": {"tron-client": "127.0.0.1:41001", ...},
     "metrics": {"tron-client": "127.0.0.1:41101", ...},
     "health": {"tron-client": "127.0.0.1:41201", ...},
     "tls": {"ca": ".../pki/ca.pem", "operator_cert": ".../pki/operators/<user>/cert.pem", "operator_key": "..."},
     "devnet": {"url": "http://127.0.0.1:40123", "usdt_contract": "T..."},
     "mongo_url": "mongodb://127.0.0.1:40200/?replicaSet=secantus",
     "redis_url": "redis://127.0.0.1:40300/0",
     "payment_wallet": {"wallet_id": "...", "address": "T..."},
     "payout_wallet": {"wallet_id": "...", "address": "T..."},
     "staking_wallet": {"wallet_id": "...", "address": "T..."}}

`up` writes it once every service is SERVING and deletes it when it stops, so its presence means a mesh is (or
was, if `up` was killed) running. "metrics" is where Prometheus scrapes each service (`http://<host:port>/metrics`).
"health" is each service's plaintext grpc.health.v1 port (HEALTH_PORT); the service addresses require mutual TLS,
and "tls" names the CA bundle and an operator's certificate and key that grpcurl (-cacert -cert -key) and buf curl
(--cacert --cert --key) use to call them. Without TLS (`up --insecure-plaintext`) there is no "tls" entry.
The URLs may carry credentials when given by the user: the file is private (0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ENDPOINTS_FILE", "Endpoints", "EndpointsError"]

ENDPOINTS_FILE = "endpoints.json"


class EndpointsError(Exception):
    """endpoints.json is missing or is not what `up` writes."""


@dataclass(frozen=True)
class Endpoints:
    services: dict[str, str]
    devnet_url: str
    usdt_contract: str
    mongo_url: str
    redis_url: str
    metrics: dict[str, str]
    health: dict[str, str]
    #: {"ca", "operator_cert", "operator_key"} -> path; None in plaintext mode.
    tls: dict[str, str] | None
    #: {"wallet_id", "address"} of the HD wallet whose addresses invoices are paid to (PAYMENT_WALLET_ID).
    payment_wallet: dict[str, str] | None = None
    #: {"wallet_id", "address"} of the HD wallet whose first address pays payouts (PAYOUT_WALLET_ID).
    payout_wallet: dict[str, str] | None = None
    #: {"wallet_id", "address"} of the HD wallet whose first address stakes and delegates (STAKING_WALLET_ID).
    staking_wallet: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        tls = {} if self.tls is None else {"tls": dict(self.tls)}
        return {
            "services": dict(self.services),
            "metrics": dict(self.metrics),
            "health": dict(self.health),
            **tls,
            "devnet": {"url": self.devnet_url, "usdt_contract": self.usdt_contract},
            "mongo_url": self.mongo_url,
            "redis_url": self.redis_url,
            **({} if self.payment_wallet is None else {"payment_wallet": dict(self.payment_wallet)}),
            **({} if self.payout_wallet is None else {"payout_wallet": dict(self.payout_wallet)}),
            **({} if self.staking_wallet is None else {"staking_wallet": dict(self.staking_wallet)}),
        }

    @classmethod
    def from_json(cls, data: Any) -> Endpoints:
        try:
            services, metrics, health, tls = data["services"], data["metrics"], data["health"], data.get("tls")
            for entry in (services, metrics, health, tls or {}):
                if not isinstance(entry, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
                ):
                    raise TypeError("services, metrics, health and tls must map names to strings")
            if tls is not None and set(tls) != {"ca", "operator_cert", "operator_key"}:
                raise TypeError("tls must name exactly ca, operator_cert and operator_key")
            return cls(
                services=services,
                metrics=metrics,
                health=health,
                tls=tls,
                devnet_url=str(data["devnet"]["url"]),
                usdt_contract=str(data["devnet"]["usdt_contract"]),
                mongo_url=str(data["mongo_url"]),
                redis_url=str(data["redis_url"]),
                payment_wallet=data.get("payment_wallet"),
                payout_wallet=data.get("payout_wallet"),
                staking_wallet=data.get("staking_wallet"),
            )
        except (KeyError, TypeError) as error:
            raise EndpointsError(f"not an endpoints file written by `lucid-tron up`: {error}") from None

    def write(self, state_dir: Path) -> Path:
        """Write `<state_dir>/endpoints.json` atomically (a reader never sees half a file)."""
        path = state_dir / ENDPOINTS_FILE
        partial = path.with_suffix(".json.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(self.to_json(), file, indent=2)
            file.write("\n")
        os.replace(partial, path)
        return path

    @classmethod
    def read(cls, state_dir: Path) -> Endpoints:
        path = state_dir / ENDPOINTS_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EndpointsError(f"no {path}: is `lucid-tron up --state-dir {state_dir}` running?") from None
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as error:
            raise EndpointsError(f"{path} is not JSON: {error}") from None
