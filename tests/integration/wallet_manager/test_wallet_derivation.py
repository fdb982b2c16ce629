"""DeriveAddress over gRPC: the next free index without races, idempotent on request_id, chosen indexes, labels,
and the kinds of wallet that have nothing to derive."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from integration.wallet_manager.wallet_kit import Running, create_hd, create_watch_only
from lucid.tron.v1 import wallet_pb2


async def test_100_concurrent_derivations_get_100_distinct_consecutive_indexes(running: Running) -> None:
    wallet = await create_hd(running.stub)

    answers = await asyncio.gather(
        *(running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id)) for _ in range(100))
    )

    indexes = sorted(answer.address.index for answer in answers)
    assert indexes == list(range(1, 101))
    assert len({answer.address.address for answer in answers}) == 100
    after = await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet.wallet_id))
    assert after.wallet.address_count == 101


async def test_derive_retried_with_the_same_request_id_returns_the_same_address(running: Running) -> None:
    wallet = await create_hd(running.stub)
    request = wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id, label="invoice:1", request_id=str(uuid.uuid4()))

    first = await running.stub.DeriveAddress(request)
    again = await running.stub.DeriveAddress(request)

    assert again.address == first.address
    assert (await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet.wallet_id))).wallet.address_count == 2


async def test_a_chosen_index_is_derived_once_and_next_index_derivation_passes_it(running: Running) -> None:
    wallet = await create_hd(running.stub)

    chosen = await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id, index=7, label="cold"))
    again = await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id, index=7, label="other"))
    following = await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id))

    assert again.address == chosen.address
    assert chosen.address.label == "cold"
    assert following.address.index == 8


async def test_list_addresses_pages_in_index_order(running: Running) -> None:
    wallet = await create_hd(running.stub)
    for _ in range(6):
        await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id))

    seen, token = [], ""
    while True:
        page = await running.stub.ListAddresses(
            wallet_pb2.ListAddressesRequest(wallet_id=wallet.wallet_id, page_size=4, page_token=token)
        )
        seen += [address.index for address in page.addresses]
        token = page.next_page_token
        if not token:
            break

    assert seen == list(range(7))


async def test_deriving_from_a_watch_only_wallet_is_a_failed_precondition(running: Running) -> None:
    watch = await create_watch_only(running.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=watch.wallet_id))

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == "WALLET_KIND"


async def test_an_index_beyond_bip32_non_hardened_range_is_invalid(running: Running) -> None:
    wallet = await create_hd(running.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id, index=2**31))

    assert "index" in field_violations(refused.value)


async def test_deriving_from_an_unknown_wallet_is_not_found(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id="w_" + "1" * 24))

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
