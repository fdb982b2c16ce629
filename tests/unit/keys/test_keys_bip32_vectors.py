"""BIP-32 private derivation (CKDpriv) against the spec's test vectors 1 and 2: the private key and chain code at every
path of both, hardened and normal steps, and the master fingerprint.

The literal keys and chain codes are the ones inside the spec's ext prv strings (bip-0032.mediawiki, "Test Vectors");
the strings are kept beside them and bip_utils, an independent implementation (a test dependency only), proves at run
time that each string holds those values and that it derives the same from the seed.
"""

from __future__ import annotations

import pickle

import pytest
from bip_utils import Bip32Slip10Secp256k1

# The vectors walk paths that are not TRON's, so they use the node type HdSecret is built on rather than HdSecret.
from lucid_tron.keys._hd import ExtendedPrivateKey

SEEDS = {
    1: "000102030405060708090a0b0c0d0e0f",
    2: "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a2"
    "9f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
}
MASTER_FINGERPRINTS = {1: "3442193e", 2: "bd16bee5"}

# (vector, path, the spec's ext prv, its private key, its chain code)
VECTORS = [
    (1, "m",
     "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi",
     "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35",
     "873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508"),
    (1, "m/0H",
     "xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7",
     "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea",
     "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141"),
    (1, "m/0H/1",
     "xprv9wTYmMFdV23N2TdNG573QoEsfRrWKQgWeibmLntzniatZvR9BmLnvSxqu53Kw1UmYPxLgboyZQaXwTCg8MSY3H2EU4pWcQDnRnrVA1xe8fs",
     "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368",
     "2a7857631386ba23dacac34180dd1983734e444fdbf774041578e9b6adb37c19"),
    (1, "m/0H/1/2H",
     "xprv9z4pot5VBttmtdRTWfWQmoH1taj2axGVzFqSb8C9xaxKymcFzXBDptWmT7FwuEzG3ryjH4ktypQSAewRiNMjANTtpgP4mLTj34bhnZX7UiM",
     "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca",
     "04466b9cc8e161e966409ca52986c584f07e9dc81f735db683c3ff6ec7b1503f"),
    (1, "m/0H/1/2H/2",
     "xprvA2JDeKCSNNZky6uBCviVfJSKyQ1mDYahRjijr5idH2WwLsEd4Hsb2Tyh8RfQMuPh7f7RtyzTtdrbdqqsunu5Mm3wDvUAKRHSC34sJ7in334",
     "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4",
     "cfb71883f01676f587d023cc53a35bc7f88f724b1f8c2892ac1275ac822a3edd"),
    (1, "m/0H/1/2H/2/1000000000",
     "xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76",
     "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8",
     "c783e67b921d2beb8f6b389cc646d7263b4145701dadd2161548a8b078e65e9e"),
    (2, "m",
     "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U",
     "4b03d6fc340455b363f51020ad3ecca4f0850280cf436c70c727923f6db46c3e",
     "60499f801b896d83179a4374aeb7822aaeaceaa0db1f85ee3e904c4defbd9689"),
    (2, "m/0",
     "xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt",
     "abe74a98f6c7eabee0428f53798f0ab8aa1bd37873999041703c742f15ac7e1e",
     "f0909affaa7ee7abe5dd4e100598d4dc53cd709d5a5c2cac40e7412f232f7c9c"),
    (2, "m/0/2147483647H",
     "xprv9wSp6B7kry3Vj9m1zSnLvN3xH8RdsPP1Mh7fAaR7aRLcQMKTR2vidYEeEg2mUCTAwCd6vnxVrcjfy2kRgVsFawNzmjuHc2YmYRmagcEPdU9",
     "877c779ad9687164e9c2f4f0f4ff0340814392330693ce95a58fe18fd52e6e93",
     "be17a268474a6bb9c61e1d720cf6215e2a88c5406c4aee7b38547f585c9a37d9"),
    (2, "m/0/2147483647H/1",
     "xprv9zFnWC6h2cLgpmSA46vutJzBcfJ8yaJGg8cX1e5StJh45BBciYTRXSd25UEPVuesF9yog62tGAQtHjXajPPdbRCHuWS6T8XA2ECKADdw4Ef",
     "704addf544a06e5ee4bea37098463c23613da32020d604506da8c0518e1da4b7",
     "f366f48f1ea9f2d1d3fe958c95ca84ea18e4c4ddb9366c336c927eb246fb38cb"),
    (2, "m/0/2147483647H/1/2147483646H",
     "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc",
     "f1c7c871a54a804afe328b4c83a1c33b8e5ff48f5087273f04efa83b247d6a2d",
     "637807030d55d01f9a0cb3a7839515d796bd07706386a6eddf06cc29a65a0e29"),
    (2, "m/0/2147483647H/1/2147483646H/2",
     "xprvA2nrNbFZABcdryreWet9Ea4LvTJcGsqrMzxHx98MMrotbir7yrKCEXw7nadnHM8Dq38EGfSh6dqA9QWTyefMLEcBYJUuekgW4BYPJcr9E7j",
     "bb7d39bdb83ecf58f2fd82b6d918341cbef428661ef01ab97c28a4842125ac23",
     "9452b549be8cea3ecb7a84bec10dcfd94afe4d129ebfd3b3cb58eedf394ed271"),
]


def derive(seed_hex: str, path: str) -> ExtendedPrivateKey:
    indexes = [int(level[:-1]) | 0x80000000 if level.endswith("H") else int(level) for level in path.split("/")[1:]]
    return ExtendedPrivateKey.from_seed(bytes.fromhex(seed_hex)).path(indexes)


@pytest.mark.parametrize(("vector", "path", "xprv", "key", "chain_code"), VECTORS)
def test_each_path_of_the_spec_vectors_derives_its_private_key_and_chain_code(
    vector: int, path: str, xprv: str, key: str, chain_code: str
) -> None:
    node = derive(SEEDS[vector], path)
    assert (node.secret.hex(), node.chain_code.hex()) == (key, chain_code)
    assert node.depth == path.count("/")


@pytest.mark.parametrize(("vector", "path", "xprv", "key", "chain_code"), VECTORS)
def test_bip_utils_reads_the_same_values_from_the_spec_string_and_derives_them_from_the_seed(
    vector: int, path: str, xprv: str, key: str, chain_code: str
) -> None:
    parsed = Bip32Slip10Secp256k1.FromExtendedKey(xprv)
    derived = Bip32Slip10Secp256k1.FromSeedAndPath(bytes.fromhex(SEEDS[vector]), path.replace("H", "'"))
    for node in (parsed, derived):
        assert (node.PrivateKey().Raw().ToHex(), node.ChainCode().ToHex()) == (key, chain_code)


@pytest.mark.parametrize("vector", sorted(SEEDS))
def test_the_master_fingerprint_is_the_head_of_hash160_of_its_public_key(vector: int) -> None:
    seed = bytes.fromhex(SEEDS[vector])
    assert ExtendedPrivateKey.from_seed(seed).fingerprint.hex() == MASTER_FINGERPRINTS[vector]
    assert Bip32Slip10Secp256k1.FromSeed(seed).FingerPrint().ToHex() == MASTER_FINGERPRINTS[vector]


def test_an_extended_key_shows_no_key_material_and_cannot_be_pickled() -> None:
    node = derive(SEEDS[1], "m/0H/1")
    assert repr(node) == str(node) == "ExtendedPrivateKey(depth=2)"
    with pytest.raises(TypeError):
        pickle.dumps(node)
