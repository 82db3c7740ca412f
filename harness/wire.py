"""The sandbox's wire format: length-prefixed frames of a JSON header and raw array bytes. No pickle.

Pickle would let a submission's return value run code in the scorer when it is unpickled (``__reduce__``), so
nothing crosses the boundary that is not plain JSON or the bytes of an array with an allowlisted dtype. A frame
is ``MAGIC, header length (u32), payload length (u64)``, the UTF-8 JSON header, then the payload. The reader
checks both lengths against limits *before* allocating, and reads under a deadline, so a child that announces a
huge frame or sends half a frame and hangs costs neither memory nor more than its time limit.

Both halves live here: ``encode_prediction`` runs in the child (it is where the detector's objects get turned
into numbers and bytes, so any code they carry runs there, under the child's limits), ``decode_reply`` in the
parent (it trusts nothing in the frame).
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from collections.abc import Callable

import numpy as np

MAGIC = b"IBW1"
PREFIX = struct.Struct(">4sIQ")
MAP_DTYPES = ("uint8", "bool", "float16", "float32", "float64")
MAP_PIXEL_FACTOR = 64  # a map may have at most this many times the image's pixels (maps get resized anyway)
REPLY_HEADER_LIMIT = 64 << 10  # a reply header is status, score, shape and an error message
READY_HEADER_LIMIT = 1 << 20  # the ready header carries the detector's describe() dict
ERROR_TEXT_LIMIT = 8000  # characters of an error message the child sends
PROBLEM_KINDS = ("error", "wrong_dtype", "wrong_shape")  # what the child may call a bad return value
POLL_S = 0.1  # how often a waiting reader runs its on_wait check (memory watch, child death)


class WireError(RuntimeError):
    """The peer broke the protocol (bad magic, oversized or malformed header, wrong payload size)."""


class WireTimeout(RuntimeError):
    """The deadline passed before a whole frame was sent or received."""


class WireClosed(EOFError):
    """The peer closed the connection (it died)."""


def send_frame(sock: socket.socket, header: dict, payload: bytes | memoryview = b"",
               deadline: float | None = None) -> None:
    head = json.dumps(header, allow_nan=True).encode("utf-8")
    payload = memoryview(payload).cast("B")
    sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 1e-3))
    try:
        sock.sendall(PREFIX.pack(MAGIC, len(head), payload.nbytes) + head)
        if payload.nbytes:
            sock.sendall(payload)
    except TimeoutError:
        raise WireTimeout("sending timed out") from None
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise WireClosed(str(exc)) from None


def _recv_exact(sock: socket.socket, n: int, deadline: float | None, on_wait: Callable[[], None] | None) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if deadline is None and on_wait is None:
            sock.settimeout(None)
        else:
            left = POLL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise WireTimeout(f"received {got} of {n} bytes before the deadline")
            sock.settimeout(min(left, POLL_S) if on_wait is not None else left)
        try:
            k = sock.recv_into(view[got:])
        except TimeoutError:
            if on_wait is not None:
                on_wait()
            continue
        except ConnectionResetError as exc:
            raise WireClosed(str(exc)) from None
        if k == 0:
            raise WireClosed(f"connection closed after {got} of {n} bytes")
        got += k
    return buf


def recv_frame(sock: socket.socket, max_header: int, check: Callable[[dict, int], None],
               deadline: float | None = None, on_wait: Callable[[], None] | None = None) -> tuple[dict, bytearray]:
    """One frame. ``check(header, payload_length)`` raises ``WireError`` for a payload it will not accept;
    it runs before the payload is allocated."""
    magic, head_len, payload_len = PREFIX.unpack(_recv_exact(sock, PREFIX.size, deadline, on_wait))
    if magic != MAGIC:
        raise WireError(f"bad frame magic {bytes(magic)!r}")
    if head_len > max_header:
        raise WireError(f"header of {head_len} bytes exceeds the {max_header}-byte limit")
    raw = _recv_exact(sock, head_len, deadline, on_wait)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested past the stack
        raise WireError(f"header is not JSON: {type(exc).__name__}: {exc}") from None
    if not isinstance(header, dict):
        raise WireError(f"header must be a JSON object, got {type(header).__name__}")
    check(header, payload_len)
    payload = _recv_exact(sock, payload_len, deadline, on_wait) if payload_len else bytearray()
    return header, payload


def _shape(value, max_ndim: int) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= max_ndim:
        raise WireError(f"shape must be a list of 1 to {max_ndim} sizes, got {value!r:.80}")
    if not all(type(v) is int and 0 <= v < (1 << 31) for v in value):
        raise WireError(f"shape sizes must be non-negative integers, got {value!r:.80}")
    return tuple(value)


# ---- parent -> child: the image --------------------------------------------------------------------------------

def image_frame(image: np.ndarray) -> tuple[dict, memoryview]:
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    return {"op": "predict", "shape": list(arr.shape)}, memoryview(arr).cast("B")


def check_image_header(header: dict, payload_len: int) -> None:
    if header.get("op") == "close":
        return
    if header.get("op") != "predict":
        raise WireError(f"unknown op {header.get('op')!r:.40}")
    if payload_len != math.prod(_shape(header.get("shape"), 3)):
        raise WireError("image payload size does not match its shape")


def decode_image(header: dict, payload: bytearray) -> np.ndarray:
    return np.frombuffer(payload, dtype=np.uint8).reshape(header["shape"])


# ---- child -> parent: the prediction ---------------------------------------------------------------------------

class ReturnValueProblem(ValueError):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def _plain_score(score) -> float | None:
    """Number -> float, in the child (a float subclass's ``__float__`` runs here). Same types as check_score."""
    if score is None:
        return None
    if isinstance(score, np.ndarray) and score.size == 1:
        score = score.item()
    if isinstance(score, (bool, np.bool_)) or not isinstance(score, (int, float, np.integer, np.floating)):
        raise ReturnValueProblem("wrong_dtype", f"score must be a number, got {type(score).__name__} {score!r:.60}")
    return float(score)


def _plain_map(value, image_pixels: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value)  # a custom __array__ runs here, in the child
    if arr.dtype.name not in MAP_DTYPES:
        if arr.dtype.kind == "f":  # float128 and the like: still a float map, sent as float64
            arr = arr.astype(np.float64)
        else:
            raise ReturnValueProblem("wrong_dtype", f"map must be uint8 or float in [0, 1], got dtype {arr.dtype}")
    if not 1 <= arr.ndim <= 3:
        raise ReturnValueProblem("wrong_shape", f"map must be H x W, got shape {arr.shape}")
    if arr.size > MAP_PIXEL_FACTOR * image_pixels:
        raise ReturnValueProblem("wrong_shape", f"map of shape {arr.shape} has more than {MAP_PIXEL_FACTOR} times "
                                                "the image's pixels")
    return np.ascontiguousarray(arr)


def encode_prediction(output, image_pixels: int) -> tuple[dict, bytes | memoryview]:
    """The detector's return value -> a reply frame. Only a dict with 'score' and/or 'map' is accepted."""
    try:
        if not isinstance(output, dict):
            raise ReturnValueProblem("wrong_dtype", "predict must return a dict with 'score' and 'map', "
                                                    f"got {type(output).__name__}")
        score = _plain_score(output.get("score"))
        arr = _plain_map(output.get("map"), image_pixels)
    except ReturnValueProblem as exc:
        return {"status": "problem", "kind": exc.kind, "error": exc.detail[:ERROR_TEXT_LIMIT]}, b""
    header = {"status": "ok", "score": score, "map": None}
    if arr is None:
        return header, b""
    header["map"] = {"dtype": arr.dtype.name, "shape": list(arr.shape)}
    return header, memoryview(arr).cast("B") if arr.size else b""


def error_frame(status: str, text: str) -> dict:
    return {"status": status, "error": text[:ERROR_TEXT_LIMIT]}


def reply_checker(image_pixels: int) -> Callable[[dict, int], None]:
    """The parent's check of a reply header before reading its payload."""

    def check(header: dict, payload_len: int) -> None:
        status = header.get("status")
        if status in ("error", "problem"):
            if not isinstance(header.get("error"), str) or payload_len:
                raise WireError("an error reply must carry an error string and no payload")
            if status == "problem" and header.get("kind") not in PROBLEM_KINDS:
                raise WireError(f"unknown problem kind {header.get('kind')!r:.40}")
            return
        if status != "ok":
            raise WireError(f"unknown reply status {status!r:.40}")
        score = header.get("score")
        if score is not None and type(score) not in (int, float):
            raise WireError(f"score must be a JSON number or null, got {type(score).__name__}")
        if type(score) is int and abs(score) > 1 << 64:
            raise WireError("score is an integer too large for a float")
        spec = header.get("map")
        if spec is None:
            if payload_len:
                raise WireError("a reply without a map must carry no payload")
            return
        if not isinstance(spec, dict) or spec.get("dtype") not in MAP_DTYPES:
            raise WireError(f"map dtype must be one of {', '.join(MAP_DTYPES)}, got {spec!r:.80}")
        shape = _shape(spec.get("shape"), 3)
        count = math.prod(shape)
        if count > MAP_PIXEL_FACTOR * image_pixels:
            raise WireError(f"map of shape {shape} exceeds {MAP_PIXEL_FACTOR} times the image's pixels")
        if payload_len != count * np.dtype(spec["dtype"]).itemsize:
            raise WireError(f"map payload of {payload_len} bytes does not match shape {shape} {spec['dtype']}")

    return check


def decode_reply(header: dict, payload: bytearray) -> dict:
    """A checked reply -> the dict ``check_prediction`` takes: a float (or None) and an ndarray (or None)."""
    score = header.get("score")
    out = {"score": None if score is None else float(score), "map": None}
    spec = header.get("map")
    if spec is not None:
        if spec["dtype"] == "bool":  # any byte is a valid uint8; a bool array must hold only 0 and 1
            out["map"] = np.frombuffer(payload, dtype=np.uint8).reshape(spec["shape"]) != 0
        else:
            out["map"] = np.frombuffer(payload, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])
    return out
