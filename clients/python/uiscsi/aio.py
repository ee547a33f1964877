"""asyncio client of uiscsid: the same methods as Client, as coroutines.

    async with AsyncClient() as c:
        info = await c.daemon_info()
        blocks = await asyncio.gather(*(c.scsi_read(s, 0, lba, 8) for lba in range(0, 800, 8)))

One reader task matches replies to requests by id; a semaphore keeps at most
max_in_flight requests outstanding. Use an AsyncClient from one event loop.
raw.stream and events are only in the synchronous module.
"""

import asyncio
import json
import time

import zmq
import zmq.asyncio

from .client import (COPY_THRESHOLD, DEFAULT_IN_FLIGHT, DEFAULT_TIMEOUT, TIMEOUT_SLACK, _Api,
                     _BUFFERS, _merge, decode_attachments, default_endpoint, encode_request)
from .errors import ClientError, ClientTimeout, error_from_reply

__all__ = ["AsyncClient"]


class AsyncClient(_Api):
    """AsyncClient(endpoint=None, *, timeout=35.0, max_in_flight=256, context=None)"""

    def __init__(self, endpoint=None, *, timeout=DEFAULT_TIMEOUT,
                 max_in_flight=DEFAULT_IN_FLIGHT, context=None):
        self.endpoint = endpoint or default_endpoint()
        self.timeout = timeout
        self._ctx = context or zmq.asyncio.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.endpoint)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending = {}
        self._next_id = 0
        self._reader = None
        self.closed = False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        if self.closed:
            return
        self.closed = True
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        self._sock.close(linger=0)
        for fut in self._pending.values():
            fut.cancel()
        self._pending.clear()

    async def call(self, method, params=None, *, timeout=None, **kw):
        return await self._invoke(method, _merge(params, kw), None, timeout)

    async def _invoke(self, method, params, post=None, timeout=None):
        if self.closed:
            raise ClientError("client closed")
        if timeout is None:
            tm = params.get("timeout_ms")
            timeout = tm / 1000.0 + TIMEOUT_SLACK if isinstance(tm, int) else self.timeout
        deadline = time.monotonic() + timeout
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise ClientTimeout("no free in-flight slot for %s" % method) from None
        released = False
        try:
            self._next_id += 1
            rid = self._next_id
            frames = encode_request(method, params, rid)
            fut = asyncio.get_running_loop().create_future()
            self._pending[rid] = fut
            if self._reader is None:
                self._reader = asyncio.ensure_future(self._read())
            last = len(frames) - 1
            for i, f in enumerate(frames):
                big = isinstance(f, _BUFFERS) and memoryview(f).nbytes >= COPY_THRESHOLD
                await self._sock.send(f, zmq.SNDMORE if i < last else 0, copy=not big)
            try:
                msg, rframes = await asyncio.wait_for(asyncio.shield(fut),
                                                      max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                # The reply may still come: keep the slot until then.
                fut.add_done_callback(lambda _f: self._slots.release())
                released = True
                raise ClientTimeout("no reply to %s (id %r) in time" % (method, rid)) from None
        finally:
            if not released:
                self._slots.release()
        if "error" in msg:
            raise error_from_reply(msg["error"])
        result = decode_attachments(msg.get("result"), rframes)
        return post(result) if post is not None else result

    async def _read(self):
        while True:
            frames = await self._sock.recv_multipart(copy=False)
            try:
                msg = json.loads(frames[0].bytes)
            except ValueError:
                continue
            for m in (msg if isinstance(msg, list) else [msg]):
                if not isinstance(m, dict) or "method" in m:
                    continue
                fut = self._pending.pop(m.get("id"), None) if isinstance(m.get("id"), int) else None
                if fut is not None and not fut.done():
                    fut.set_result((m, frames))
