"""Block bucketing and pairs within a bucket."""

import random

from hypothesis import given
from hypothesis import strategies as st

from storywire.transforms.copies.fingerprint import hamming, to_signed64
from storywire.transforms.copies.neardup import block_keys, block_ranges, pairs_in_bucket


def test_blocks_cover_the_64_bits():
    for k in range(0, 8):
        ranges = block_ranges(k)
        assert len(ranges) == k + 1
        assert sum(width for _, width in ranges) == 64
        assert ranges[0][0] == 0


@given(st.integers(0, (1 << 64) - 1), st.sets(st.integers(0, 63), max_size=3))
def test_fingerprints_within_k_bits_share_a_block(value, flipped):
    other = value
    for bit in flipped:
        other ^= 1 << bit
    a, b = to_signed64(value), to_signed64(other)
    assert hamming(a, b) == len(flipped)
    assert set(block_keys(a, 3)) & set(block_keys(b, 3))


def test_pairs_within_distance_only():
    base = 0x0F0F_0F0F_0F0F_0F0F
    members = [("a", base), ("b", base ^ 0b111), ("c", base ^ 0xFFFF_0000)]
    edges, capped = pairs_in_bucket(members, max_distance=3)
    assert edges == [("a", "b")]
    assert not capped


def test_exact_copies_are_chained_not_paired():
    members = [(f"id{i:04d}", 42) for i in range(1000)]
    random.Random(1).shuffle(members)
    edges, _ = pairs_in_bucket(members, max_distance=3)
    assert len(edges) == 999
    assert edges[0] == ("id0000", "id0001")


def test_a_bucket_over_the_cap_is_flagged():
    members = [(f"id{i}", i << 20) for i in range(50)]
    _, capped = pairs_in_bucket(members, max_distance=3, max_bucket=10)
    assert capped
