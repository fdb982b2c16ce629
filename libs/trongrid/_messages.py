"""The values of the TronGrid reads as lucid.tron.v1 messages, and the proto enums as domain values.

Shared by the services that answer chain reads (tron-client, tron-relay), so the two map TronGrid's answers to the
contracts identically. Loaded only when those services use a name of it: the TronGrid client itself does not need
lucid.tron.v1.
"""

from __future__ import annotations

import dataclasses

from google.protobuf.timestamp_pb2 import Timestamp

from lucid.tron.v1 import common_pb2, tron_client_pb2
from ._values import Account, AccountResources, BlockHeader, Finality, Receipt, Stake

__all__ = [
    "FINALITIES",
    "account_message",
    "account_resources_message",
    "block_header_message",
    "receipt_message",
    "stake_message",
    "timestamp_message",
]

#: Finality numbers a request may carry; FINALITY_UNSPECIFIED means solidified (the contracts say so).
FINALITIES = {common_pb2.FINALITY_HEAD: Finality.HEAD, common_pb2.FINALITY_SOLIDIFIED: Finality.SOLIDIFIED}


def timestamp_message(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def block_header_message(header: BlockHeader) -> common_pb2.BlockHeader:
    return common_pb2.BlockHeader(
        number=header.number,
        block_id=header.block_id,
        parent_block_id=header.parent_block_id,
        block_time=timestamp_message(header.block_time_ms),
        producer_address=header.producer_address,
        transaction_count=header.transaction_count,
        solidified=header.solidified,
    )


def account_message(value: Account) -> common_pb2.Account:
    message = common_pb2.Account(address=value.address, activated=value.activated, balance_sun=value.balance_sun)
    if value.create_time_ms is not None:
        message.create_time.CopyFrom(timestamp_message(value.create_time_ms))
    return message


def account_resources_message(value: AccountResources) -> common_pb2.AccountResources:
    # The dataclass is named field for field after the message.
    return common_pb2.AccountResources(**dataclasses.asdict(value))


#: TRON's resource names as lucid.tron.v1.Resource numbers.
RESOURCES = {"BANDWIDTH": common_pb2.RESOURCE_BANDWIDTH, "ENERGY": common_pb2.RESOURCE_ENERGY}


def stake_message(value: Stake) -> tron_client_pb2.GetStakeResponse:
    unfreezes = [
        common_pb2.PendingUnfreeze(
            resource=RESOURCES[u.resource],
            amount_sun=u.amount_sun,
            withdrawable_time=timestamp_message(u.withdrawable_ms),
        )
        for u in value.unfreezes
        if u.resource in RESOURCES
    ]
    delegations = []
    for d in value.delegations:
        message = common_pb2.Delegation(
            receiver_address=d.receiver, resource=RESOURCES[d.resource], amount_sun=d.amount_sun
        )
        if d.lock_expire_ms:
            message.lock_expire_time.CopyFrom(timestamp_message(d.lock_expire_ms))
        delegations.append(message)
    return tron_client_pb2.GetStakeResponse(
        unfreezes=unfreezes,
        delegations=delegations,
        delegatable_bandwidth_sun=value.delegatable_bandwidth_sun,
        delegatable_energy_sun=value.delegatable_energy_sun,
        withdrawable_sun=value.withdrawable_sun,
    )


def receipt_message(value: Receipt) -> common_pb2.TransactionReceipt:
    return common_pb2.TransactionReceipt(
        txid=value.txid,
        block_number=value.block_number,
        block_time=timestamp_message(value.block_time_ms),
        result=common_pb2.ExecutionResult.Value(f"EXECUTION_RESULT_{value.result.name}"),
        result_code=value.result_code,
        result_message=value.result_message,
        fee_sun=value.fee_sun,
        energy_used=value.energy_used,
        energy_burned=value.energy_burned,
        energy_fee_sun=value.energy_fee_sun,
        bandwidth_used=value.bandwidth_used,
        bandwidth_fee_sun=value.bandwidth_fee_sun,
        contract_address=value.contract_address,
        logs=[
            common_pb2.Log(index=log.index, contract_address=log.contract_address, topics=log.topics, data=log.data)
            for log in value.logs
        ],
        solidified=value.solidified,
    )
