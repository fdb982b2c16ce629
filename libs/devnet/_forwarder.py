"""A payment forwarder: a contract that moves TRC20 tokens by calling the token itself.

`forward(address token, address to, uint256 value)` calls `token.transferFrom(caller, to, value)` with the
forwarder as spender (the payer approves the forwarder first), as payment routers and exchange contracts do. The
top-level transaction's contract is the forwarder; only the token's Transfer log shows that tokens moved, so a
parser that reads the top-level call data misses the payment.
"""

from __future__ import annotations

from collections.abc import Mapping

from lucid_tron.chain import encode_bool, encode_uint256, selector

from ._ledger import Ledger
from ._trc20 import (
    CallOutcome,
    NativeContract,
    Revert,
    Trc20Token,
    address_arg,
    address_word,
    function_abi,
    revert_data,
    uint_arg,
)

__all__ = ["FORWARD_ENERGY", "Forwarder"]

FORWARD_ENERGY = 9_000  # the forwarder's own work around the token call (an estimate; no EVM runs)
_FORWARD = selector("forward(address,address,uint256)")
_TRANSFER_FROM = selector("transferFrom(address,address,uint256)")


class Forwarder(NativeContract):
    """The forwarder at `address`; it may call the tokens in `tokens` (by address)."""

    contract_name = "PaymentForwarder"

    def __init__(self, address: bytes, *, origin: bytes, tokens: Mapping[bytes, Trc20Token]) -> None:
        self.address = address
        self.origin = origin
        self.tokens = tokens
        self.abi = [function_abi("forward", [("token", "address"), ("to", "address"), ("value", "uint256")],
                                 ["bool"], "Nonpayable")]
        self.bytecode = b"lucid-devnet native PaymentForwarder"

    def is_constant(self, data: bytes) -> bool:
        return False

    def call(self, ledger: Ledger, caller: bytes, data: bytes, call_value: int = 0, *, period: int = 0) -> CallOutcome:
        try:
            if data[:4] != _FORWARD:
                raise Revert(f"function selector {data[:4].hex() or '(none)'} is not a function of this contract")
            if call_value:
                raise Revert("forward is not payable")
            args = data[4:]
            token = self.tokens.get(address_arg(args, 0))
            if token is None:
                raise Revert("token is not a contract")
            to, value = address_arg(args, 1), uint_arg(args, 2)
        except Revert as revert:
            reason = str(revert)
            return CallOutcome(energy=FORWARD_ENERGY, reverted=True, output=revert_data(reason), revert_reason=reason)
        inner = token.call(
            ledger, self.address, _TRANSFER_FROM + address_word(caller) + address_word(to) + encode_uint256(value),
            period=period,
        )
        inner.energy += FORWARD_ENERGY
        if not inner.reverted:
            inner.output = encode_bool(True)
            inner.internal_calls.insert(0, (self.address, token.address))
        return inner
