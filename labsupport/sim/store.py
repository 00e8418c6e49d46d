"""Where a queue's messages wait: the delivery rules of standard and FIFO queues.

Both stores keep messages in heaps keyed by the time they become receivable
and delete lazily: a heap entry whose message has moved on (deleted, received
again, visibility changed) is recognised as stale when it reaches the top and
dropped. Each message is pushed a bounded number of times per receive, so the
cost of a request does not grow with the depth of the queue.

Standard queue: each message is stored on ``replicas`` of ``servers``
servers. A short poll looks at a weighted random sample of servers, a long
poll at all of them. FIFO queue: messages wait in per-group lines; a group is
held while any message of it is in flight.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable

from labsupport.sim.messages import AVAILABLE, DELAYED, GONE, INFLIGHT, Message

__all__ = ["FifoStore", "StandardStore", "Store", "server_sample"]

# accept(message) -> False when the message left the queue instead of being
# delivered (moved to a dead-letter queue).
Accept = Callable[[Message], bool]


class Store:
    """What both kinds of queue share: counts, timers, retention, lookup."""

    def __init__(self) -> None:
        self.by_serial: dict[int, Message] = {}
        self.arrivals: deque[Message] = deque()
        self.n_delayed = 0
        self.n_inflight = 0
        self._timers: list[tuple[float, int, Message]] = []
        self._tick = itertools.count()

    def __len__(self) -> int:
        return len(self.by_serial)

    # -- counts -----------------------------------------------------------------

    def refresh(self, now: float, retention_s: float) -> None:
        """Apply what time has done: delays and visibility timeouts that ended,
        messages past the retention period."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, _, msg = heapq.heappop(timers)
            if msg.visible_at != when:
                continue
            if msg.state == DELAYED:
                self.n_delayed -= 1
                msg.state = AVAILABLE
            elif msg.state == INFLIGHT:
                self.n_inflight -= 1
                msg.state = AVAILABLE
        arrivals = self.arrivals
        while arrivals and (
            arrivals[0].state == GONE or arrivals[0].sent_at + retention_s <= now
        ):
            msg = arrivals.popleft()
            if msg.state != GONE:
                self.remove(msg)

    def counts(self) -> tuple[int, int, int]:
        """(visible, in flight, delayed) after the last :meth:`refresh`."""
        total = len(self.by_serial)
        return total - self.n_inflight - self.n_delayed, self.n_inflight, self.n_delayed

    # -- changes ------------------------------------------------------------------

    def add(self, msg: Message, delayed: bool) -> None:
        """Store a new message; ``delayed`` if it has a DelaySeconds delay."""
        self.by_serial[msg.serial] = msg
        self.arrivals.append(msg)
        if delayed:
            msg.state = DELAYED
            self.n_delayed += 1
            self._timer(msg)
        else:
            msg.state = AVAILABLE
        self._place(msg)

    def remove(self, msg: Message) -> None:
        """Take a message out for good (deleted, expired, moved, purged)."""
        if msg.state == GONE:
            return
        if msg.state == INFLIGHT:
            self.n_inflight -= 1
        elif msg.state == DELAYED:
            self.n_delayed -= 1
        msg.state = GONE
        self.by_serial.pop(msg.serial, None)
        self._removed(msg)

    def set_visible_at(self, msg: Message, when: float) -> None:
        """Change when an in-flight message becomes visible again."""
        msg.visible_at = when
        self._timer(msg)
        self._place(msg)

    def purge(self) -> int:
        """Remove every message; return how many there were."""
        count = len(self.by_serial)
        for msg in list(self.by_serial.values()):
            msg.state = GONE
        self.by_serial.clear()
        self.arrivals.clear()
        self._timers.clear()
        self.n_delayed = self.n_inflight = 0
        self._cleared()
        return count

    def _receive(self, msg: Message, now: float, visibility_s: float) -> None:
        if msg.state == DELAYED:
            self.n_delayed -= 1
        if msg.state != INFLIGHT:
            self.n_inflight += 1
        msg.state = INFLIGHT
        msg.receive_count += 1
        msg.nonce += 1
        msg.received_at = now
        if msg.first_receive_at is None:
            msg.first_receive_at = now
        when = now + visibility_s
        self.set_visible_at(msg, when)

    def _timer(self, msg: Message) -> None:
        heapq.heappush(self._timers, (msg.visible_at, next(self._tick), msg))

    # -- per kind -------------------------------------------------------------------

    def _place(self, msg: Message) -> None:
        raise NotImplementedError

    def _removed(self, msg: Message) -> None:
        """Hook for a kind that must react to a removal at once."""

    def _cleared(self) -> None:
        raise NotImplementedError

    def take(
        self,
        now: float,
        max_count: int,
        visibility_s: float,
        accept: Accept,
        servers: Iterable[int] | None = None,
    ) -> list[Message]:
        """Receive up to ``max_count`` messages receivable at ``now``."""
        raise NotImplementedError

    def next_visible(self) -> float | None:
        """Earliest time a message becomes receivable, or None if none will."""
        raise NotImplementedError

    def has_visible(self, now: float) -> bool:
        """True if a long poll at ``now`` would find a message."""
        when = self.next_visible()
        return when is not None and when <= now


class StandardStore(Store):
    """Messages on several servers; polls see the servers they sample.

    Each server keeps two heaps: ``pending`` (copies not receivable yet, by
    the time they become receivable) and ``ready`` (receivable copies, oldest
    send first). A poll moves due copies from pending to ready and takes the
    oldest ready copies across the servers it looks at; so propagation jitter
    decides whether a message is seen, and seen messages come oldest first.

    Every placement of a message (send, receive, visibility change) pushes
    one entry per server stamped with a fresh number; an entry is current
    while its stamp is the message's :attr:`Message.placement`.
    """

    def __init__(self, servers: int) -> None:
        super().__init__()
        self.pending: list[list[tuple[float, int, Message]]] = [
            [] for _ in range(servers)
        ]
        self.ready: list[list[tuple[int, int, float, Message]]] = [
            [] for _ in range(servers)
        ]

    def _place(self, msg: Message) -> None:
        stamp = next(self._tick)
        msg.placement = stamp
        entry = (msg.visible_at, stamp, msg)
        for server in msg.servers:
            heapq.heappush(self.pending[server], entry)

    def _cleared(self) -> None:
        for pending in self.pending:
            pending.clear()
        for ready in self.ready:
            ready.clear()

    def _pending_top(self, server: int) -> tuple[float, int, Message] | None:
        heap = self.pending[server]
        while heap:
            entry = heap[0]
            if entry[2].state != GONE and entry[2].placement == entry[1]:
                return entry
            heapq.heappop(heap)
        return None

    def _ready_top(self, server: int, now: float) -> Message | None:
        """The oldest receivable copy on ``server`` at ``now``, if any."""
        pending, ready = self.pending[server], self.ready[server]
        while (top := self._pending_top(server)) is not None and top[0] <= now:
            heapq.heappop(pending)
            msg = top[2]
            heapq.heappush(ready, (msg.serial, top[1], top[0], msg))
        while ready:
            _, stamp, _, msg = ready[0]
            if msg.state != GONE and msg.placement == stamp:
                return msg
            heapq.heappop(ready)
        return None

    def take(
        self,
        now: float,
        max_count: int,
        visibility_s: float,
        accept: Accept,
        servers: Iterable[int] | None = None,
    ) -> list[Message]:
        looked = list(range(len(self.pending)) if servers is None else servers)
        got: list[Message] = []
        # With a zero visibility timeout a received message is receivable again
        # at once. It must appear only once in one response, yet stay
        # receivable: its copies met again in this loop are put back after it.
        taken: set[int] = set()
        put_back: list[tuple[int, tuple[int, int, float, Message]]] = []
        while len(got) < max_count:
            best: Message | None = None
            best_server = -1
            for server in looked:
                msg = self._ready_top(server, now)
                if msg is not None and (best is None or msg.serial < best.serial):
                    best, best_server = msg, server
            if best is None:
                break
            entry = heapq.heappop(self.ready[best_server])
            if best.serial in taken:
                put_back.append((best_server, entry))
                continue
            if not accept(best):
                continue
            taken.add(best.serial)
            self._receive(best, now, visibility_s)
            got.append(best)
        for server, entry in put_back:
            heapq.heappush(self.ready[server], entry)
        return got

    def next_visible(self) -> float | None:
        times: list[float] = []
        for server in range(len(self.pending)):
            ready = self.ready[server]
            while ready and not (
                ready[0][3].state != GONE and ready[0][3].placement == ready[0][1]
            ):
                heapq.heappop(ready)
            if ready:
                times.append(ready[0][2])
            top = self._pending_top(server)
            if top is not None:
                times.append(top[0])
        return min(times) if times else None


class _Group:
    """One MessageGroupId's line of messages, oldest first."""

    __slots__ = ("held", "line", "name", "version")

    def __init__(self, name: str) -> None:
        self.name = name
        self.line: deque[Message] = deque()
        self.held: list[Message] = []  # received in the current hold
        self.version = 0


class FifoStore(Store):
    """Strict order within a group; a group waits while it has messages in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, _Group] = {}
        self._ready: list[tuple[float, int, int, _Group]] = []

    def _place(self, msg: Message) -> None:
        name = msg.group_id or ""
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = _Group(name)
        group.line.append(msg)
        self._schedule(group)

    def _removed(self, msg: Message) -> None:
        group = self.groups.get(msg.group_id or "")
        if group is not None:
            self._schedule(group)

    def _cleared(self) -> None:
        self.groups.clear()
        self._ready.clear()

    def _schedule(self, group: _Group) -> None:
        """Work out when ``group`` can next deliver and queue it for then."""
        line = group.line
        while line and line[0].state == GONE:
            line.popleft()
        if not line:
            group.held.clear()
            if self.groups.get(group.name) is group:
                del self.groups[group.name]
            group.version += 1
            return
        held = [m.visible_at for m in group.held if m.state != GONE]
        when = max(held) if held else line[0].visible_at
        group.version += 1
        heapq.heappush(self._ready, (when, line[0].serial, group.version, group))

    def _valid_ready(self) -> tuple[float, int, int, _Group] | None:
        ready = self._ready
        while ready:
            entry = ready[0]
            group = entry[3]
            if group.version == entry[2] and self.groups.get(group.name) is group:
                return entry
            heapq.heappop(ready)
        return None

    def take(
        self,
        now: float,
        max_count: int,
        visibility_s: float,
        accept: Accept,
        servers: Iterable[int] | None = None,
    ) -> list[Message]:
        got: list[Message] = []
        visited: list[_Group] = []  # each group once per response
        while len(got) < max_count:
            entry = self._valid_ready()
            if entry is None or entry[0] > now:
                break
            heapq.heappop(self._ready)
            group = entry[3]
            if any(group is seen for seen in visited):
                continue
            visited.append(group)
            scan = max_count - len(got) + len(group.held)
            group.held.clear()
            for msg in list(itertools.islice(group.line, 0, scan)):
                if msg.state == GONE:
                    continue
                if msg.visible_at > now:
                    break
                if not accept(msg):
                    continue
                group.held.append(msg)
                self._receive(msg, now, visibility_s)
                got.append(msg)
                if len(got) == max_count:
                    break
        for group in visited:
            if self.groups.get(group.name) is group:
                self._schedule(group)
        return got

    def set_visible_at(self, msg: Message, when: float) -> None:
        msg.visible_at = when
        self._timer(msg)
        group = self.groups.get(msg.group_id or "")
        if group is not None and msg in group.held:
            self._schedule(group)

    def next_visible(self) -> float | None:
        entry = self._valid_ready()
        return None if entry is None else entry[0]


def server_sample(rng: random.Random, weights: list[float], count: int) -> list[int]:
    """``count`` distinct servers drawn with probability in proportion to weight.

    Weighted sampling without replacement: each server gets the key
    ``u ** (1 / weight)`` for a uniform ``u``; the largest keys win.
    """
    keys = [(rng.random() ** (1.0 / w), i) for i, w in enumerate(weights)]
    keys.sort(reverse=True)
    return [i for _, i in keys[:count]]
