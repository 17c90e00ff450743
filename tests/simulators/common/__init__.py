"""Pieces every local API simulator shares: the threaded HTTP server and its handler.

    from tests.simulators.common import SimulatorServer, SimHandler, body_bytes

Fault injection (`Faults`, `Script`, `PASS`), request statistics (`Stats`, `Record`)
and the `Reply` type live in tests.simulators.github and are imported from there; they
hold nothing GitHub-specific except GitHub's canned fault bodies (`fault_reply`).
"""

from .server import HOST, SimHandler, SimulatorServer, body_bytes

__all__ = ["HOST", "SimHandler", "SimulatorServer", "body_bytes"]
