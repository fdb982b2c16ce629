"""Creating, reading, listing and updating wallets over gRPC: HD and watch-only kinds, etags, and key material that
never appears in an answer."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2

from fixtures.rpc_errors import error_reason, field_violations
from integration.wallet_manager.wallet_kit import RECIPIENT, Running, create_hd, generous_policy
from lucid.tron.v1 import wallet_pb2
from lucid_tron.keys import tron_path


async def test_an_hd_wallet_is_created_with_its_first_address_on_the_tron_path(running: Running) -> None:
    wallet = await create_hd(running.stub, display_name="payouts-hot", account=3)

    assert wallet.kind == wallet_pb2.WALLET_KIND_HD
    assert wallet.wallet_id.startswith("w_")
    assert wallet.first_address.startswith("T") and len(wallet.first_address) == 34
    assert wallet.address_count == 1
    assert wallet.account == 3
    assert wallet.account_path == "m/44'/195'/3'/0"
    assert wallet.etag
    listed = await running.stub.ListAddresses(wallet_pb2.ListAddressesRequest(wallet_id=wallet.wallet_id))
    assert [(a.index, a.address, a.derivation_path) for a in listed.addresses] == [
        (0, wallet.first_address, tron_path(3, 0))
    ]


async def test_create_wallet_retried_with_the_same_request_id_returns_the_same_wallet(running: Running) -> None:
    request = wallet_pb2.CreateWalletRequest(request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(display_name="a"))

    first = await running.stub.CreateWallet(request)
    again = await running.stub.CreateWallet(request)

    assert again.wallet == first.wallet
    listed = await running.stub.ListWallets(wallet_pb2.ListWalletsRequest())
    assert [w.wallet_id for w in listed.wallets] == [first.wallet.wallet_id]


async def test_a_watch_only_wallet_holds_the_address_it_was_given(running: Running) -> None:
    created = await running.stub.CreateWallet(
        wallet_pb2.CreateWalletRequest(
            request_id=str(uuid.uuid4()),
            wallet=wallet_pb2.Wallet(kind=wallet_pb2.WALLET_KIND_WATCH_ONLY, first_address=RECIPIENT),
        )
    )

    assert created.wallet.kind == wallet_pb2.WALLET_KIND_WATCH_ONLY
    assert created.wallet.first_address == RECIPIENT
    assert created.wallet.account_path == ""


async def test_a_single_key_wallet_cannot_be_created_over_the_network(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.CreateWallet(
            wallet_pb2.CreateWalletRequest(
                request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(kind=wallet_pb2.WALLET_KIND_SINGLE_KEY)
            )
        )

    assert "import-key" in field_violations(refused.value)["wallet.kind"]


async def test_an_unknown_wallet_kind_is_refused_naming_the_field(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.CreateWallet(
            wallet_pb2.CreateWalletRequest(request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(kind=42))
        )

    assert "unknown enum value 42" in field_violations(refused.value)["wallet.kind"]


async def test_an_unknown_wallet_is_not_found(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id="w_" + "0" * 24))

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_malformed_wallet_id_is_invalid(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id="../etc/passwd"))

    assert "wallet_id" in field_violations(refused.value)


async def test_list_wallets_pages_oldest_first(running: Running) -> None:
    created = [(await create_hd(running.stub, display_name=f"w{n}")).wallet_id for n in range(5)]

    seen, token = [], ""
    while True:
        page = await running.stub.ListWallets(wallet_pb2.ListWalletsRequest(page_size=2, page_token=token))
        seen += [w.wallet_id for w in page.wallets]
        token = page.next_page_token
        if not token:
            break

    assert seen == created


async def test_a_forged_page_token_is_invalid(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.ListWallets(wallet_pb2.ListWalletsRequest(page_token="bm90IGEgdG9rZW4"))

    assert "page_token" in field_violations(refused.value)


async def test_update_wallet_changes_the_spend_policy_named_in_the_mask_and_the_etag(running: Running) -> None:
    wallet = await create_hd(running.stub, display_name="before")
    policy = generous_policy(max_fee_limit_sun=5)

    updated = await running.stub.UpdateWallet(
        wallet_pb2.UpdateWalletRequest(
            wallet=wallet_pb2.Wallet(wallet_id=wallet.wallet_id, etag=wallet.etag, spend_policy=policy, display_name="x"),
            update_mask=field_mask_pb2.FieldMask(paths=["spend_policy"]),
        )
    )

    assert updated.wallet.spend_policy.max_fee_limit_sun == 5
    assert updated.wallet.display_name == "before"
    assert updated.wallet.etag != wallet.etag


async def test_update_wallet_with_a_stale_etag_is_aborted(running: Running) -> None:
    wallet = await create_hd(running.stub)
    mask = field_mask_pb2.FieldMask(paths=["display_name"])
    await running.stub.UpdateWallet(
        wallet_pb2.UpdateWalletRequest(
            wallet=wallet_pb2.Wallet(wallet_id=wallet.wallet_id, etag=wallet.etag, display_name="first"), update_mask=mask
        )
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.UpdateWallet(
            wallet_pb2.UpdateWalletRequest(
                wallet=wallet_pb2.Wallet(wallet_id=wallet.wallet_id, etag=wallet.etag, display_name="second"),
                update_mask=mask,
            )
        )

    assert refused.value.code() == grpc.StatusCode.ABORTED
    assert error_reason(refused.value) == "ETAG_MISMATCH"


async def test_update_wallet_refuses_a_field_it_cannot_change(running: Running) -> None:
    wallet = await create_hd(running.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.UpdateWallet(
            wallet_pb2.UpdateWalletRequest(
                wallet=wallet_pb2.Wallet(wallet_id=wallet.wallet_id, account=7),
                update_mask=field_mask_pb2.FieldMask(paths=["account"]),
            )
        )

    assert "update_mask" in field_violations(refused.value)


async def test_a_spend_policy_with_a_daily_cap_below_the_per_transaction_cap_is_invalid(running: Running) -> None:
    policy = generous_policy(
        caps=[wallet_pb2.AssetCap(asset=1, per_transaction_max_base_units=10, daily_max_base_units=5)]
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create_hd(running.stub, spend_policy=policy)

    assert "wallet.spend_policy.caps[0].daily_max_base_units" in field_violations(refused.value)
