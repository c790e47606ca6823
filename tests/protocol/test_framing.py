"""base64url and JSON framing at the boundary."""

from __future__ import annotations

import pytest

from securemsg.protocol import (
    MAX_FRAME_SIZE,
    MalformedMessageError,
    b64u_decode,
    b64u_encode,
    decode_frame,
    encode_json,
)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", bytes(range(256))])
def test_b64u_round_trip(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64u_decode(text) == data


@pytest.mark.parametrize(
    "text",
    ["AA==", "AA=", "A", "AAAAA", "AB", "AAB", "A+B/", "A A", "AA\n", "Ä", "AAF"],
)
def test_b64u_rejects(text: str) -> None:
    # AB, AAB and AAF carry non-zero unused bits; the others are padded,
    # of impossible length or outside the URL-safe alphabet.
    with pytest.raises(MalformedMessageError) as info:
        b64u_decode(text)
    assert info.value.close_code == 4400


def test_b64u_rejects_non_string() -> None:
    with pytest.raises(MalformedMessageError):
        b64u_decode(b"AAAA")  # type: ignore[arg-type]


def test_encode_json_is_compact_utf8() -> None:
    assert encode_json({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'


def test_encode_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode_json({"a": float("nan")})


@pytest.mark.parametrize(
    "frame",
    [
        '{"a":1,"a":2}',  # duplicate keys are read differently by different parsers
        '{"a":Infinity}',
        "null",
        "1",
        b"\xff{}",
        '{"a":"\\ud800"}x',
    ],
)
def test_decode_frame_rejects(frame: str | bytes) -> None:
    with pytest.raises(MalformedMessageError):
        decode_frame(frame)


def test_decode_frame_size_counts_utf8_bytes() -> None:
    base = '{"a":""}'
    fits = '{"a":"' + "é" * ((MAX_FRAME_SIZE - len(base)) // 2) + '"}'
    assert len(fits.encode()) <= MAX_FRAME_SIZE
    assert decode_frame(fits)["a"]
    too_big = '{"a":"' + "é" * (MAX_FRAME_SIZE // 2) + '"}'
    assert len(too_big) < MAX_FRAME_SIZE < len(too_big.encode())
    with pytest.raises(MalformedMessageError):
        decode_frame(too_big)


def test_decode_frame_accepts_decoded_mapping() -> None:
    assert decode_frame({"type": "rec"}) == {"type": "rec"}


def test_lone_surrogates_are_malformed(make_pair) -> None:
    from securemsg.protocol import parse_client_request

    with pytest.raises(MalformedMessageError):
        parse_client_request(decode_frame('{"t":"send","id":"1","to":"b","body":"\\ud800"}'))
    pair = make_pair()
    hello = dict(pair.client.client_hello(), enc_kid="\ud800")
    with pytest.raises(MalformedMessageError):
        pair.server.receive_client_hello(hello)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"rec","seq":' + "9" * 5000 + ',"ct":"AAAA"}',
        '{"type":"client_hello","v":' + "1" * 4400 + "}",
    ],
)
def test_huge_integers_are_malformed_not_value_errors(frame: str) -> None:
    # Python refuses to parse integers of more than 4,300 digits with a plain
    # ValueError; the core must turn that into its typed 4400 error.
    with pytest.raises(MalformedMessageError):
        decode_frame(frame)
