"""DeriveAddresses over gRPC: a batch of consecutive fresh addresses recorded at once, without races with single
derivations, idempotent on request_id, its count checked, and the kinds of wallet that have nothing to derive."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from integration.wallet_manager.wallet_kit import Running, create_hd, create_watch_only
from lucid.tron.v1 import wallet_pb2
from lucid_tron import keys


async def test_a_batch_is_the_next_consecutive_indexes_recorded_with_their_label(running: Running) -> None:
    wallet = await create_hd(running.stub)

    batch = await running.stub.DeriveAddresses(
        wallet_pb2.DeriveAddressesRequest(wallet_id=wallet.wallet_id, count=5, label="invoices")
    )

    assert [address.index for address in batch.addresses] == [1, 2, 3, 4, 5]
    assert {address.label for address in batch.addresses} == {"invoices"}
    listed = await running.stub.ListAddresses(wallet_pb2.ListAddressesRequest(wallet_id=wallet.wallet_id))
    assert list(listed.addresses)[1:] == list(batch.addresses)
    assert [address.derivation_path for address in batch.addresses] == [keys.tron_path(0, n) for n in range(1, 6)]


async def test_batches_and_single_derivations_at_once_never_share_an_index(running: Running) -> None:
    wallet = await create_hd(running.stub)

    batches = [running.stub.DeriveAddresses(wallet_pb2.DeriveAddressesRequest(wallet_id=wallet.wallet_id, count=25))
               for _ in range(4)]
    singles = [running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id))
               for _ in range(20)]
    answers = await asyncio.gather(*batches, *singles)

    indexes = [address.index for answer in answers[:4] for address in answer.addresses]
    indexes += [answer.address.index for answer in answers[4:]]
    assert sorted(indexes) == list(range(1, 121))
    after = await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet.wallet_id))
    assert after.wallet.address_count == 121


async def test_a_batch_retried_with_the_same_request_id_returns_the_same_addresses(running: Running) -> None:
    wallet = await create_hd(running.stub)
    request = wallet_pb2.DeriveAddressesRequest(wallet_id=wallet.wallet_id, count=3, request_id=str(uuid.uuid4()))

    first = await running.stub.DeriveAddresses(request)
    again = await running.stub.DeriveAddresses(request)

    assert again == first
    assert (await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet.wallet_id))).wallet.address_count == 4


async def test_a_batch_is_one_audit_entry_naming_its_range(running: Running) -> None:
    wallet = await create_hd(running.stub)

    batch = await running.stub.DeriveAddresses(wallet_pb2.DeriveAddressesRequest(wallet_id=wallet.wallet_id, count=4))

    entries = (await running.stub.ListAuditEntries(wallet_pb2.ListAuditEntriesRequest(page_size=500))).entries
    derived = [entry for entry in entries if entry.action == "addresses.derive"]
    assert len(derived) == 1
    assert batch.addresses[0].address in derived[0].details_json and batch.addresses[-1].address in derived[0].details_json


@pytest.mark.parametrize("count", [0, 1001])
async def test_a_count_outside_1_to_1000_is_invalid(running: Running, count: int) -> None:
    wallet = await create_hd(running.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeriveAddresses(wallet_pb2.DeriveAddressesRequest(wallet_id=wallet.wallet_id, count=count))

    assert "count" in field_violations(refused.value)


async def test_a_batch_from_a_watch_only_wallet_is_a_failed_precondition(running: Running) -> None:
    watch = await create_watch_only(running.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeriveAddresses(wallet_pb2.DeriveAddressesRequest(wallet_id=watch.wallet_id, count=2))

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == "WALLET_KIND"


async def test_a_batch_from_an_unknown_wallet_is_not_found(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeriveAddresses(wallet_pb2.DeriveAddressesRequest(wallet_id="w_" + "1" * 24, count=2))

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
