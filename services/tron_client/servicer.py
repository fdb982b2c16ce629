"""TronClientService over gRPC: validate the request, call TronGrid through lucid_tron.trongrid, map back.

Errors are domain errors (the mesh picks the status): bad input InvalidArgument naming the field, an unknown block,
transaction or receipt NotFound, a node's refusal FailedPrecondition with TRON's code, TronGrid down, throttled
or too slow for the caller's deadline Unavailable (the TronGrid client's retries and breaker stay within it).
"""

from __future__ import annotations

import re
from typing import Any

import grpc

from lucid.tron.v1 import tron_client_pb2, tron_client_pb2_grpc
from lucid_tron import trongrid
from lucid_tron.errors import FailedPrecondition, NotFound
from lucid_tron.mesh import Registration
from lucid_tron.trongrid import Finality, TronGridClient
from lucid_tron.validation import FieldChecks

from . import broadcast, fees

__all__ = ["SERVICE_NAME", "TronClientServicer", "registration"]

SERVICE_NAME: str = tron_client_pb2.DESCRIPTOR.services_by_name["TronClientService"].full_name

Context = grpc.aio.ServicerContext[Any, Any]

# name(type,type): the canonical signature TRON hashes into the selector, as given (a space changes it).
_FUNCTION_SELECTOR = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\([A-Za-z0-9_,\[\]()]*\)", re.ASCII)
#: ABI arguments of one call; far above any TRC20 call, small enough to refuse a flood.
MAX_PARAMETER_BYTES = 64 * 1024
CONTRACT_REVERTED = "CONTRACT_REVERTED"

class TronClientServicer(tron_client_pb2_grpc.TronClientServiceServicer):
    def __init__(self, trongrid: TronGridClient) -> None:
        self._trongrid = trongrid

    async def GetNowBlock(  # noqa: N802 - the proto's name
        self, request: tron_client_pb2.GetNowBlockRequest, context: Context
    ) -> tron_client_pb2.GetNowBlockResponse:
        check = FieldChecks()
        finality = check.enum("finality", request.finality, trongrid.FINALITIES, unspecified=Finality.SOLIDIFIED)
        check.done()
        header = await trongrid.now_block(self._trongrid, finality)
        return tron_client_pb2.GetNowBlockResponse(block=trongrid.block_header_message(header))

    async def GetBlock(  # noqa: N802
        self, request: tron_client_pb2.GetBlockRequest, context: Context
    ) -> tron_client_pb2.GetBlockResponse:
        check = FieldChecks()
        number = check.non_negative("block_number", request.block_number)
        check.done()
        found = await trongrid.block(self._trongrid, number)
        if found is None:
            raise NotFound("block", str(number), f"block {number} is beyond the head")
        return tron_client_pb2.GetBlockResponse(header=trongrid.block_header_message(found.header), txids=found.txids)

    async def GetAccount(  # noqa: N802
        self, request: tron_client_pb2.GetAccountRequest, context: Context
    ) -> tron_client_pb2.GetAccountResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        finality = check.enum("finality", request.finality, trongrid.FINALITIES, unspecified=Finality.SOLIDIFIED)
        check.done()
        found = await trongrid.account(self._trongrid, address, finality)
        return tron_client_pb2.GetAccountResponse(account=trongrid.account_message(found))

    async def GetAccountResources(  # noqa: N802
        self, request: tron_client_pb2.GetAccountResourcesRequest, context: Context
    ) -> tron_client_pb2.GetAccountResourcesResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        check.done()
        found = await trongrid.account_resources(self._trongrid, address)
        return tron_client_pb2.GetAccountResourcesResponse(resources=trongrid.account_resources_message(found))

    async def GetStake(  # noqa: N802
        self, request: tron_client_pb2.GetStakeRequest, context: Context
    ) -> tron_client_pb2.GetStakeResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        check.done()
        return trongrid.stake_message(await trongrid.stake(self._trongrid, address))

    async def GetTransaction(  # noqa: N802
        self, request: tron_client_pb2.GetTransactionRequest, context: Context
    ) -> tron_client_pb2.GetTransactionResponse:
        check = FieldChecks()
        txid = check.txid("txid", request.txid)
        finality = check.enum("finality", request.finality, trongrid.FINALITIES, unspecified=Finality.SOLIDIFIED)
        check.done()
        found = await trongrid.transaction(self._trongrid, txid, finality)
        if found is None:
            raise NotFound("transaction", txid, f"transaction {txid} is not in the {finality.value} view")
        return tron_client_pb2.GetTransactionResponse(
            txid=found.txid,
            raw_data=found.raw_data,
            signatures=found.signatures,
            contract_type=found.contract_type,
            owner_address=found.owner_address,
            expiration_time=trongrid.timestamp_message(found.expiration_ms),
            contract_result=found.contract_result,
        )

    async def GetTransactionInfo(  # noqa: N802
        self, request: tron_client_pb2.GetTransactionInfoRequest, context: Context
    ) -> tron_client_pb2.GetTransactionInfoResponse:
        check = FieldChecks()
        txid = check.txid("txid", request.txid)
        finality = check.enum("finality", request.finality, trongrid.FINALITIES, unspecified=Finality.SOLIDIFIED)
        check.done()
        found = await trongrid.transaction_info(self._trongrid, txid, finality)
        if found is None:
            raise NotFound(
                "transaction receipt",
                txid,
                f"no receipt for {txid} in the {finality.value} view (not included, or not {finality.value} yet)",
            )
        return tron_client_pb2.GetTransactionInfoResponse(receipt=trongrid.receipt_message(found))

    async def BroadcastTransaction(  # noqa: N802
        self, request: tron_client_pb2.BroadcastTransactionRequest, context: Context
    ) -> tron_client_pb2.BroadcastTransactionResponse:
        checked = broadcast.check_signed(request.raw_data, list(request.signatures), request.txid)
        sent = await broadcast.send(self._trongrid, checked)
        return tron_client_pb2.BroadcastTransactionResponse(
            txid=sent.txid, duplicate=sent.duplicate, expiration_time=trongrid.timestamp_message(sent.expiration_ms)
        )

    async def GetChainParameters(  # noqa: N802
        self, request: tron_client_pb2.GetChainParametersRequest, context: Context
    ) -> tron_client_pb2.GetChainParametersResponse:
        found = await trongrid.chain_parameters(self._trongrid)
        return tron_client_pb2.GetChainParametersResponse(
            energy_price_sun=found.energy_price_sun,
            bandwidth_price_sun=found.bandwidth_price_sun,
            create_account_fee_sun=found.create_account_fee_sun,
            memo_fee_sun=found.memo_fee_sun,
            max_fee_limit_sun=found.max_fee_limit_sun,
            unfreeze_delay_days=found.unfreeze_delay_days,
            parameters=[tron_client_pb2.ChainParameter(key=key, value=value) for key, value in found.parameters],
        )

    async def EstimateEnergy(  # noqa: N802
        self, request: tron_client_pb2.EstimateEnergyRequest, context: Context
    ) -> tron_client_pb2.EstimateEnergyResponse:
        check = FieldChecks()
        owner = check.address("owner_address", request.owner_address)
        contract, selector, parameter = _contract_call(check, request)
        call_value = check.amount("call_value_sun", request.call_value_sun, allow_zero=True)
        check.done()
        estimate = await fees.estimate_energy(
            self._trongrid,
            owner_address=owner,
            contract_address=contract,
            function_selector=selector,
            parameter=parameter or b"",
            call_value_sun=call_value,
        )
        return tron_client_pb2.EstimateEnergyResponse(
            energy_required=estimate.energy_required, burn_fee_sun=estimate.burn_fee_sun
        )

    async def TriggerConstantContract(  # noqa: N802
        self, request: tron_client_pb2.TriggerConstantContractRequest, context: Context
    ) -> tron_client_pb2.TriggerConstantContractResponse:
        check = FieldChecks()
        owner = check.address("owner_address", request.owner_address, required=False)
        contract, selector, parameter = _contract_call(check, request)
        finality = check.enum("finality", request.finality, trongrid.FINALITIES, unspecified=Finality.SOLIDIFIED)
        check.done()
        assert contract is not None and selector is not None
        called = await trongrid.constant_call(
            self._trongrid,
            # TRON needs a caller; a view that does not read msg.sender answers the same for any.
            owner_address=owner or contract,
            contract_address=contract,
            function_selector=selector,
            parameter=parameter or b"",
            finality=finality,
        )
        if called.reverted:
            raise FailedPrecondition(
                f"{selector} reverted on {contract}", reason=CONTRACT_REVERTED, subject=contract
            )
        return tron_client_pb2.TriggerConstantContractResponse(result=called.output, energy_used=called.energy_used)


def _contract_call(check: FieldChecks, request: Any) -> tuple[str | None, str | None, bytes | None]:
    """(contract_address, function_selector, parameter) of a request that calls a contract."""
    contract = check.address("contract_address", request.contract_address)
    selector = check.pattern(
        "function_selector",
        request.function_selector,
        _FUNCTION_SELECTOR,
        expected='a Solidity signature such as "transfer(address,uint256)", without spaces',
    )
    parameter = check.data(
        "parameter", request.parameter, required=False, max_length=MAX_PARAMETER_BYTES, multiple_of=32
    )
    return contract, selector, parameter


def registration(servicer: TronClientServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(tron_client_pb2_grpc.add_TronClientServiceServicer_to_server, servicer, SERVICE_NAME)
