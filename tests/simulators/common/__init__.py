"""Pieces every local API simulator shares: the threaded HTTP server and its handler,
the request flow (scripts, random faults), the statistics and the `Reply` type.

    from tests.simulators.common import SimulatorServer, SimHandler, Faults, Stats

Each simulator subclasses `SimulatorServer` with its routes and its canned fault bodies.
"""

from .faults import KINDS, PASS, RANDOM_KINDS, Faults, Script, scripted_reply, seconds
from .reply import Reply
from .server import HOST, SimHandler, SimulatorServer, body_bytes
from .stats import Record, Stats

__all__ = ["HOST", "KINDS", "PASS", "RANDOM_KINDS", "Faults", "Record", "Reply", "Script",
           "SimHandler", "SimulatorServer", "Stats", "body_bytes", "scripted_reply",
           "seconds"]
