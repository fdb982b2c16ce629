"""pymongo's timeout errors are outages (Unavailable, MONGO_UNAVAILABLE), like a connection failure."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError, ExecutionTimeout, NetworkTimeout, OperationFailure, WTimeoutError

from lucid_tron.storage import MONGO_UNAVAILABLE, as_unavailable


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

