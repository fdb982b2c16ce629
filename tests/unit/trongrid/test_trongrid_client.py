"""TronGridClient over the whole real path: aiohttp -> tor_proxy -> microsocks -> a scripted TronGrid stand-in."""

from __future__ import annotations

import asyncio
import time

import pytest

from lucid_tron.errors import DeadlineExceeded, FailedPrecondition, Unavailable
from lucid_tron.context import deadlines
from lucid_tron.testing import free_port
from lucid_tron.trongrid import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    TronGridBadResponse,
    TronGridClient,
    TronGridNodeError,
    TronGridThrottled,
    TronGridTorUnavailable,
    TronGridUnavailable,
)
from tor_proxy import ProxyNotConfigured, TorConfig, TorProxy

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
FAST_RETRIES = RetryPolicy(max_attempts=3, base_delay_s=0.02, max_delay_s=0.05)
NO_RETRIES = RetryPolicy(max_attempts=1)


def client_for(server, tor, **options) -> TronGridClient:
    options.setdefault("retry", FAST_RETRIES)
    options.setdefault("timeout_s", 2.0)
    return TronGridClient(server.url, tor, **options)


# -- answers ----------------------------------------------------------------------------------------


async def test_wallet_posts_json_and_returns_the_parsed_answer_through_the_proxy(trongrid_server, tor, microsocks):
    trongrid_server.answer(body={"address": "41aa", "balance": 1_000_000})
    client = client_for(trongrid_server, tor)

    account = await client.wallet("getaccount", {"address": "41aa", "visible": False})

    assert account == {"address": "41aa", "balance": 1_000_000}
    (seen,) = trongrid_server.requests
    assert (seen.method, seen.path, seen.json()) == ("POST", "/wallet/getaccount", {"address": "41aa", "visible": False})
    assert f"localhost:{trongrid_server.port}" in microsocks.destinations()


async def test_solidity_posts_to_the_solidified_api(trongrid_server, tor):
    await client_for(trongrid_server, tor).solidity("getnowblock")

    (seen,) = trongrid_server.requests
    assert (seen.path, seen.json()) == ("/walletsolidity/getnowblock", {})


async def test_get_sends_the_query_parameters(trongrid_server, tor):
    trongrid_server.answer(body={"data": [], "success": True})
    client = client_for(trongrid_server, tor)

    answer = await client.get(f"/v1/accounts/{USDT}/transactions/trc20", {"limit": 200, "only_confirmed": "true"})

    assert answer == {"data": [], "success": True}
    (seen,) = trongrid_server.requests
    assert (seen.method, seen.query) == ("GET", {"limit": "200", "only_confirmed": "true"})


# -- paths: nothing but what they name ------------------------------------------------------------------------------

HOSTILE_PATHS = [
    "/wallet/../devnet/reset",
    "/./wallet/getnowblock",
    "/wallet/%2e%2e",
    "/wallet/getnowblock%3Fvisible=true",
    "/wallet/getnowblock?visible=true",
    "/wallet/getnowblock#fragment",
    "/wallet//getnowblock",
    "/wallet/getnowblock/",
    "/wallet/getnowblock/extra",
    "/wallet/get now block",
    "/wallet/getnowblock\r\nX-Injected: 1",
    "wallet/getnowblock",
    "//evil.example/wallet/getnowblock",
    f"/v1/accounts/{USDT}%2F..%2F..%2Fadmin/transactions",
    f"/v1/accounts/{USDT}/../../admin",
    "/v1/accounts/TXYZ/transactions/trc20",
    "/v1/accounts/0x" + "ab" * 20 + "/transactions",
    "/v1/contracts/..%2Fwallet/events",
    "/v1/transactions/" + "zz" * 32 + "/events",
    "/v1/transactions/" + "ab" * 31 + "/events",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
async def test_a_path_that_could_reach_another_resource_is_refused_before_any_request(trongrid_server, tor, path):
    client = client_for(trongrid_server, tor)

    with pytest.raises(ValueError, match="path"):
        await client.get(path)
    with pytest.raises(ValueError, match="path"):
        await client.post(path, {})

    assert trongrid_server.requests == []


HOSTILE_NAMES = ["..", "getnowblock?visible=true", "get%6eowblock", "a/b", "/getnowblock", "", "get.now"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_an_api_name_that_is_not_plain_letters_and_digits_is_refused_before_any_request(
    trongrid_server, tor, name
):
    client = client_for(trongrid_server, tor)

    with pytest.raises(ValueError, match="API name"):
        await client.wallet(name)
    with pytest.raises(ValueError, match="API name"):
        await client.solidity(name)

    assert trongrid_server.requests == []


async def test_validated_addresses_and_txids_reach_v1_paths(trongrid_server, tor):
    client = client_for(trongrid_server, tor)
    txid = "AB" * 32

    await client.get(f"/v1/accounts/{USDT}/transactions/trc20")
    await client.get("/v1/contracts/41a614f803b6fd780986a42c78ec9c7f77e6ded13c/events")
    await client.get(f"/v1/transactions/{txid}/events")

    assert [seen.path for seen in trongrid_server.requests] == [
        f"/v1/accounts/{USDT}/transactions/trc20",
        "/v1/contracts/41a614f803b6fd780986a42c78ec9c7f77e6ded13c/events",
        f"/v1/transactions/{txid}/events",
    ]


async def test_the_api_key_header_is_sent_when_a_key_is_configured(trongrid_server, tor):
    await client_for(trongrid_server, tor, api_key="k-123").wallet("getnowblock")

    assert trongrid_server.requests[0].headers.get("TRON-PRO-API-KEY") == "k-123"


@pytest.mark.parametrize("api_key", [None, ""])
async def test_no_api_key_header_is_sent_without_a_key(trongrid_server, tor, api_key):
    await client_for(trongrid_server, tor, api_key=api_key).wallet("getnowblock")

    assert "TRON-PRO-API-KEY" not in trongrid_server.requests[0].headers


# -- retries ----------------------------------------------------------------------------------------


async def test_a_server_error_is_retried_and_then_succeeds(trongrid_server, tor):
    trongrid_server.answer(500, {"error": "boom"}, times=2)

    assert await client_for(trongrid_server, tor).wallet("getnowblock") == trongrid_server.default.body
    assert len(trongrid_server.requests) == 3


async def test_a_dropped_connection_is_retried_and_then_succeeds(trongrid_server, tor):
    trongrid_server.answer(drop=True)

    assert await client_for(trongrid_server, tor).wallet("getnowblock") == trongrid_server.default.body
    assert len(trongrid_server.requests) == 2


async def test_a_timeout_is_retried_and_then_succeeds(trongrid_server, tor):
    trongrid_server.answer(delay_s=1.0)

    assert await client_for(trongrid_server, tor, timeout_s=0.3).wallet("getnowblock") == trongrid_server.default.body
    assert len(trongrid_server.requests) == 2


async def test_retries_stop_after_the_last_attempt_with_unavailable(trongrid_server, tor):
    trongrid_server.always(503)

    with pytest.raises(TronGridUnavailable) as caught:
        await client_for(trongrid_server, tor).wallet("getnowblock")

    assert isinstance(caught.value, Unavailable)
    assert caught.value.reason == "TRONGRID_SERVER_ERROR"
    assert len(trongrid_server.requests) == FAST_RETRIES.max_attempts


async def test_retry_after_is_honoured_before_the_next_attempt(trongrid_server, tor):
    trongrid_server.answer(429, headers={"Retry-After": "1"})
    client = client_for(trongrid_server, tor)

    started = time.monotonic()
    await client.wallet("getnowblock")

    assert time.monotonic() - started >= 1.0
    assert len(trongrid_server.requests) == 2


async def test_the_clients_stats_count_every_request_sent_and_every_429(trongrid_server, tor):
    trongrid_server.answer(429, headers={"Retry-After": "0"})
    trongrid_server.answer(500)
    client = client_for(trongrid_server, tor)

    await client.wallet("getnowblock")
    await client.wallet("getnowblock")

    assert (client.stats.requests, client.stats.throttled) == (len(trongrid_server.requests), 1) == (4, 1)


async def test_a_suspended_for_message_is_throttling_and_its_pause_is_honoured(trongrid_server, tor):
    message = "request rate exceeded the allowed_rps(10), and the query server is suspended for 1 s"
    trongrid_server.answer(403, {"Error": message})

    started = time.monotonic()
    await client_for(trongrid_server, tor).wallet("getnowblock")

    assert time.monotonic() - started >= 1.0
    assert len(trongrid_server.requests) == 2


async def test_a_pause_longer_than_the_policy_allows_fails_fast_as_throttled(trongrid_server, tor):
    trongrid_server.answer(429, headers={"Retry-After": "120"})

    started = time.monotonic()
    with pytest.raises(TronGridThrottled) as caught:
        await client_for(trongrid_server, tor).wallet("getnowblock")

    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after_s == 120
    assert len(trongrid_server.requests) == 1


async def test_a_pause_asked_for_by_trongrid_holds_back_every_call_of_the_client(trongrid_server, tor):
    trongrid_server.answer(429, headers={"Retry-After": "1"})
    client = client_for(trongrid_server, tor)
    with pytest.raises(TronGridThrottled):
        await client.wallet("getnowblock", retry=False)

    with pytest.raises(TronGridThrottled):
        await client.wallet("getnowblock", deadline_s=0.5)  # cannot wait that long: fails at once
    assert len(trongrid_server.requests) == 1

    started = time.monotonic()
    await client.wallet("getnowblock")  # no deadline: waits the pause out
    assert time.monotonic() - started >= 0.8
    assert len(trongrid_server.requests) == 2


async def test_a_client_error_is_not_retried(trongrid_server, tor):
    trongrid_server.answer(400, b"bad request")

    with pytest.raises(TronGridBadResponse) as caught:
        await client_for(trongrid_server, tor).wallet("getnowblock")

    assert caught.value.status == 400
    assert len(trongrid_server.requests) == 1


async def test_a_body_that_is_not_json_is_a_bad_response_and_is_retried(trongrid_server, tor):
    trongrid_server.answer(200, b"<html>captive portal</html>")

    assert await client_for(trongrid_server, tor).wallet("getnowblock") == trongrid_server.default.body
    assert len(trongrid_server.requests) == 2


async def test_a_broadcast_is_not_retried_by_default(trongrid_server, tor):
    trongrid_server.answer(500)

    with pytest.raises(TronGridUnavailable):
        await client_for(trongrid_server, tor).wallet("broadcasttransaction", {"txID": "ab"}, purpose="broadcast")

    assert len(trongrid_server.requests) == 1


async def test_a_broadcast_is_retried_when_the_caller_opts_in(trongrid_server, tor):
    trongrid_server.answer(500)
    trongrid_server.answer(body={"result": True, "txid": "ab"})
    client = client_for(trongrid_server, tor)

    sent = await client.wallet("broadcasttransaction", {"txID": "ab"}, purpose="broadcast", retry=True)

    assert sent == {"result": True, "txid": "ab"}
    assert [r.path for r in trongrid_server.requests] == ["/wallet/broadcasttransaction"] * 2


async def test_a_busy_node_is_retried(trongrid_server, tor):
    trongrid_server.answer(body={"code": "SERVER_BUSY", "message": "server busy".encode().hex()})

    assert await client_for(trongrid_server, tor).wallet("getnowblock") == trongrid_server.default.body
    assert len(trongrid_server.requests) == 2


# -- node errors ------------------------------------------------------------------------------------


async def test_an_error_field_in_a_200_answer_raises_node_error_without_retry(trongrid_server, tor):
    message = "class org.tron.core.exception.ContractValidateException : Validate TransferContract error, no OwnerAccount."
    trongrid_server.answer(body={"Error": message})

    with pytest.raises(TronGridNodeError) as caught:
        await client_for(trongrid_server, tor).wallet("createtransaction", {"amount": 1})

    assert isinstance(caught.value, FailedPrecondition)
    assert (caught.value.code, caught.value.node_message) == (None, message)
    assert len(trongrid_server.requests) == 1


async def test_a_broadcast_failure_carries_trons_code_and_the_decoded_message(trongrid_server, tor):
    trongrid_server.answer(body={"code": "SIGERROR", "txid": "ab12", "message": "Validate signature error".encode().hex()})

    with pytest.raises(TronGridNodeError) as caught:
        await client_for(trongrid_server, tor).wallet("broadcasttransaction", {"txID": "ab12"}, purpose="broadcast")

    assert (caught.value.code, caught.value.node_message, caught.value.txid) == (
        "SIGERROR",
        "Validate signature error",
        "ab12",
    )


# -- deadlines and timeouts -------------------------------------------------------------------------


async def test_a_hanging_trongrid_gives_unavailable_within_the_deadline(trongrid_server, tor):
    trongrid_server.always(delay_s=5.0)
    client = client_for(trongrid_server, tor, timeout_s=0.4)

    started = time.monotonic()
    with pytest.raises(TronGridUnavailable) as caught:
        await client.wallet("getnowblock", deadline_s=1.0)
    elapsed_s = time.monotonic() - started

    assert caught.value.reason == "TRONGRID_TIMEOUT"
    assert elapsed_s <= 1.25


async def test_no_request_is_sent_when_the_deadline_has_already_passed(trongrid_server, tor):
    with pytest.raises(DeadlineExceeded):
        await client_for(trongrid_server, tor).wallet("getnowblock", deadline_s=0)

    assert trongrid_server.requests == []


async def test_the_callers_rpc_deadline_bounds_the_call(trongrid_server, tor):
    trongrid_server.always(delay_s=5.0)
    client = client_for(trongrid_server, tor, timeout_s=3.0)

    started = time.monotonic()
    with deadlines.within(0.8), pytest.raises(TronGridUnavailable, match="did not answer"):
        await client.wallet("getnowblock")

    assert time.monotonic() - started <= 1.0


async def test_an_rpc_deadline_too_close_to_answer_in_sends_nothing(trongrid_server, tor):
    with deadlines.within(deadlines.MARGIN_S / 2), pytest.raises(DeadlineExceeded):
        await client_for(trongrid_server, tor).wallet("getnowblock")

    assert trongrid_server.requests == []


# -- circuit breaker --------------------------------------------------------------------------------


def breaking_client(server, tor, *, open_s: float = 30.0) -> TronGridClient:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, open_s=open_s))
    return client_for(server, tor, retry=NO_RETRIES, breaker=breaker)


async def open_the_breaker(client: TronGridClient) -> None:
    for _ in range(3):
        with pytest.raises(TronGridUnavailable):
            await client.wallet("getnowblock")
    assert client.breaker.state is BreakerState.OPEN


async def test_consecutive_failures_open_the_breaker_and_calls_then_fail_fast_without_a_request(trongrid_server, tor):
    trongrid_server.always(500)
    client = breaking_client(trongrid_server, tor)
    await open_the_breaker(client)

    started = time.monotonic()
    with pytest.raises(TronGridUnavailable) as caught:
        await client.wallet("getnowblock")
    elapsed_s = time.monotonic() - started

    assert caught.value.reason == "TRONGRID_CIRCUIT_OPEN"
    assert 29 < caught.value.retry_after_s <= 30
    assert elapsed_s < 0.1
    assert len(trongrid_server.requests) == 3


async def test_half_open_lets_exactly_one_probe_through_and_its_success_closes_the_breaker(trongrid_server, tor):
    trongrid_server.always(500)
    client = breaking_client(trongrid_server, tor, open_s=0.3)
    await open_the_breaker(client)
    await asyncio.sleep(0.35)
    trongrid_server.always(200, {"ok": True}, delay_s=0.2)

    outcomes = await asyncio.gather(*(client.wallet("getnowblock") for _ in range(3)), return_exceptions=True)

    assert outcomes.count({"ok": True}) == 1
    refused = [o for o in outcomes if isinstance(o, TronGridUnavailable)]
    assert len(refused) == 2 and all(o.reason == "TRONGRID_CIRCUIT_OPEN" for o in refused)
    assert len(trongrid_server.requests) == 3 + 1
    assert client.breaker.state is BreakerState.CLOSED
    assert await client.wallet("getnowblock") == {"ok": True}


async def test_a_failed_probe_opens_the_breaker_again(trongrid_server, tor):
    trongrid_server.always(500)
    client = breaking_client(trongrid_server, tor, open_s=0.3)
    await open_the_breaker(client)
    await asyncio.sleep(0.35)

    with pytest.raises(TronGridUnavailable) as probe_failure:
        await client.wallet("getnowblock")

    assert probe_failure.value.reason == "TRONGRID_SERVER_ERROR"
    assert client.breaker.state is BreakerState.OPEN
    assert len(trongrid_server.requests) == 4


async def test_throttling_never_opens_the_breaker(trongrid_server, tor):
    trongrid_server.always(429)
    client = breaking_client(trongrid_server, tor)

    for _ in range(6):
        with pytest.raises(TronGridThrottled):
            await client.wallet("getnowblock")

    assert client.breaker.state is BreakerState.CLOSED
    assert len(trongrid_server.requests) == 6


async def test_node_errors_and_client_errors_do_not_open_the_breaker(trongrid_server, tor):
    trongrid_server.always(200, {"Error": "invalid address"})
    client = breaking_client(trongrid_server, tor)
    for _ in range(4):
        with pytest.raises(TronGridNodeError):
            await client.wallet("getaccount", {"address": "nope"})
    trongrid_server.always(404, b"not found")
    for _ in range(4):
        with pytest.raises(TronGridBadResponse):
            await client.wallet("nosuchapi")

    assert client.breaker.state is BreakerState.CLOSED


# -- Tor ------------------------------------------------------------------------------------------


async def test_tor_down_is_unavailable_fast_and_never_opens_trongrids_breaker(trongrid_server):
    # A Tor outage says nothing about TronGrid: were it counted, reads would keep failing for the breaker's whole
    # open period after Tor came back.
    async with TorProxy(TorConfig(socks_host="127.0.0.1", socks_port=free_port())) as dead_tor:
        client = breaking_client(trongrid_server, dead_tor)

        started = time.monotonic()
        with pytest.raises(TronGridTorUnavailable) as caught:
            await client.wallet("getnowblock")
        elapsed_s = time.monotonic() - started
        for _ in range(5):
            with pytest.raises(TronGridTorUnavailable):
                await client.wallet("getnowblock")

        assert caught.value.reason == "TOR_PROXY_UNAVAILABLE"
        assert elapsed_s < 1.0
        assert client.breaker.state is BreakerState.CLOSED
    assert trongrid_server.requests == []


async def test_while_tor_proxy_knows_tor_is_down_a_call_fails_at_once_without_retries(trongrid_server, tor):
    tor.set_unavailable("not bootstrapped (40%)", retry_after_s=5.0)
    client = client_for(trongrid_server, tor, retry=RetryPolicy(max_attempts=4, base_delay_s=0.5))

    started = time.monotonic()
    with pytest.raises(TronGridTorUnavailable) as caught:
        await client.wallet("getnowblock")

    assert time.monotonic() - started < 0.4  # one backoff step would already be 0.5 s
    assert caught.value.retry_after_s == 5.0
    assert trongrid_server.requests == []


async def test_a_missing_proxy_configuration_passes_through_and_sends_nothing(trongrid_server):
    async with TorProxy(TorConfig(socks_host=None)) as unconfigured:
        client = client_for(trongrid_server, unconfigured)
        with pytest.raises(ProxyNotConfigured):
            await client.wallet("getnowblock")

        assert client.breaker.state is BreakerState.CLOSED
    assert trongrid_server.requests == []
