"""Subscriber of uiscsid's event stream (API.md, "Events").

Events come from a PUB socket as (topic, JSON) with a per-daemon `seq` that
grows by one per event. A PUB may drop messages (slow subscriber, reconnect,
subscription not yet propagated); EventSubscriber notices a jump in `seq` and
fetches the missing events from the daemon's ring with `events.get`, so the
caller sees every event of its topics once, in order. Events gone from the
ring are counted in `lost`. A new `epoch` (daemon restart) starts over at 0.
"""

import collections
import json
import time

import zmq

from .client import Client
from .errors import UiscsiError

__all__ = ["EventSubscriber"]


class EventSubscriber:
    """EventSubscriber(endpoint=None, topics=("",), *, client=None,
    rpc_endpoint=None, since_seq=None, fill_gaps=True, timeout=None,
    context=None)

    endpoint: the PUB endpoint (default: daemon.info's endpoints.events,
    asked through `client` or a Client of its own on rpc_endpoint). topics:
    prefixes as ZeroMQ matches them ("" is everything). since_seq: deliver
    every event after this seq, from the ring first (None: start with the
    first live event). timeout: longest idle wait of the iterator in seconds
    (None: wait forever, in bounded polls); get(timeout) returns None on
    timeout. Iterating yields (topic, event dict) pairs.

    Not thread-safe: use it from one thread.
    """

    POLL_SLICE = 0.5

    def __init__(self, endpoint=None, topics=("",), *, client=None, rpc_endpoint=None,
                 since_seq=None, fill_gaps=True, timeout=None, context=None, fill_max=1000,
                 fill_timeout=5.0):
        if isinstance(topics, (str, bytes)):
            topics = [topics]
        self.topics = [t.decode() if isinstance(t, bytes) else t for t in topics] or [""]
        self.fill_gaps = fill_gaps
        self.timeout = timeout
        self.fill_max = fill_max
        self.fill_timeout = fill_timeout
        self._own_client = None
        if client is None and (endpoint is None or fill_gaps):
            client = self._own_client = Client(rpc_endpoint, context=context)
        self.client = client
        self.endpoint = endpoint or client.events_endpoint()
        ctx = context or (client._ctx if client is not None else zmq.Context.instance())
        self._sock = ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        for t in self.topics:
            self._sock.setsockopt(zmq.SUBSCRIBE, t.encode())
        self._sock.connect(self.endpoint)
        self.last_seq = since_seq
        self.epoch = None
        self._ready = collections.deque()
        self.received = 0      # events taken from the PUB socket
        self.filled = 0        # events delivered from events.get
        self.duplicates = 0    # PUB events dropped because already delivered
        self.lost = 0          # seq numbers neither received nor in the ring
        self.last_error = None  # the last error of a gap fill, if any
        self.closed = False

    def matches(self, topic):
        return any(topic.startswith(t) for t in self.topics)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self._sock.close(linger=0)
        if self._own_client is not None:
            self._own_client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    def get(self, timeout=None):
        """The next (topic, event), waiting at most `timeout` seconds (default:
        the subscriber's timeout; None there means forever); None on timeout."""
        timeout = self.timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            wait = self.POLL_SLICE if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return None
            if self._sock.poll(int(min(wait, self.POLL_SLICE) * 1000)):
                for _ in range(1024):
                    try:
                        frames = self._sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._process(frames)
        return self._ready.popleft()

    def _process(self, frames):
        if len(frames) < 2:
            return
        try:
            topic = frames[0].decode()
            ev = json.loads(frames[1])
        except ValueError:
            return
        if not isinstance(ev, dict):
            return
        self.received += 1
        seq, epoch = ev.get("seq"), ev.get("epoch")
        if self.epoch is not None and epoch != self.epoch and self.last_seq is not None:
            self.last_seq = 0   # a restarted daemon counts from 1 again
        self.epoch = epoch
        if type(seq) is not int:
            self._ready.append((topic, ev))
            return
        if self.last_seq is not None:
            if seq <= self.last_seq:
                self.duplicates += 1
                return
            if seq > self.last_seq + 1:
                if self.fill_gaps and self.client is not None:
                    self._fill(self.last_seq, seq, epoch)
                else:
                    self.lost += seq - self.last_seq - 1
        self.last_seq = seq
        if self.matches(topic):
            self._ready.append((topic, ev))

    def _fill(self, after, before, epoch):
        """Queues the ring's events with after < seq < before (of our topics)."""
        expected = after + 1
        since = after
        try:
            for _ in range(1 + (before - after) // max(1, self.fill_max)):
                res = self.client.events_get(since, max=self.fill_max, timeout=self.fill_timeout)
                evs = res.get("events") or []
                for e in evs:
                    s = e.get("seq") if isinstance(e, dict) else None
                    if type(s) is not int or s <= since:
                        continue
                    if s >= before or e.get("epoch") != epoch:
                        since = before
                        break
                    if s > expected:
                        self.lost += s - expected
                    expected = s + 1
                    since = s
                    topic = e.pop("topic", "")
                    if self.matches(topic):
                        self._ready.append((topic, e))
                        self.filled += 1
                if since >= before - 1 or not evs:
                    break
        except UiscsiError as e:
            self.last_error = e
        if expected < before:
            self.lost += before - expected
