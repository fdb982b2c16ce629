"""The chain watcher's window of blocks read at head: one chain linked by parent ids, final as read up to a
solidified block whose id is the id read at its height."""

from __future__ import annotations

from lucid.tron.v1 import common_pb2, relay_pb2
from lucid_tron.services.payment_gateway.head_window import HeadWindow


def header(number: int, fork: str = "a", parent_fork: str | None = None, time_ms: int = 0) -> common_pb2.BlockHeader:
    made = common_pb2.BlockHeader(
        number=number, block_id=f"{fork}{number}", parent_block_id=f"{parent_fork or fork}{number - 1}"
    )
    made.block_time.FromMilliseconds(time_ms or number * 3000)
    return made


def window_of(*numbers: int) -> HeadWindow:
    window = HeadWindow()
    for number in numbers:
        window.add(header(number), [relay_pb2.BlockTransfer(txid=f"tx{number}", block_number=number)])
    return window


def test_a_block_on_the_block_read_below_it_extends_the_window() -> None:
    assert window_of(10, 11).extends(header(12))


def test_a_block_whose_parent_is_not_the_block_read_below_it_shows_a_reorg() -> None:
    assert not window_of(10, 11).extends(header(12, fork="b"))


def test_a_block_with_nothing_read_below_it_extends_the_window() -> None:
    assert HeadWindow().extends(header(12, fork="b"))


def test_a_solidified_block_with_the_id_read_makes_the_blocks_up_to_it_final_as_read() -> None:
    blocks = window_of(10, 11, 12).confirmed_by(header(11), first=10)

    assert blocks is not None
    assert [(b.header.number, [t.txid for t in b.transfers]) for b in blocks] == [(10, ["tx10"]), (11, ["tx11"])]


def test_a_solidified_block_with_another_id_confirms_nothing() -> None:
    assert window_of(10, 11, 12).confirmed_by(header(11, fork="b", parent_fork="a"), first=10) is None


def test_a_block_missing_from_the_window_confirms_nothing() -> None:
    assert window_of(11, 12).confirmed_by(header(12), first=10) is None


def test_pruning_forgets_the_blocks_processed_for_good() -> None:
    window = window_of(10, 11, 12)
    window.prune(11)

    assert (window.top, len(window)) == (12, 1)


def test_the_block_interval_is_the_usual_gap_not_a_missed_slot() -> None:
    window = HeadWindow()
    for number, time_ms in ((1, 3000), (2, 6000), (3, 12000), (4, 15000)):
        window.add(header(number, time_ms=time_ms), [])

    assert window.block_interval_ms() == 3000
