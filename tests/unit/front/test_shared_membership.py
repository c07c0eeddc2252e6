"""The membership the front's workers share: one receiver writes, a forked reader sees it."""

from __future__ import annotations

import asyncio
import os
import time

from usher.front.config import parse_front
from usher.front.dynamic import SharedSubscriptions, SubscribedPools
from usher.front.membership import MAX_ADDRESS_BYTES, MAX_KEY_BYTES, Membership, Node
from usher.front.shared_membership import HEAD, SharedMembership
from usher.protocols.subscription import Subscription


def node(address: str, weight: int = 1, seen: float = 100.0) -> Node:
    return Node(address, weight, 0, 0, 2, 0, seen, 50.0)


def test_a_forked_reader_sees_the_writers_changes() -> None:
    table = SharedMembership(keys=4, nodes=4)
    before = table.changes()  # read before the fork: the child may write before the parent runs
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    child = os.fork()
    if child == 0:  # the receiver: writes, then waits for the parent to have read each step
        status = 1
        try:
            assert table.claim()
            table.publish("a.test", [node("127.0.0.1:9001"), node("127.0.0.1:9002", 3)], True)
            os.write(to_parent_w, b"1")
            os.read(to_child_r, 1)
            table.publish("a.test", [node("127.0.0.1:9002", 3, seen=200.0)], True)
            os.write(to_parent_w, b"2")
            os.read(to_child_r, 1)
            table.publish("a.test", [node("127.0.0.1:9002", 3, seen=300.0)], False)
            os.write(to_parent_w, b"3")
            os.read(to_child_r, 1)
            status = 0
        finally:
            os._exit(status)
    try:
        os.read(to_parent_r, 1)
        assert table.receiver() == child
        assert not table.claim()  # the receiver lives: the parent only reads
        first = table.changes()
        assert first == before + 1
        seen = table.read()
        assert seen is not None
        assert [(n.address, n.weight) for n in seen["a.test"]] == [
            ("127.0.0.1:9001", 1),
            ("127.0.0.1:9002", 3),
        ]
        assert seen["a.test"][0].cores == 2 and seen["a.test"][0].since == 50.0
        os.write(to_child_w, b"x")
        os.read(to_parent_r, 1)  # a node left
        assert table.changes() == first + 1
        seen = table.read()
        assert seen is not None and [n.address for n in seen["a.test"]] == ["127.0.0.1:9002"]
        os.write(to_child_w, b"x")
        os.read(to_parent_r, 1)  # a refreshed announce: the time, not the change counter
        assert table.changes() == first + 1
        seen = table.read()
        assert seen is not None and seen["a.test"][0].seen == 300.0
        os.write(to_child_w, b"x")
    finally:
        os.close(to_child_w)  # a failed assertion here must not leave the child waiting
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The receiver is gone: the next claimant takes over, with the keys it left.
    assert table.claim()
    assert table.receiver() == os.getpid()
    assert table.slots == {"a.test": 0}
    table.publish("a.test", [], True)
    assert table.read() == {}


def test_a_dropped_key_frees_its_slot() -> None:
    table = SharedMembership(keys=2, nodes=2)
    assert table.claim()
    assert table.publish("a.test", [node("127.0.0.1:1")], True)
    assert table.publish("b.test", [node("127.0.0.1:2")], True)
    assert not table.publish("c.test", [node("127.0.0.1:3")], True)  # no slot left
    assert table.publish("a.test", [], True)  # its last node dropped: the slot is free
    assert table.publish("c.test", [node("127.0.0.1:3")], True)
    seen = table.read()
    assert seen is not None
    assert sorted(seen) == ["b.test", "c.test"]
    assert table.publish("never.test", [], True)  # nothing to drop: nothing written


def test_the_nodes_of_a_key_are_bounded() -> None:
    table = SharedMembership(keys=1, nodes=3)
    assert table.claim()
    table.publish("a.test", [node(f"127.0.0.1:{port}") for port in range(1, 6)], True)
    seen = table.read()
    assert seen is not None and [n.address for n in seen["a.test"]] == [
        "127.0.0.1:1",
        "127.0.0.1:2",
        "127.0.0.1:3",
    ]


def test_a_table_met_mid_write_is_read_on_a_later_tick() -> None:
    table = SharedMembership(keys=1, nodes=1)
    assert table.claim()
    table.publish("a.test", [node("127.0.0.1:1")], True)
    seq, changes, pid = HEAD.unpack_from(table.memory, 0)
    HEAD.pack_into(table.memory, 0, seq | 1, changes, pid)  # as a writer that died mid-write
    assert table.read() is None
    assert list(table.read(torn=True)) == ["a.test"]  # what a new receiver starts from
    table.publish("a.test", [node("127.0.0.1:2")], True)  # the next write settles it
    seen = table.read()
    assert seen is not None and seen["a.test"][0].address == "127.0.0.1:2"


def test_the_membership_refuses_what_the_shared_table_cannot_hold() -> None:
    membership = Membership(time.monotonic)
    assert not membership.apply(Subscription("k" * (MAX_KEY_BYTES + 1), "127.0.0.1:1"))
    assert not membership.apply(Subscription("a.test", "/" + "s" * MAX_ADDRESS_BYTES))
    assert membership.refused == 2
    assert membership.apply(Subscription("a.test", "127.0.0.1:1"))
    loaded = Membership(time.monotonic)
    loaded.load({"a.test": membership.held("a.test")})
    assert [n.address for n in loaded.held("A.TEST")] == ["127.0.0.1:1"]


def test_a_follower_takes_the_receivers_nodes_and_never_drops_one_itself() -> None:
    front = parse_front(
        "[front]\nsubscription_server = 127.0.0.1:2626\nsubscription_tolerance = 3s\n"
        "[upstream app]\nsubscription = a.test\n[location /]\nproxy_pass = http://app\n"
    )
    table = SharedMembership(keys=2, nodes=2)
    loop = asyncio.new_event_loop()
    try:
        pools: list[tuple[str, ...]] = []
        subscribed = SubscribedPools(
            front,
            loop,
            lambda pool: pools.append(tuple(str(s.address) for s in pool.servers)),
            lambda line: None,
            shared=SharedSubscriptions(None, table),  # no socket: it only follows
        )
        subscribed.start()
        assert not subscribed.receiving
        now = time.monotonic()
        table.publish("a.test", [node("127.0.0.1:1", seen=now)], True)
        subscribed.tick()
        assert pools[-1] == ("127.0.0.1:1",)
        # The receiver refreshes the announce without a change: the follower does not reread,
        # and keeps the node past the tolerance by its own copy's time (the receiver decides).
        table.publish("a.test", [node("127.0.0.1:1", seen=now + 10)], False)
        subscribed.membership.clock = lambda: now + 10
        subscribed.tick()
        assert [n.address for n in subscribed.membership.nodes("a.test")] == ["127.0.0.1:1"]
        table.publish("a.test", [], True)  # the receiver dropped it
        subscribed.tick()
        assert not pools[-1]  # the pool left with no node
    finally:
        loop.close()
