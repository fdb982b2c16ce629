"""The gRPC adapter of wallet-manager: lucid.tron.v1.WalletService over `Wallets` and `Signer`.

Each RPC checks its request (`messages`, every bad field named at once), calls the domain, and maps the answer back.
CreateWallet, and DeriveAddress when given a request_id, run under the store's idempotency keys (AIP-155).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lucid.tron.v1 import wallet_pb2, wallet_pb2_grpc
from lucid_tron.errors import InvalidArgument
from lucid_tron.mesh import Registration
from lucid_tron.validation import FieldChecks

from . import messages
from .signing import Signer
from .spend_policy import SpendPolicy
from .wallets import HD, WATCH_ONLY, Wallets, wallet_id_for


class WalletManagerServicer(wallet_pb2_grpc.WalletServiceServicer):
    """lucid.tron.v1.WalletService."""

    def __init__(self, wallets: Wallets, signer: Signer) -> None:
        self._wallets = wallets
        self._signer = signer

    async def CreateWallet(self, request: wallet_pb2.CreateWalletRequest, context: Any) -> wallet_pb2.CreateWalletResponse:
        check = FieldChecks()
        check.string("request_id", request.request_id, max_length=128)
        wallet = request.wallet
        kind = check.enum("wallet.kind", wallet.kind, messages.WALLET_KINDS_BY_NUMBER, unspecified=HD)
        if kind not in (HD, WATCH_ONLY, None):
            check.fail("wallet.kind", "single-key wallets are imported on the host: `lucid-tron wallet import-key`")
        display_name = check.string("wallet.display_name", wallet.display_name, required=False,
                                    max_length=messages.MAX_DISPLAY_NAME) or ""
        account = check.non_negative("wallet.account", wallet.account, maximum=messages.MAX_BIP32_INDEX) or 0
        watched = None
        if kind == WATCH_ONLY:
            watched = check.address("wallet.first_address", wallet.first_address)
            if wallet.account:
                check.fail("wallet.account", "a watch-only wallet has no accounts")
        policy = messages.spend_policy(check, "wallet.spend_policy", wallet.spend_policy)
        check.done()
        wallet_id = wallet_id_for(request.request_id)

        async def create() -> wallet_pb2.CreateWalletResponse:
            if kind == WATCH_ONLY:
                assert watched is not None
                created = await self._wallets.create_watch_only(
                    wallet_id, display_name=display_name, address=watched, policy=policy
                )
            else:
                created = await self._wallets.create_hd(
                    wallet_id, display_name=display_name, account=account, policy=policy
                )
            return wallet_pb2.CreateWalletResponse(wallet=messages.wallet_message(created))

        return await self._wallets.store.idempotency_keys.run(
            "CreateWallet", request.request_id, request, create, wallet_pb2.CreateWalletResponse
        )

    async def GetWallet(self, request: wallet_pb2.GetWalletRequest, context: Any) -> wallet_pb2.GetWalletResponse:
        check = FieldChecks()
        wallet_id = messages.wallet_id(check, "wallet_id", request.wallet_id)
        check.done()
        assert wallet_id is not None
        return wallet_pb2.GetWalletResponse(wallet=messages.wallet_message(await self._wallets.get(wallet_id)))

    async def ListWallets(self, request: wallet_pb2.ListWalletsRequest, context: Any) -> wallet_pb2.ListWalletsResponse:
        check = FieldChecks()
        size, position = messages.page(check, request.page_size, request.page_token)
        after = None
        if position is not None:
            if not (isinstance(position, list) and len(position) == 2 and isinstance(position[0], int)
                    and isinstance(position[1], str)):
                check.fail("page_token", "is not a next_page_token of ListWallets")
            else:
                after = (datetime.fromtimestamp(position[0] / 1000, UTC), position[1])
        check.done()
        wallets, token = messages.cut(
            await self._wallets.page(after, size + 1),
            size,
            lambda last: [int(last["created_at"].timestamp() * 1000), last["_id"]],
        )
        return wallet_pb2.ListWalletsResponse(
            wallets=[messages.wallet_message(wallet) for wallet in wallets], next_page_token=token
        )

    async def UpdateWallet(self, request: wallet_pb2.UpdateWalletRequest, context: Any) -> wallet_pb2.UpdateWalletResponse:
        check = FieldChecks()
        wallet = request.wallet
        wallet_id = messages.wallet_id(check, "wallet.wallet_id", wallet.wallet_id)
        paths = list(request.update_mask.paths)
        if not paths:
            check.fail("update_mask", f"required: name the fields to change ({', '.join(messages.UPDATABLE_FIELDS)})")
        for path in paths:
            if path not in messages.UPDATABLE_FIELDS:
                check.fail("update_mask", f"{path!r} cannot be changed; only {', '.join(messages.UPDATABLE_FIELDS)}")
        display_name = None
        if "display_name" in paths:
            display_name = check.string("wallet.display_name", wallet.display_name, required=False,
                                        max_length=messages.MAX_DISPLAY_NAME) or ""
        policy: SpendPolicy | None = None
        if "spend_policy" in paths:
            policy = messages.spend_policy(check, "wallet.spend_policy", wallet.spend_policy)
        etag = check.string("wallet.etag", wallet.etag, required=False, max_length=64)
        check.done()
        assert wallet_id is not None
        updated = await self._wallets.update(wallet_id, etag=etag, display_name=display_name, policy=policy)
        return wallet_pb2.UpdateWalletResponse(wallet=messages.wallet_message(updated))

    async def DeriveAddress(self, request: wallet_pb2.DeriveAddressRequest, context: Any) -> wallet_pb2.DeriveAddressResponse:
        check = FieldChecks()
        wallet_id = messages.wallet_id(check, "wallet_id", request.wallet_id)
        index = None
        if request.HasField("index"):
            index = check.non_negative("index", request.index, maximum=messages.MAX_BIP32_INDEX)
        label = check.string("label", request.label, required=False, max_length=messages.MAX_LABEL) or ""
        check.string("request_id", request.request_id, required=False, max_length=128)
        check.done()
        assert wallet_id is not None

        async def derive() -> wallet_pb2.DeriveAddressResponse:
            recorded = await self._wallets.derive(wallet_id, index=index, label=label)
            return wallet_pb2.DeriveAddressResponse(address=messages.address_message(recorded))

        if not request.request_id:
            return await derive()
        return await self._wallets.store.idempotency_keys.run("DeriveAddress", request.request_id, request, derive, wallet_pb2.DeriveAddressResponse)

    async def DeriveAddresses(
        self, request: wallet_pb2.DeriveAddressesRequest, context: Any
    ) -> wallet_pb2.DeriveAddressesResponse:
        check = FieldChecks()
        wallet_id = messages.wallet_id(check, "wallet_id", request.wallet_id)
        count = request.count
        if not 1 <= count <= messages.MAX_DERIVED_AT_ONCE:
            check.fail("count", f"must be between 1 and {messages.MAX_DERIVED_AT_ONCE}, got {count}")
        label = check.string("label", request.label, required=False, max_length=messages.MAX_LABEL) or ""
        check.string("request_id", request.request_id, required=False, max_length=128)
        check.done()
        assert wallet_id is not None

        async def derive() -> wallet_pb2.DeriveAddressesResponse:
            recorded = await self._wallets.derive_many(wallet_id, count, label)
            return wallet_pb2.DeriveAddressesResponse(addresses=[messages.address_message(one) for one in recorded])

        if not request.request_id:
            return await derive()
        return await self._wallets.store.idempotency_keys.run(
            "DeriveAddresses", request.request_id, request, derive, wallet_pb2.DeriveAddressesResponse
        )

    async def ListAddresses(self, request: wallet_pb2.ListAddressesRequest, context: Any) -> wallet_pb2.ListAddressesResponse:
        check = FieldChecks()
        wallet_id = messages.wallet_id(check, "wallet_id", request.wallet_id)
        size, after = messages.counted_page(check, request.page_size, request.page_token)
        check.done()
        assert wallet_id is not None
        addresses, token = messages.cut(
            await self._wallets.addresses(wallet_id, after, size + 1), size, lambda last: last["index"]
        )
        return wallet_pb2.ListAddressesResponse(
            addresses=[messages.address_message(address) for address in addresses], next_page_token=token
        )

    async def SignTransaction(
        self, request: wallet_pb2.SignTransactionRequest, context: Any
    ) -> wallet_pb2.SignTransactionResponse:
        try:
            parsed = messages.sign_request(request)
        except InvalidArgument as refusal:
            await self._signer.record_refusal(
                request.wallet_id, request.raw_data, refusal, kind=None, reference=request.reference
            )
            raise
        return messages.signature_message(await self._signer.sign(parsed))

    async def ListAuditEntries(
        self, request: wallet_pb2.ListAuditEntriesRequest, context: Any
    ) -> wallet_pb2.ListAuditEntriesResponse:
        check = FieldChecks()
        size, after = messages.counted_page(check, request.page_size, request.page_token)
        check.done()
        entries, token = messages.cut(
            await self._wallets.store.audit_page(after, size + 1), size, lambda last: last["_id"]
        )
        return wallet_pb2.ListAuditEntriesResponse(
            entries=[messages.audit_message(entry) for entry in entries], next_page_token=token
        )

    async def VerifyAuditLog(
        self, request: wallet_pb2.VerifyAuditLogRequest, context: Any
    ) -> wallet_pb2.VerifyAuditLogResponse:
        store = self._wallets.store
        broken = await store.audit_log.verify()
        count = await store.audit_length()
        if broken is None:
            return wallet_pb2.VerifyAuditLogResponse(intact=True, entry_count=count)
        return wallet_pb2.VerifyAuditLogResponse(
            intact=False, first_broken_seq=broken.seq, problem=broken.problem, entry_count=count
        )


def registration(servicer: WalletManagerServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(wallet_pb2_grpc.add_WalletServiceServicer_to_server, servicer, messages.SERVICE_NAME)
