"""pymongo's timeout errors are outages (Unavailable, MONGO_UNAVAILABLE); an in-flight request's Aborted says when
to retry on the wire."""

from __future__ import annotations

import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from pymongo.errors import DuplicateKeyError, ExecutionTimeout, NetworkTimeout, OperationFailure, WTimeoutError

from lucid_tron.errors import Aborted
from lucid_tron.mesh._errors import domain_status
from lucid_tron.storage import MONGO_UNAVAILABLE, REQUEST_IN_FLIGHT, as_unavailable


@pytest.mark.parametrize(
    "timeout",
    [
        ExecutionTimeout("operation exceeded time limit", code=50),
        WTimeoutError("waiting for replication timed out", code=64),
        NetworkTimeout("timed out"),
        OperationFailure("operation exceeded time limit", code=50),
    ],
    ids=["ExecutionTimeout", "WTimeoutError", "NetworkTimeout", "OperationFailure-50"],
)
def test_a_pymongo_timeout_is_mongo_unavailable(timeout):
    unavailable = as_unavailable(timeout)

    assert unavailable is not None
    assert unavailable.reason == MONGO_UNAVAILABLE


def test_an_operation_failure_that_is_not_a_timeout_is_left_alone():
    assert as_unavailable(DuplicateKeyError("E11000 duplicate key", code=11000)) is None


def test_an_aborted_in_flight_request_carries_retry_info_on_the_wire():
    status = domain_status(Aborted("still running", reason=REQUEST_IN_FLIGHT, retry_after_s=0.5), "req-1")

    retry = error_details_pb2.RetryInfo()
    packed: list[any_pb2.Any] = [detail for detail in status.details if detail.Is(retry.DESCRIPTOR)]
    assert len(packed) == 1 and packed[0].Unpack(retry)
    assert retry.retry_delay.ToNanoseconds() == 500_000_000
