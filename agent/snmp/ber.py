"""A small, strict BER codec for SNMPv1/v2c messages (RFC 1157, RFC 3416), for the community hot path.

pyasn1's generic decoder builds a typed object tree for every value and costs about 70 % of an
inventory's CPU; an SNMP message only ever holds a handful of universal and application types, so
this module encodes requests and decodes responses straight from and to plain Python values
(``int``, ``bytes``, dotted ``str`` for OIDs and IpAddress, ``None`` for NULL/noSuch*, `END_OF_MIB`).
SNMPv3 (USM) stays on pysnmp. Malformed input raises `BerError`, never anything else.
"""

from __future__ import annotations

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
GET, GET_NEXT, RESPONSE, GET_BULK, REPORT = 0xA0, 0xA1, 0xA2, 0xA5, 0xA8
VERSIONS = {"1": 0, "2c": 1}
ERROR_STATUS = {0: "noError", 1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr",
                6: "noAccess", 16: "authorizationError"}


class BerError(ValueError):
    """Bytes that are not a well-formed SNMP message."""


class _EndOfMib:
    def __repr__(self) -> str:
        return "END_OF_MIB"


END_OF_MIB = _EndOfMib()


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _int(value: int, tag: int = INTEGER) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return _tlv(tag, value.to_bytes(size, "big", signed=True))


def oid_body(dotted: str) -> bytes:
    """The BER body (no tag, no length) of a dotted OBJECT IDENTIFIER."""
    arcs = [int(x) for x in dotted.strip(".").split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise BerError(f"not an encodable OBJECT IDENTIFIER: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def encode_oid(dotted: str) -> bytes:
    return _tlv(OID, oid_body(dotted))


def encode_v3_discovery(message_id: int) -> bytes:
    """An SNMPv3 engine-ID discovery message (RFC 3414 section 4): noAuthNoPriv, reportable, empty USM
    parameters, an empty GetRequest. Every SNMPv3 agent answers it with a Report, whatever its users."""
    header = _tlv(SEQUENCE, _int(message_id) + _int(65507) + _tlv(OCTET_STRING, b"\x04") + _int(3))
    usm = _tlv(SEQUENCE, _tlv(OCTET_STRING, b"") + _int(0) + _int(0) + _tlv(OCTET_STRING, b"") * 3)
    pdu = _tlv(GET, _int(message_id) + _int(0) + _int(0) + _tlv(SEQUENCE, b""))
    scoped = _tlv(SEQUENCE, _tlv(OCTET_STRING, b"") + _tlv(OCTET_STRING, b"") + pdu)
    return _tlv(SEQUENCE, _int(3) + header + _tlv(OCTET_STRING, usm) + scoped)


def decode_v3_message_id(data: bytes) -> int:
    """The msgID of an SNMPv3 message (enough to match a Report to an engine-ID discovery)."""
    reader = _Reader(data)
    reader.expect(SEQUENCE)
    if reader.integer() != 3:
        raise BerError("not an SNMPv3 message")
    reader.expect(SEQUENCE)
    return reader.integer()


def encode_request(version: str, community: str, pdu_type: int, request_id: int, oids: list[str],
                   non_repeaters: int = 0, max_repetitions: int = 0) -> bytes:
    """A GET, GETNEXT or GETBULK request; GETBULK puts its two numbers where GET has error fields."""
    var_binds = b"".join(_tlv(SEQUENCE, encode_oid(oid) + b"\x05\x00") for oid in oids)
    pdu = _int(request_id) + _int(non_repeaters) + _int(max_repetitions) + _tlv(SEQUENCE, var_binds)
    message = _int(VERSIONS[version]) + _tlv(OCTET_STRING, community.encode()) + _tlv(pdu_type, pdu)
    return _tlv(SEQUENCE, message)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def header(self) -> tuple[int, int, int]:
        """(tag, start of value, end of value) of the next TLV; leaves the reader at the value's start
        (inside a constructed value); `primitive` moves past the value."""
        data, pos = self.data, self.pos
        if pos + 2 > len(data):
            raise BerError("truncated header")
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first & 0x80:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise BerError("bad length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        else:
            length = first
        end = pos + length
        if end > len(data):
            raise BerError("value runs past the end of the message")
        self.pos = pos
        return tag, pos, end

    def expect(self, tag: int) -> tuple[int, int]:
        got, start, end = self.header()
        if got != tag:
            raise BerError(f"expected tag 0x{tag:02x}, got 0x{got:02x}")
        return start, end

    def primitive(self, tag: int) -> bytes:
        start, end = self.expect(tag)
        self.pos = end
        return self.data[start:end]

    def integer(self) -> int:
        body = self.primitive(INTEGER)
        if not body:
            raise BerError("empty INTEGER")
        return int.from_bytes(body, "big", signed=True)


def _decode_oid(body: bytes) -> str:
    if not body:
        raise BerError("empty OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if body[-1] & 0x80:
        raise BerError("truncated OBJECT IDENTIFIER")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


def _decode_value(tag: int, body: bytes) -> object:
    if tag == OCTET_STRING or tag == OPAQUE:
        return body
    if tag == INTEGER:
        return int.from_bytes(body, "big", signed=True)
    if tag in (COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return int.from_bytes(body, "big", signed=False)
    if tag == OID:
        return _decode_oid(body)
    if tag == IP_ADDRESS:
        return ".".join(map(str, body)) if len(body) == 4 else body
    if tag == END_OF_MIB_VIEW:
        return END_OF_MIB
    if tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE):
        return None
    raise BerError(f"unknown value tag 0x{tag:02x}")


def decode_response(data: bytes) -> tuple[int, bytes, int, int, int, list[tuple[str, int, object]]]:
    """(version, community, request_id, error_status, error_index, [(oid, tag, value), ...]); the tag is
    the value's BER tag (kept for recording devices), the value a plain Python value."""
    reader = _Reader(data)
    _start, end = reader.expect(SEQUENCE)
    version = reader.integer()
    community = reader.primitive(OCTET_STRING)
    tag, _pdu_start, _pdu_end = reader.header()
    if tag not in (RESPONSE, REPORT):
        raise BerError(f"not a response PDU (tag 0x{tag:02x})")
    request_id = reader.integer()
    error_status = reader.integer()
    error_index = reader.integer()
    _vb_start, vb_end = reader.expect(SEQUENCE)
    var_binds: list[tuple[str, int, object]] = []
    while reader.pos < vb_end:
        _s, item_end = reader.expect(SEQUENCE)
        oid = _decode_oid(reader.primitive(OID))
        value_tag, value_start, value_end = reader.header()
        reader.pos = value_end
        if value_end != item_end:
            raise BerError("variable binding with trailing bytes")
        var_binds.append((oid, value_tag, _decode_value(value_tag, data[value_start:value_end])))
    if reader.pos != vb_end or end != len(data):
        raise BerError("trailing bytes after the message")
    return version, community, request_id, error_status, error_index, var_binds


# The responder side (the project's printer simulator, `fleetmeter_sim`): requests are decoded with OIDs
# left as their BER bodies. Base-128 arcs sort like their numbers, so byte order of the bodies is OID
# order and a prefix of bytes is a prefix of arcs: a responder can bisect its sorted bodies directly.

def decode_request(data: bytes) -> tuple[int, bytes, int, int, int, int, list[bytes]]:
    """(version, community, pdu_type, request_id, non_repeaters, max_repetitions, [OID bodies]) of a
    v1/v2c GET, GETNEXT or GETBULK (for GET and GETNEXT the two numbers are the error fields)."""
    reader = _Reader(data)
    _start, end = reader.expect(SEQUENCE)
    version = reader.integer()
    community = reader.primitive(OCTET_STRING)
    tag, _pdu_start, _pdu_end = reader.header()
    if tag not in (GET, GET_NEXT, GET_BULK):
        raise BerError(f"not a request PDU (tag 0x{tag:02x})")
    request_id = reader.integer()
    first = reader.integer()
    second = reader.integer()
    _vb_start, vb_end = reader.expect(SEQUENCE)
    names: list[bytes] = []
    while reader.pos < vb_end:
        _s, item_end = reader.expect(SEQUENCE)
        body = reader.primitive(OID)
        if not body or body[-1] & 0x80:
            raise BerError("bad OBJECT IDENTIFIER")
        value_tag, _value_start, value_end = reader.header()
        reader.pos = value_end
        if value_end != item_end:
            raise BerError("variable binding with trailing bytes")
        names.append(body)
    if reader.pos != vb_end or end != len(data):
        raise BerError("trailing bytes after the message")
    return version, community, tag, request_id, first, second, names


def encode_value(tag: int, value: object) -> bytes:
    """One value TLV: ints for INTEGER/Counter/Gauge/TimeTicks, bytes for strings, dotted str for
    OIDs and IpAddress, None for NULL and the exceptions (noSuchObject, noSuchInstance, endOfMibView)."""
    if tag == INTEGER:
        return _int(value)  # type: ignore[arg-type]
    if tag in (COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        number = int(value)  # type: ignore[call-overload]
        return _tlv(tag, number.to_bytes(max(1, (number.bit_length() + 8) // 8), "big"))
    if tag in (OCTET_STRING, OPAQUE):
        return _tlv(tag, bytes(value))  # type: ignore[arg-type]
    if tag == OID:
        return encode_oid(value)  # type: ignore[arg-type]
    if tag == IP_ADDRESS:
        return _tlv(tag, bytes(int(x) for x in str(value).split(".")))
    if tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
        return bytes((tag, 0))
    raise BerError(f"cannot encode value tag 0x{tag:02x}")


def encode_var_bind(body: bytes, value_tlv: bytes) -> bytes:
    """A variable binding from an OID body and an encoded value."""
    return _tlv(SEQUENCE, _tlv(OID, body) + value_tlv)


def encode_response(version: int, community: bytes, request_id: int, error_status: int, error_index: int,
                    var_binds: bytes) -> bytes:
    """A Response PDU around already encoded variable bindings."""
    pdu = _int(request_id) + _int(error_status) + _int(error_index) + _tlv(SEQUENCE, var_binds)
    return _tlv(SEQUENCE, _int(version) + _tlv(OCTET_STRING, community) + _tlv(RESPONSE, pdu))
