"""TreasuryService refuses what it cannot use, each with its own code and the field named: a malformed id, an
unknown sweep, bad filters and paging, a missing request_id, no payout wallet, and its peers (wallet-manager, payment-gateway) out of reach (UNAVAILABLE,
fast). Served by a real staking process on a real SecantusDB; no chain is needed (no wallet is configured, so the
sweeper idles)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from lucid.tron.v1 import treasury_pb2 as tr
from lucid.tron.v1 import treasury_pb2_grpc
from lucid_tron.mesh import serving
from lucid_tron.services.staking.__main__ import StakingSettings, build

#: Nothing listens here.
NOBODY = "127.0.0.1:9"
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


@pytest.fixture
async def treasury(mongo_url: str) -> AsyncIterator[treasury_pb2_grpc.TreasuryServiceStub]:
    settings = StakingSettings(
        port=0, insecure_plaintext=True, mongo_url=mongo_url, mongo_database=f"staking_{uuid.uuid4().hex[:12]}",
        tron_client_addr=NOBODY, wallet_manager_addr=NOBODY, payment_gateway_addr=NOBODY,
        usdt_contract=USDT_CONTRACT, dependency_check_interval_s=5.0,
    )
    async with serving(build(settings), settings) as server, grpc.aio.insecure_channel(server.address) as channel:
        yield treasury_pb2_grpc.TreasuryServiceStub(channel)


async def refusal(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def test_a_malformed_sweep_id_is_invalid_and_named(treasury):
    error = await refusal(treasury.GetSweep(tr.GetSweepRequest(sweep_id="po_123")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sweep_id" in field_violations(error)


async def test_an_unknown_sweep_is_not_found(treasury):
    error = await refusal(treasury.GetSweep(tr.GetSweepRequest(sweep_id="swp_" + "ab" * 12)))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_every_bad_filter_of_list_sweeps_is_named_at_once(treasury):
    error = await refusal(treasury.ListSweeps(tr.ListSweepsRequest(
        invoice_id="inv_nope", deposit_address="T123", asset=9, state=42, page_size=-1, page_token="garbage",
    )))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"invoice_id", "deposit_address", "asset", "state", "page_size",
                                            "page_token"}


async def test_an_empty_treasury_lists_no_sweeps_and_totals_zero(treasury):
    listed = await treasury.ListSweeps(tr.ListSweepsRequest())
    status = (await treasury.GetTreasury(tr.GetTreasuryRequest())).treasury
    assert list(listed.sweeps) == [] and listed.next_page_token == ""
    assert [(t.swept_base_units, t.pending_count) for t in status.totals] == [(0, 0), (0, 0)]
    assert status.payout_address == "" and status.energy_strategy == "delegate"


async def test_run_sweep_without_a_request_id_is_invalid(treasury):
    error = await refusal(treasury.RunSweep(tr.RunSweepRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request_id" in field_violations(error)


async def test_run_sweep_without_a_payout_wallet_is_a_failed_precondition(treasury):
    error = await refusal(treasury.RunSweep(tr.RunSweepRequest(request_id=str(uuid.uuid4()))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "PAYOUT_WALLET_UNSET"


async def test_run_sweep_with_its_peers_out_of_reach_is_unavailable_fast(mongo_url):
    settings = StakingSettings(
        port=0, insecure_plaintext=True, mongo_url=mongo_url, mongo_database=f"staking_{uuid.uuid4().hex[:12]}",
        tron_client_addr=NOBODY, wallet_manager_addr=NOBODY, payment_gateway_addr=NOBODY,
        usdt_contract=USDT_CONTRACT, dependency_check_interval_s=5.0, payout_wallet_id="w_any",
    )
    async with serving(build(settings), settings) as server, grpc.aio.insecure_channel(server.address) as channel:
        stub = treasury_pb2_grpc.TreasuryServiceStub(channel)
        started = time.monotonic()
        error = await refusal(stub.RunSweep(tr.RunSweepRequest(request_id=str(uuid.uuid4())), timeout=10))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - started < 5
