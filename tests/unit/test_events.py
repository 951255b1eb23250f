"""The event bus: ids, replay from the ring buffer, bounded subscribers."""
import threading

import pytest

from simulator.events import EventBus


def test_ids_increase_and_each_subscriber_sees_every_event_in_order():
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    ids = [bus.publish("dns", {"n": n}) for n in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    for subscription in (first, second):
        batch = subscription.get_batch(0)
        assert [(e.id, e.data["n"]) for e in batch] == [(i, i - 1) for i in ids]
        assert batch[0].frame == b'id: 1\nevent: dns\ndata: {"n":0}\n\n'


def test_last_event_id_replays_what_the_ring_still_holds():
    bus = EventBus(history=1000)
    for n in range(1500):
        bus.publish("clock", {"n": n})
    replay = bus.subscribe(last_event_id=1200).get_batch(0, limit=10_000)
    assert [e.id for e in replay] == list(range(1201, 1501))
    everything_kept = bus.subscribe(last_event_id=0).get_batch(0, limit=10_000)
    assert [e.id for e in everything_kept] == list(range(501, 1501))  # the last 1,000
    assert bus.subscribe(last_event_id=1500).get_batch(0) == []


def test_an_id_from_an_earlier_process_replays_everything():
    bus = EventBus()
    bus.publish("reset", {})
    assert [e.id for e in bus.subscribe(last_event_id=9999).get_batch(0)] == [1]


def test_a_subscriber_that_falls_behind_is_dropped_and_never_blocks_the_publisher():
    bus = EventBus(queue_limit=10)
    slow, fast = bus.subscribe(), bus.subscribe()
    received = []
    for n in range(25):
        bus.publish("sent", {"n": n})  # returns at once whatever the slow subscriber does
        received += fast.get_batch(0)
    assert [e.data["n"] for e in received] == list(range(25))
    assert slow.dropped and slow.closed and slow.get_batch(0) == []
    assert bus.subscriber_count == 1
    # The dropped client reconnects with the last id it saw and misses nothing.
    assert [e.data["n"] for e in bus.subscribe(last_event_id=0).get_batch(0, limit=100)] == list(range(25))


def test_get_batch_wakes_on_publish_and_close_ends_every_stream():
    bus = EventBus()
    subscription = bus.subscribe()
    got = []
    reader = threading.Thread(target=lambda: got.extend(subscription.get_batch(30)))
    reader.start()
    bus.publish("identity", {"identity": "example.com"})
    reader.join(30)
    assert [e.kind for e in got] == ["identity"]
    waiting = threading.Thread(target=lambda: got.extend(subscription.get_batch(30)))
    waiting.start()
    bus.close()
    waiting.join(30)
    assert not waiting.is_alive() and subscription.closed
    assert bus.subscribe().closed


def test_listeners_run_in_id_order_and_unknown_kinds_are_refused():
    bus = EventBus()
    seen = []
    bus.add_listener(lambda event: seen.append(event.id))
    bus.publish("dns", {})
    bus.publish("clock", {})
    assert seen == [1, 2]
    with pytest.raises(ValueError):
        bus.publish("gossip", {})
