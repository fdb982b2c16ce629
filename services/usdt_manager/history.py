"""An address's USDT history: TronGrid's account history of the configured contract, read through tron-relay
(ListAddressTransfers), newest first, a page at a time.

The history is for people (statements, support). It carries neither block number nor log index, so it is never a
basis for crediting: that is the chain watcher's job, on solidified receipts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lucid.tron.v1 import relay_pb2
from lucid_tron.peers import RelayService

INCOMING = "INCOMING"
OUTGOING = "OUTGOING"


@dataclass(frozen=True)
class HistoryQuery:
    address: str
    #: INCOMING, OUTGOING or None for both.
    direction: str | None
    only_confirmed: bool
    start: datetime | None
    end: datetime | None
    page_size: int
    #: tron-relay's token of the page to read; "" for the first.
    relay_token: str


@dataclass(frozen=True)
class HistoryEntry:
    txid: str
    from_address: str
    to_address: str
    amount_base_units: int
    block_time: datetime
    direction: str


class TransferHistory:
    """The USDT history of addresses, from tron-relay."""

    def __init__(self, relay: RelayService, usdt_contract: str) -> None:
        self._relay = relay
        self._usdt_contract = usdt_contract

    async def page(self, query: HistoryQuery) -> tuple[list[HistoryEntry], str]:
        """One page of `query` and tron-relay's token of the next ("" on the last). The direction is applied to the
        page as read, so a page can hold fewer entries than asked even when more follow."""
        request = relay_pb2.ListAddressTransfersRequest(
            address=query.address,
            contract_address=self._usdt_contract,
            only_confirmed=query.only_confirmed,
            page_size=query.page_size,
            page_token=query.relay_token,
        )
        if query.start is not None:
            request.min_block_time.FromDatetime(query.start)
        if query.end is not None:
            request.max_block_time.FromDatetime(query.end)
        answer = await self._relay.rpc.ListAddressTransfers(request)
        entries = []
        for transfer in answer.transfers:
            if transfer.contract_address != self._usdt_contract:
                continue  # the relay filters by contract; a lookalike token must never show up as USDT
            direction = INCOMING if transfer.to_address == query.address else OUTGOING
            if query.direction is not None and direction != query.direction:
                continue
            entries.append(
                HistoryEntry(
                    txid=transfer.txid,
                    from_address=transfer.from_address,
                    to_address=transfer.to_address,
                    amount_base_units=transfer.amount_base_units,
                    block_time=transfer.block_time.ToDatetime(tzinfo=UTC),
                    direction=direction,
                )
            )
        return entries, answer.next_page_token
