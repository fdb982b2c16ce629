"""secp256k1 keys: TRON addresses, 65-byte r|s|v signatures, recovery, and a repr that never shows the key."""

import hashlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lucid_tron.chain import (
    SECP256K1_N,
    InvalidKey,
    InvalidSignature,
    PrivateKey,
    recover_address,
    verify_signature,
)

KEY_ONE = (1).to_bytes(32, "big")
DIGEST = hashlib.sha256(b"a transaction").digest()
secrets_ = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)


def test_private_key_one_has_the_known_address():
    assert PrivateKey(KEY_ONE).address == "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"


def test_public_key_is_65_bytes_uncompressed():
    public_key = PrivateKey(KEY_ONE).public_key
    assert len(public_key) == 65 and public_key[0] == 0x04


def test_from_hex_reads_64_hex_digits():
    assert PrivateKey.from_hex("00" * 31 + "01") == PrivateKey(KEY_ONE)


def test_generated_keys_differ():
    assert PrivateKey.generate() != PrivateKey.generate()


def test_repr_and_str_show_the_address_but_not_the_key():
    secret = bytes.fromhex("b5a4cea271ff424d7c31dc12a3e43e401df7a40d7412a15750f3f0b6b5449a28")
    key = PrivateKey(secret)
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert key.address in text
        assert secret.hex() not in text.lower()


def test_key_cannot_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(PrivateKey(KEY_ONE))


@pytest.mark.parametrize("secret", [bytes(32), SECP256K1_N.to_bytes(32, "big"), b"\x01" * 31, "01" * 32])
def test_out_of_range_or_malformed_keys_are_refused(secret):
    with pytest.raises(InvalidKey):
        PrivateKey(secret)


def test_invalid_key_message_does_not_repeat_the_key():
    with pytest.raises(InvalidKey) as caught:
        PrivateKey.from_hex("zz" + "ab" * 31)
    assert "ab" * 31 not in str(caught.value)


def test_signature_is_r_s_v_with_v_0_or_1():
    signature = PrivateKey(KEY_ONE).sign_digest(DIGEST)
    assert len(signature) == 65 and signature[64] in (0, 1)


def test_signing_is_deterministic():
    key = PrivateKey(KEY_ONE)
    assert key.sign_digest(DIGEST) == key.sign_digest(DIGEST)


def test_signing_refuses_a_digest_that_is_not_32_bytes():
    with pytest.raises(InvalidSignature):
        PrivateKey(KEY_ONE).sign_digest(b"not a digest")


def test_v_of_27_or_28_recovers_the_same_address():
    signature = PrivateKey(KEY_ONE).sign_digest(DIGEST)
    tronweb_style = signature[:64] + bytes([signature[64] + 27])
    assert recover_address(DIGEST, tronweb_style) == "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"


def test_high_s_form_of_a_signature_recovers_the_same_address():
    # The TRON network accepts both s and n - s; the malleated form flips the recovery id.
    signature = PrivateKey(KEY_ONE).sign_digest(DIGEST)
    s = int.from_bytes(signature[32:64], "big")
    high_s = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])
    assert recover_address(DIGEST, high_s) == "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"


def test_signature_over_another_digest_does_not_verify():
    signature = PrivateKey(KEY_ONE).sign_digest(DIGEST)
    other = hashlib.sha256(b"another transaction").digest()
    assert not verify_signature(other, signature, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC")


def test_signature_of_another_key_does_not_verify():
    signature = PrivateKey((2).to_bytes(32, "big")).sign_digest(DIGEST)
    assert not verify_signature(DIGEST, signature, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC")


@pytest.mark.parametrize(
    "signature",
    [b"", bytes(65), b"\x01" * 64 + b"\x05", b"\x01" * 64],
    ids=["empty", "zero r and s", "bad v", "64 bytes"],
)
def test_malformed_signature_does_not_verify(signature):
    assert not verify_signature(DIGEST, signature, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC")


def test_malformed_signature_cannot_be_recovered():
    with pytest.raises(InvalidSignature):
        recover_address(DIGEST, bytes(65))


@settings(max_examples=50)
@given(secrets_, digests)
def test_a_signature_recovers_to_the_signers_address(secret, digest):
    key = PrivateKey(secret)
    signature = key.sign_digest(digest)
    assert recover_address(digest, signature) == key.address
    assert verify_signature(digest, signature, key.address)
