"""Libraries below the servicer do not load the gRPC server runtime: the layering is checked in a fresh interpreter."""

from __future__ import annotations

import pytest

from fixtures.imports import modules_after_importing


@pytest.mark.parametrize(
    "module",
    [
        "lucid_tron.trongrid",
        "lucid_tron.context",
        "lucid_tron.config",
        "lucid_tron.authz",
        "lucid_tron.errors",
        "lucid_tron.validation",
        "tor_proxy",
    ],
)
def test_library_imports_without_grpc(module: str) -> None:
    loaded = modules_after_importing(module)
    assert "grpc" not in loaded
    assert "lucid_tron.mesh" not in loaded


def test_lazy_package_faces_load_nothing_until_a_name_is_used() -> None:
    loaded = modules_after_importing("lucid_tron.chain", "lucid_tron.storage", "lucid_tron.testing")
    assert {"coincurve", "pymongo", "redis", "stem", "lucid.tron.chain.protocol_pb2"}.isdisjoint(loaded)


def test_lazy_name_is_loaded_on_first_use_and_cached() -> None:
    import lucid_tron.chain as chain

    first = chain.is_address
    assert chain.is_address is first
    assert "is_address" in dir(chain)
    assert chain.protocol.Transaction.DESCRIPTOR.full_name.endswith("Transaction")
    with pytest.raises(AttributeError):
        chain.no_such_name  # noqa: B018


def test_the_trongrid_client_alone_loads_neither_protobuf_nor_the_reads() -> None:
    loaded = modules_after_importing("lucid_tron.trongrid")
    assert {"google.protobuf", "lucid.tron.v1.common_pb2", "lucid_tron.trongrid._reads"}.isdisjoint(loaded)


def test_a_trongrid_read_is_loaded_on_first_use() -> None:
    from lucid_tron import trongrid

    assert trongrid.now_block.__module__ == "lucid_tron.trongrid._reads"
    assert trongrid.block_header_message.__module__ == "lucid_tron.trongrid._messages"


def test_the_pki_settings_load_neither_grpc_nor_cryptography() -> None:
    loaded = modules_after_importing("lucid_tron.pki")
    assert {"grpc", "cryptography"}.isdisjoint(loaded)


def test_a_service_runtime_serves_mtls_without_loading_cryptography() -> None:
    # Certificates are issued by `lucid-tron pki` and `up`; a service only hands PEM files to grpc.
    assert "cryptography" not in modules_after_importing("lucid_tron.mesh", "lucid_tron.peers")
