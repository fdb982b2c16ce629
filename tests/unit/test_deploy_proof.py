"""scripts/deploy-proof's override files replace what a registry brings and leave the mesh as compose.yaml has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MESH = ("tron-client", "tron-relay", "wallet-manager", "usdt-manager", "staking", "payment-gateway", "payout-router",
        "beta-sidecar")
#: What the proof may change in a service of the mesh: the way to TronGrid (devnet, directly), the dependency on
#: tor that goes with it, start_interval (podman 4.3 has no such flag), and under qemu memory limits and the probe's
#: timeout.
ALLOWED = {"environment", "depends_on", "healthcheck", "mem_limit", "memswap_limit"}
DIRECT = {"TRONGRID_URL", "USE_TOR_FOR_EXTERNAL_CALLS", "ALLOW_DIRECT_EXTERNAL_CALLS", "TOR_ONLY"}


class _ComposeLoader(yaml.SafeLoader):
    """podman-compose's merge tags (!override, !reset) read as ("!tag", value)."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> tuple[str, Any]:
    if isinstance(node, yaml.SequenceNode):
        return ("!" + suffix, loader.construct_sequence(node))
    if isinstance(node, yaml.MappingNode):
        return ("!" + suffix, loader.construct_mapping(node))
    return ("!" + suffix, loader.construct_scalar(node))


_ComposeLoader.add_multi_constructor("!", _tagged)


def _load(name: str) -> dict[str, Any]:
    return yaml.load((DEPLOY / name).read_text(), Loader=_ComposeLoader)


def test_the_proof_changes_no_service_beyond_its_way_to_trongrid_and_what_podman_4_3_lacks() -> None:
    for name in ("compose.proof.yaml", "compose.proof-qemu.yaml"):
        services = _load(name)["services"]
        for service in MESH:
            assert set(services.get(service, {})) <= ALLOWED, (name, service)
            assert set(services.get(service, {}).get("environment", {})) <= DIRECT, (name, service)
            assert set(services.get(service, {}).get("healthcheck", {})) <= {"start_interval", "timeout"}, name


def test_only_the_two_services_that_call_trongrid_reach_devnet_and_they_lose_only_tor() -> None:
    base, proof = _load("compose.yaml")["services"], _load("compose.proof.yaml")["services"]
    changed = {service for service in MESH if "environment" in proof.get(service, {})}
    assert changed == {"tron-client", "tron-relay"}
    for service in changed:
        assert proof[service]["environment"]["TRONGRID_URL"] == "http://devnet:8090"
        tag, kept = proof[service]["depends_on"]
        assert tag == "!override"
        assert set(kept) == (set(base[service]["depends_on"]) - {"tor"}) | {"devnet"}


def test_registry_images_are_replaced_by_the_proof_images_and_tor_is_not_started() -> None:
    proof = _load("compose.proof.yaml")["services"]
    assert "lucid-proof" in proof["mongo"]["image"] and "lucid-proof" in proof["devnet"]["image"]
    assert "lucid-redis" in proof["redis"]["image"]
    assert proof["tor"] == {"profiles": ["tor"]} and proof["mongo-init"] == {"profiles": ["mongod"]}
    assert all("image" not in proof.get(service, {}) for service in MESH)
