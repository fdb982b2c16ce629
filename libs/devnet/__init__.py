"""devnet: a TronGrid-compatible HTTP simulator of a TRON network, for local runs and tests.

Real secp256k1 signature checks, TRX and a TRC20 USDT contract (run natively, no EVM), bandwidth and energy
accounting, Stake 2.0, a solidified head 19 blocks behind, configurable block time, and fault injection
(429, 5xx, latency, dropped connections, lagging load-balanced nodes, reorgs of unsolidified blocks). Where
mainnet can fool payment code, devnet does what mainnet does (USDT's transfer returns false, a dynamic energy
factor, a lookalike token, transfers made by contracts, address poisoning). tronpy, unmodified, runs against it::

    DevnetConfig(block_interval=3.0, solidification_lag=19, funded=(FundedAccount(addr, trx_sun, usdt_units),), ...)
    Devnet(config)                      the network, in memory
      .serve(host, port)                async context manager serving TronGrid's HTTP API; yields the Devnet
      .url / .usdt_address / .chain_id  where it listens, its USDT contract, TRON's chain id of its genesis
      .produce_block() / .solidify()    blocks on demand (block_interval=0 means only on demand)
      .reorg(depth, requeue=None)       replace unsolidified blocks; their transactions are requeued (or dropped)
      .fund(address, trx_sun=, usdt_units=, lookalike_units=)  credit out of band
      .poison(victim, counterparty)     zero-value and dust transfers to victim from a lookalike of counterparty
      .lookalike_address / .forwarder_address  a TRC20 with USDT's name, symbol, decimals; a contract calling tokens
      .faults.add(status=429, rate=0.5, latency_ms=200, drop=0.1, lag_blocks=3, paths=[...]) / .faults.clear()
    main(argv)                          `python -m lucid_tron.devnet`: serve until SIGINT/SIGTERM

Importing this package does not import grpc.
"""

from ._chain import ReorgError
from ._cli import main
from ._config import DevnetConfig, FundedAccount, ResourcePrices, parse_fund_spec
from ._devnet import BlockInfo, Devnet
from ._faults import FaultRule, Faults
from ._poisoning import Poisoning, PoisoningError
from ._trc20 import ENERGY as TRC20_ENERGY

__all__ = [
    "TRC20_ENERGY",
    "BlockInfo",
    "Devnet",
    "DevnetConfig",
    "FaultRule",
    "Faults",
    "FundedAccount",
    "Poisoning",
    "PoisoningError",
    "ReorgError",
    "ResourcePrices",
    "main",
    "parse_fund_spec",
]
