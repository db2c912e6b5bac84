"""The SNMPv1/v2c codec against pysnmp/pyasn1 as the reference, on real answers from snmpsim, and on
garbage: malformed bytes raise BerError and nothing else."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder
from pysnmp.proto import api

from agent.snmp import ber
from agent.snmp.values import from_pysnmp
from conftest import load_manifest

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
REQUESTS = [
    ("ricoh_mpc3002", ber.GET_BULK, ["1.3.6.1.2.1.1.1", "1.3.6.1.2.1.1.3", "1.3.6.1.2.1.43.11.1.1.6",
                                     "1.3.6.1.2.1.2.2.1.6"], 2, 12),
    ("jetdirect_m880", ber.GET_BULK, ["1.3.6.1.2.1.43.11.1.1.6", "1.3.6.1.2.1.25.3.2.1.2"], 0, 20),
    ("sharp", ber.GET, ["1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.25.3.5.1.2.1", "1.3.6.1.2.1.43.10.2.1.4.1.1",
                        "1.3.6.1.2.1.99.0"], 0, 0),
    ("utax", ber.GET_NEXT, ["1.3.6.1.2.1.1", "1.3.6.1.4.1.1347.43.5.1.1.28"], 0, 0),
    ("brother", ber.GET_BULK, ["1.3.6.1.9.9.9.9"], 0, 5),  # past the end of the MIB
]


def exchange(sim, community, pdu_type, oids, non_repeaters, repetitions) -> bytes:
    message = ber.encode_request("2c", community, pdu_type, 4242, oids, non_repeaters, repetitions)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        for _try in range(3):  # UDP: a busy simulator may drop a datagram
            sock.sendto(message, (sim.host, sim.port))
            try:
                return sock.recvfrom(65535)[0]
            except TimeoutError:
                continue
    raise TimeoutError(f"snmpsim did not answer {community}")


def reference_decode(data: bytes):
    message, _rest = decoder.decode(data, asn1Spec=V2C.Message())
    pdu = V2C.apiMessage.get_pdu(message)
    var_binds = []
    for name, value in V2C.apiPDU.get_varbinds(pdu):
        kind = type(value).__name__
        var_binds.append((str(name), ber.END_OF_MIB if kind == "EndOfMibView" else from_pysnmp(value)))
    return (int(V2C.apiPDU.get_request_id(pdu)), int(V2C.apiPDU.get_error_status(pdu)),
            int(V2C.apiPDU.get_error_index(pdu)), var_binds)


@pytest.mark.parametrize("community, pdu_type, oids, non_repeaters, repetitions", REQUESTS)
def test_decoding_matches_pyasn1_on_real_answers(snmpsim, community, pdu_type, oids, non_repeaters, repetitions):
    data = exchange(snmpsim, community, pdu_type, oids, non_repeaters, repetitions)
    version, got_community, request_id, status, index, var_binds = ber.decode_response(data)
    assert (version, got_community) == (1, community.encode())
    assert (request_id, status, index, var_binds) == reference_decode(data)
    assert var_binds, "the answer carries values"


@pytest.mark.parametrize("pdu_type, non_repeaters, repetitions", [(ber.GET, 0, 0), (ber.GET_BULK, 3, 25)])
def test_encoding_is_what_pyasn1_reads(pdu_type, non_repeaters, repetitions):
    oids = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.4.1.2699.1.3.1.2.1.1.3.1.4294967295", "2.999.1"]
    data = ber.encode_request("2c", "s3cr\u00e9t", pdu_type, 2**31 - 1, oids, non_repeaters, repetitions)
    message, rest = decoder.decode(data, asn1Spec=V2C.Message())
    assert rest == b""
    assert bytes(V2C.apiMessage.get_community(message)) == "s3cr\u00e9t".encode()
    pdu = V2C.apiMessage.get_pdu(message)
    assert [str(name) for name, _ in V2C.apiPDU.get_varbinds(pdu)] == oids
    assert int(V2C.apiPDU.get_request_id(pdu)) == 2**31 - 1


def test_values_of_every_type():
    def tlv(tag, body):
        return bytes((tag, len(body))) + body

    items = [(ber.INTEGER, b"\xff", -1), (ber.COUNTER32, b"\x00\xff\xff\xff\xff", 2**32 - 1),
             (ber.COUNTER64, b"\x00" + b"\xff" * 8, 2**64 - 1), (ber.IP_ADDRESS, b"\x0a\x00\x00\x24", "10.0.0.36"),
             (ber.OCTET_STRING, b"\x00abc", b"\x00abc"), (ber.NO_SUCH_INSTANCE, b"", None),
             (ber.END_OF_MIB_VIEW, b"", ber.END_OF_MIB)]
    var_binds = b"".join(tlv(0x30, ber.encode_oid(f"1.3.6.1.{i}") + tlv(tag, body))
                         for i, (tag, body, _) in enumerate(items))
    pdu = tlv(0x02, b"\x07") + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + bytes((0x30, 0x81, len(var_binds))) + var_binds
    inner = tlv(0x02, b"\x01") + tlv(0x04, b"public") + bytes((0xA2, 0x81, len(pdu))) + pdu
    message = bytes((0x30, 0x81, len(inner))) + inner
    assert [value for _oid, value in ber.decode_response(message)[5]] == [expected for *_, expected in items]


@pytest.fixture(scope="module")
def real_answer(snmpsim) -> bytes:
    return exchange(snmpsim, *REQUESTS[0])


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_raise_ber_error_only(data):
    try:
        ber.decode_response(data)
    except ber.BerError:
        pass


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0, max_value=10_000), byte=st.integers(0, 255),
       cut=st.integers(min_value=0, max_value=10_000))
def test_damaged_real_answers_raise_ber_error_only(real_answer, position, byte, cut):
    data = bytearray(real_answer)
    data[position % len(data)] = byte
    for candidate in (bytes(data), bytes(data[: cut % len(data)])):
        try:
            ber.decode_response(candidate)
        except ber.BerError:
            pass


def test_client_ignores_garbage_and_spoofed_answers(snmpsim):
    """A responder that first sends garbage and an answer with the wrong community, then forwards to
    snmpsim: the client takes only the genuine answer."""
    import asyncio
    import threading

    from agent.snmp.client import SnmpClient
    from agent.snmp.credentials import Credentials

    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind(("127.0.0.1", 0))
    relay.settimeout(10)

    def serve() -> None:
        data, client = relay.recvfrom(65535)
        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        upstream.settimeout(5)
        upstream.sendto(data, (snmpsim.host, snmpsim.port))
        answer = upstream.recvfrom(65535)[0]
        relay.sendto(b"\x30\x03garbage", client)
        relay.sendto(answer.replace(b"ricoh_mpc3002", b"ricoh_mpc300X"), client)
        relay.sendto(answer, client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def get():
        client = SnmpClient()
        try:
            session = client.session("127.0.0.1", relay.getsockname()[1], Credentials(community="ricoh_mpc3002"),
                                     timeout=5, retries=0)
            return await session.get(["1.3.6.1.2.1.43.5.1.1.17.1"])
        finally:
            client.close()

    values = asyncio.run(get())
    thread.join(5)
    relay.close()
    serial = next(e for e in load_manifest() if e["snmpsim_community"] == "ricoh_mpc3002")["expected"]["serial"]
    assert values == {"1.3.6.1.2.1.43.5.1.1.17.1": serial.encode()}
