"""Python client of uiscsid, the userspace iSCSI initiator daemon.

Speaks only the public JSON-RPC 2.0 over ZeroMQ API (docs/api.md):

    from uiscsi import Client
    with Client() as c:
        with c.session("192.0.2.10", "iqn.2003-01.org.example:disk1") as s:
            block0 = s.read(0, 0, 1)

See clients/python/README.md.
"""

from .client import (API_VERSION, Client, Future, Pipeline, ReadStream, Session,
                     default_endpoint)
from .errors import *  # noqa: F401,F403 (the typed exceptions)
from .errors import __all__ as _errors_all
from .events import EventSubscriber

__version__ = "0.1.0"
__all__ = ["API_VERSION", "Client", "Future", "Pipeline", "ReadStream", "Session",
           "EventSubscriber", "default_endpoint"] + list(_errors_all)
