"""TRON primitives: addresses, amounts, transaction encoding with a locally computed txid, secp256k1 keys, TRC20 ABI."""
