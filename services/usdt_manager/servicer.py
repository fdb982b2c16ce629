"""The gRPC adapter of usdt-manager: lucid.tron.v1.UsdtService over `UsdtTransfers`, `Estimator` and
`TransferHistory`.

Each RPC checks its request (`messages`, every bad field named at once), calls the domain, and maps the answer back.
Transfer and Approve run under the store's idempotency keys (AIP-155); under them the domain finds the transaction
a request already signed, so even a request whose key was forgotten never signs twice.
"""

from __future__ import annotations

from typing import Any

from lucid.tron.v1 import usdt_pb2, usdt_pb2_grpc
from lucid_tron.mesh import Registration
from lucid_tron.validation import FieldChecks

from . import messages
from .history import TransferHistory
from .transfers import APPROVE_METHOD, TRANSFER_METHOD, UsdtTransfers


class UsdtManagerServicer(usdt_pb2_grpc.UsdtServiceServicer):
    """lucid.tron.v1.UsdtService."""

    def __init__(self, transfers: UsdtTransfers, history: TransferHistory) -> None:
        self._transfers = transfers
        self._history = history
        self._cap = transfers.estimator.policy.cap_sun

    async def GetBalance(self, request: usdt_pb2.GetBalanceRequest, context: Any) -> usdt_pb2.GetBalanceResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        view = messages.finality(check, request.finality)
        check.done()
        assert address is not None
        balance = await self._transfers.balance(address, view)
        return usdt_pb2.GetBalanceResponse(
            address=address,
            usdt_balance_base_units=balance.usdt_base_units,
            trx_balance_sun=balance.trx_sun,
            activated=balance.activated,
            finality=view,
        )

    async def Transfer(self, request: usdt_pb2.TransferRequest, context: Any) -> usdt_pb2.TransferResponse:
        order = messages.transfer_order(request, fee_limit_cap_sun=self._cap)

        async def send() -> usdt_pb2.TransferResponse:
            sent = await self._transfers.transfer(order)
            return usdt_pb2.TransferResponse(transfer=messages.transfer_message(sent))

        return await self._transfers.store.idempotency_keys.run(
            TRANSFER_METHOD, order.request_id, request, send, usdt_pb2.TransferResponse
        )

    async def GetTransfer(self, request: usdt_pb2.GetTransferRequest, context: Any) -> usdt_pb2.GetTransferResponse:
        check = FieldChecks()
        txid = check.txid("txid", request.txid)
        check.done()
        assert txid is not None
        return usdt_pb2.GetTransferResponse(
            transfer=messages.transfer_message(await self._transfers.transfer_status(txid))
        )

    async def Approve(self, request: usdt_pb2.ApproveRequest, context: Any) -> usdt_pb2.ApproveResponse:
        order = messages.approve_order(request, fee_limit_cap_sun=self._cap)

        async def send() -> usdt_pb2.ApproveResponse:
            sent = await self._transfers.approve(order)
            return usdt_pb2.ApproveResponse(
                transaction=messages.submitted_message(sent), fee_limit_sun=sent["fee_limit_sun"]
            )

        return await self._transfers.store.idempotency_keys.run(
            APPROVE_METHOD, order.request_id, request, send, usdt_pb2.ApproveResponse
        )

    async def GetAllowance(
        self, request: usdt_pb2.GetAllowanceRequest, context: Any
    ) -> usdt_pb2.GetAllowanceResponse:
        check = FieldChecks()
        owner = check.address("owner_address", request.owner_address)
        spender = check.address("spender_address", request.spender_address)
        view = messages.finality(check, request.finality)
        check.done()
        assert owner is not None and spender is not None
        allowance = await self._transfers.contract.allowance(owner, spender, view)
        return usdt_pb2.GetAllowanceResponse(allowance_base_units=allowance)

    async def ListTransfers(
        self, request: usdt_pb2.ListTransfersRequest, context: Any
    ) -> usdt_pb2.ListTransfersResponse:
        query = messages.history_query(request)
        entries, relay_token = await self._history.page(query)
        sent = await self._transfers.store.transactions([entry.txid for entry in entries])
        return usdt_pb2.ListTransfersResponse(
            transfers=[messages.history_message(entry, sent.get(entry.txid)) for entry in entries],
            next_page_token=messages.next_history_token(request, relay_token),
        )

    async def EstimateTransfer(
        self, request: usdt_pb2.EstimateTransferRequest, context: Any
    ) -> usdt_pb2.EstimateTransferResponse:
        sender, recipient, amount = messages.estimate_request(request)
        estimate = await self._transfers.estimator.transfer(sender, recipient, amount)
        return messages.estimate_message(estimate)


def registration(servicer: UsdtManagerServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(usdt_pb2_grpc.add_UsdtServiceServicer_to_server, servicer, messages.SERVICE_NAME)
