"""One stored message, and the digests and ids SQS gives messages.

A queue may hold 100,000 messages, so :class:`Message` keeps its state in
``__slots__`` and the heavy fields (body, attributes) are kept as received.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AVAILABLE",
    "DELAYED",
    "GONE",
    "INFLIGHT",
    "IdMaker",
    "Message",
    "attributes_md5",
    "body_md5",
    "parse_receipt",
]

# Message states. DELAYED and INFLIGHT end by themselves when their time
# comes; the queue notices lazily (see labsupport.sim.store).
DELAYED = 0
AVAILABLE = 1
INFLIGHT = 2
GONE = 3


class Message:
    """A message held by a simulated queue. Times in seconds on the model clock.

    Attributes:
        serial: position in the queue's send order (0, 1, 2...).
        visible_at: when it can next be received (end of delay, propagation
            or visibility timeout).
        nonce: changes on every receive; part of the receipt handle, so an
            older handle is recognised as outdated.
        servers: indexes of the servers holding a copy (standard queues).
        placement: stamp of the message's latest placement on its servers; a
            server's heap entry with another stamp is outdated (standard queues).
    """

    __slots__ = (
        "attributes",
        "body",
        "dedup_id",
        "first_receive_at",
        "group_id",
        "md5_attributes",
        "message_id",
        "nonce",
        "placement",
        "receive_count",
        "received_at",
        "sent_at",
        "sequence_number",
        "serial",
        "servers",
        "size",
        "source_arn",
        "state",
        "system_attributes",
        "visible_at",
    )

    def __init__(
        self,
        serial: int,
        message_id: str,
        body: str,
        sent_at: float,
        visible_at: float,
    ) -> None:
        self.serial = serial
        self.message_id = message_id
        self.body = body
        self.sent_at = sent_at
        self.visible_at = visible_at
        self.state = DELAYED
        self.attributes: dict[str, Any] | None = None
        self.md5_attributes: str | None = None
        self.system_attributes: dict[str, Any] | None = None
        self.receive_count = 0
        self.first_receive_at: float | None = None
        self.received_at = 0.0
        self.nonce = 0
        self.placement = -1
        self.servers: tuple[int, ...] = ()
        self.group_id: str | None = None
        self.dedup_id: str | None = None
        self.sequence_number: str | None = None
        self.source_arn: str | None = None
        self.size = 0

    def __repr__(self) -> str:
        return (
            f"Message(serial={self.serial}, id={self.message_id}, "
            f"state={self.state}, receives={self.receive_count})"
        )


def body_md5(body: str) -> str:
    """MD5 hex digest of the body's UTF-8 bytes, as in MD5OfMessageBody."""
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def attributes_md5(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """MD5OfMessageAttributes, computed the way SQS documents it.

    For each attribute in name order: the name, the data type, a transport
    byte (1 for String and Number, 2 for Binary) and the value, each string
    or byte field preceded by its length as a 4-byte big-endian integer.
    ``BinaryValue`` is the base64 text of the JSON wire format.
    """
    digest = hashlib.md5()
    for name in sorted(attributes):
        attr = attributes[name]
        _put(digest, name.encode("utf-8"))
        _put(digest, str(attr["DataType"]).encode("utf-8"))
        if "BinaryValue" in attr:
            digest.update(b"\x02")
            _put(digest, base64.b64decode(attr["BinaryValue"]))
        else:
            digest.update(b"\x01")
            _put(digest, str(attr.get("StringValue", "")).encode("utf-8"))
    return digest.hexdigest()


def _put(digest: Any, data: bytes) -> None:
    digest.update(struct.pack(">I", len(data)))
    digest.update(data)


class IdMaker:
    """Message ids and receipt handles from a seeded generator.

    Same seed, same calls: same ids (``uuid4`` would differ on every run).
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def message_id(self) -> str:
        """A UUID-shaped message id (version 4 layout)."""
        bits = self._rng.getrandbits(128)
        bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)
        bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
        text = f"{bits:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def receipt(self, queue_key: int, serial: int, nonce: int) -> str:
        """A receipt handle naming the queue, the message and this receive."""
        noise = self._rng.getrandbits(128).to_bytes(16, "big")
        raw = struct.pack(">4sIQQ", b"simq", queue_key, serial, nonce) + noise
        return "AQEB" + base64.b64encode(raw).decode("ascii")


def parse_receipt(handle: object) -> tuple[int, int, int] | None:
    """(queue key, serial, nonce) from a receipt handle, or None if malformed."""
    if not isinstance(handle, str) or not handle.startswith("AQEB"):
        return None
    try:
        raw = base64.b64decode(handle[4:], validate=True)
    except ValueError:
        return None
    if len(raw) != 40 or raw[:4] != b"simq":
        return None
    _, queue_key, serial, nonce = struct.unpack(">4sIQQ", raw[:24])
    return queue_key, serial, nonce
