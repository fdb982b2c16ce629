"""scrypt's cost parameters: the default is what an install gets; values scrypt cannot use, or that would take more
memory than a Raspberry Pi has, are refused."""

from __future__ import annotations

import pytest

from lucid_tron.keys import DEFAULT_SCRYPT, KeyCustodyError, ScryptParams


def test_the_default_cost_is_n_2_to_the_15_r_8_p_1() -> None:
    assert (DEFAULT_SCRYPT.n, DEFAULT_SCRYPT.r, DEFAULT_SCRYPT.p) == (2**15, 8, 1)


def test_parameters_round_trip_through_their_stored_form() -> None:
    params = ScryptParams(n=2**14, r=8, p=2)
    assert ScryptParams.from_document(params.to_document()) == params


@pytest.mark.parametrize(
    "values",
    [
        {"n": 3},
        {"n": 1},
        {"n": 2**21},
        {"r": 0},
        {"r": 33},
        {"p": 17},
        {"n": True},
        {"n": 2.0**15},
    ],
)
def test_parameters_scrypt_cannot_use_or_that_cost_too_much_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(KeyCustodyError) as raised:
        ScryptParams(**values)  # type: ignore[arg-type]
    assert raised.value.reason == "BAD_KDF"


def test_a_stored_kdf_other_than_scrypt_is_refused() -> None:
    with pytest.raises(KeyCustodyError, match="other than scrypt"):
        ScryptParams.from_document({"name": "pbkdf2", "n": 2**15, "r": 8, "p": 1})
