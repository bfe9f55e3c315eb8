"""Helpers of ``benchmarks/load.py``: the in-process floor, the server processes, the conversation mix and the
load drivers (closed loop, open loop, one long conversation, widget sockets)."""
