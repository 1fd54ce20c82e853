"""The messages between the harness and a sealed agent process: JSON headers and raw arrays.

A frame is a 4-byte little-endian header length, the header (UTF-8 JSON object), then the
raw bytes of each array the header lists under ``"arrays"`` as ``{"dtype", "shape"}``. The
one request made at every step, ``act`` (with the transition observed before it), and its
reply travel as fixed binary structs instead (a length word with the top bit set names
them): JSON would cost a third of a step's round trip. Only
plain numeric dtypes travel (bool, integers, floats), so nothing is ever unpickled and
nothing the agent sends can run code in the harness. Sizes are bounded before anything is
read, so a broken or hostile peer gets a ``WireError``, not an allocation of its choosing.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

PROTOCOL_VERSION = 1
MAX_HEADER_BYTES = 1 << 20
MAX_ARRAY_BYTES = 1 << 33  # 8 GiB: a policy or dataset beyond that is not tabular
NUMERIC_KINDS = "biuf"
_LENGTH = struct.Struct("<I")
BINARY = 1 << 31
ACT, ACTION = BINARY | 1, BINARY | 2
_ACT = struct.Struct("<qqqB")  # agent, state, step, has a transition
_OBSERVED = struct.Struct("<qqdqB")  # state, action, reward, next state, terminated
_ACTION = struct.Struct("<q")


class WireError(Exception):
    """A frame that breaks the format (too large, not JSON, a forbidden dtype)."""


def send(stream: BinaryIO, header: dict, arrays: Sequence[np.ndarray] = ()) -> None:
    """Write one frame and flush it."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    described = [{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays]
    body = json.dumps({**header, "arrays": described}).encode()
    if len(body) > MAX_HEADER_BYTES:
        raise WireError(f"a message header of {len(body)} bytes is over the "
                        f"{MAX_HEADER_BYTES}-byte bound")
    stream.write(_LENGTH.pack(len(body)) + body)
    for a in arrays:
        stream.write(memoryview(a).cast("B") if a.size else b"")
    stream.flush()


def send_act(stream: BinaryIO, agent: int, state: int, step: int, observed) -> None:
    """The ``act`` request, with the transition ``(s, a, r, s', terminated)`` observed
    since the last request (or None)."""
    body = _ACT.pack(agent, state, step, observed is not None)
    if observed is not None:
        body += _OBSERVED.pack(*observed)
    stream.write(_LENGTH.pack(ACT) + body)
    stream.flush()


def send_action(stream: BinaryIO, action: int) -> None:
    stream.write(_LENGTH.pack(ACTION) + _ACTION.pack(action))
    stream.flush()


def receive(stream: BinaryIO) -> tuple[dict, list[np.ndarray]]:
    """Read one frame; ``EOFError`` if the peer closed the stream before it. Binary frames
    come back as the headers they stand for."""
    (length,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size, eof_ok=True))
    if length == ACT:
        agent, state, step, observed = _ACT.unpack(_read_exactly(stream, _ACT.size))
        transition = None
        if observed:
            s, a, r, s_next, done = _OBSERVED.unpack(_read_exactly(stream, _OBSERVED.size))
            transition = [s, a, r, s_next, bool(done)]
        return {"op": "act", "agent": agent, "state": state, "step": step,
                "observe": transition}, []
    if length == ACTION:
        return {"action": _ACTION.unpack(_read_exactly(stream, _ACTION.size))[0]}, []
    if length > MAX_HEADER_BYTES:
        raise WireError(f"a message header of {length} bytes is over the bound")
    try:
        header = json.loads(_read_exactly(stream, length).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"a message header is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays", []), list):
        raise WireError("a message header is not a JSON object with a list of arrays")
    arrays = [_read_array(stream, spec) for spec in header.pop("arrays", [])]
    return header, arrays


def _read_array(stream: BinaryIO, spec) -> np.ndarray:
    try:
        dtype = np.dtype(str(spec["dtype"]))
        shape = tuple(int(n) for n in spec["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"an array description is invalid: {exc}") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or min(shape, default=0) < 0:
        raise WireError(f"an array of dtype {dtype} and shape {shape} is not allowed "
                        "(plain bool, integer or float arrays only)")
    size = dtype.itemsize * int(np.prod(shape, dtype=np.float64))
    if size > MAX_ARRAY_BYTES:
        raise WireError(f"an array of {size} bytes is over the {MAX_ARRAY_BYTES}-byte bound")
    data = bytearray(_read_exactly(stream, int(size)))
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _read_exactly(stream: BinaryIO, n: int, eof_ok: bool = False) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            if eof_ok and left == n:
                raise EOFError("the peer closed the connection")
            raise WireError(f"the stream ended {left} bytes into a {n}-byte read")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
