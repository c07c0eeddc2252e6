"""The uwsgi binary protocol codec (what nginx's ``uwsgi_pass`` speaks), and its encoder.

A request is a 4-byte header: ``modifier1`` (u8), ``datasize`` (u16, little-endian),
``modifier2`` (u8); then ``datasize`` bytes of variables, each a u16-LE key length, the key, a
u16-LE value length, the value (latin-1, like CGI); then ``CONTENT_LENGTH`` bytes of body.
The connection carries one request and closes after the response.

Rules this codec holds to:

- ``modifier1`` 0 is a WSGI request. 30 is the same with ``SCRIPT_NAME`` stripped from the front
  of ``PATH_INFO`` (old nginx sites mount an app under a prefix with ``uwsgi_modifier1 30``).
  Every other modifier is refused: usher runs no other uWSGI plugin.
- The variable block is bounded by buffer-size, as uWSGI bounds it; the refusal says which
  setting to raise. The body is bounded by limit-post.
- A variable block that does not parse exactly (a length running past the block) is refused.
- The ``Request`` carries the variables in ``vars``; ``headers`` stays empty because the
  ``HTTP_*`` variables already are the headers.
- Events stream as the HTTP codec's do (usher.protocols.events): the ``Request`` once the block
  of variables is in (``has_body`` when CONTENT_LENGTH is above 0), the body in ``Data`` pieces
  as it arrives, bounded to CONTENT_LENGTH (bytes after it are ignored), then ``END``; the codec
  is then DONE. Nothing is stored here: the WSGI adapter spools the body.
- The variables are decoded by a ``VarsDecoder``, which learns the run of keys the front server
  opens every packet with; a worker shares one among its connections.
"""

from __future__ import annotations

import sys
from typing import Final

from usher.protocols.events import END, CodecState, Data, Event, Limits, ProtocolError, Request

# Module-level names: the per-request path reads globals, not enum class attributes.
_IDLE: Final = CodecState.IDLE
_HEAD: Final = CodecState.HEAD
_BODY: Final = CodecState.BODY
_DONE: Final = CodecState.DONE

MODIFIER_WSGI: Final = 0
# uWSGI's "manage PATH_INFO" modifier: SCRIPT_NAME is removed from the front of PATH_INFO.
MODIFIER_STRIP_SCRIPT_NAME: Final = 30

_HEADER_SIZE: Final = 4
_MAX_FIELD: Final = 0xFFFF  # every length in the packet is a u16


class UwsgiCodec:
    """Parse the one uwsgi-protocol request of a connection into events.

    ``decoder`` decodes the block of variables; pass the worker's shared one so that what it
    learned serves every connection (a new one by default).
    """

    __slots__ = ("_buffer", "_decoder", "_events", "_left", "_limits", "_state")

    def __init__(self, limits: Limits, decoder: VarsDecoder | None = None) -> None:
        self._limits = limits
        self._decoder = decoder if decoder is not None else VarsDecoder()
        self._state = _IDLE
        # Behind nginx a block comes whole in one read: a buffer is made only for a block split
        # across reads, a bytearray then, so that a block fed byte by byte is not copied whole
        # at every byte.
        self._buffer: bytes | bytearray = b""
        self._events: list[Event] = []
        self._left = 0  # body bytes still expected

    @property
    def state(self) -> CodecState:
        """IDLE, HEAD, BODY or DONE: what the connection is waiting for."""
        return self._state

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed received bytes; return every event they complete, in order."""
        state = self._state
        if state is _DONE or not data:
            return []
        events: list[Event] = []
        self._events = events
        if state is _BODY:
            self._receive_body(data)
        else:
            self._state = _HEAD
            if self._buffer:
                self._buffer += data
                if self._parse_head(self._buffer):
                    self._buffer = b""
            elif not self._parse_head(data):
                # Behind nginx the whole block comes in one read and is parsed from `data` as
                # is; only a block split across reads is gathered here.
                self._buffer = bytearray(data)
        return events

    def receive_eof(self) -> list[Event]:
        """The peer closed its sending side: a request cut short is an error, else nothing."""
        events: list[Event] = []
        self._events = events
        if self._state is _HEAD or self._state is _BODY:
            self._fail(400, "the client closed the connection in the middle of a uwsgi request")
        self._state = _DONE
        return events

    def _parse_head(self, buffer: bytes | bytearray) -> bool:
        """Parse the header and variables at the start of `buffer`; False when more bytes are
        needed, True once the request started or was refused."""
        head = read_head(buffer, self._limits, self._decoder)
        if head is None:
            return False
        if isinstance(head, ProtocolError):
            self._refuse(head)
            return True
        variables, length, end = head
        self._events.append(new_request(variables, length))
        if not length:
            # Bytes after a bodiless request have no meaning: one request per connection.
            self._complete()
            return True
        self._left = length
        self._state = _BODY
        if len(buffer) > end:
            self._receive_body(bytes(buffer[end : end + length]))
        return True

    def _receive_body(self, data: bytes) -> None:
        left = self._left
        if len(data) >= left:
            self._events.append(Data(data[:left] if len(data) > left else data))
            self._complete()  # bytes past CONTENT_LENGTH are ignored
            return
        self._events.append(Data(data))
        self._left = left - len(data)

    def _complete(self) -> None:
        self._events.append(END)
        self._left = 0
        self._state = _DONE

    def _fail(self, status: int, reason: str) -> None:
        self._refuse(ProtocolError(status, reason))

    def _refuse(self, error: ProtocolError) -> None:
        self._events.append(error)
        self._state = _DONE
        self._buffer = b""
        self._left = 0


def read_head(
    buffer: bytes | bytearray, limits: Limits, decoder: VarsDecoder
) -> tuple[dict[str, str], int, int] | ProtocolError | None:
    """The header and variables at the start of `buffer`: (variables, body length, offset of the
    body), a ProtocolError when the packet is refused, or None while it is incomplete."""
    if len(buffer) < _HEADER_SIZE:
        return None
    modifier1 = buffer[0]
    size = buffer[1] | buffer[2] << 8
    if modifier1 != MODIFIER_WSGI and modifier1 != MODIFIER_STRIP_SCRIPT_NAME:
        return ProtocolError(
            400,
            f"uwsgi modifier1 {modifier1} is not supported: usher serves WSGI requests "
            "(modifier1 0, or 30 to strip SCRIPT_NAME); check uwsgi_modifier1 in nginx",
        )
    if size > limits.max_head:
        return ProtocolError(
            400,
            f"uwsgi request block of {size} bytes exceeds buffer-size {limits.max_head}: "
            f"raise buffer-size (e.g. buffer-size = 32768 in the ini, or --buffer-size "
            "32768) to accept larger headers",
        )
    end = _HEADER_SIZE + size
    if len(buffer) < end:
        return None
    try:
        variables = decoder.decode(bytes(buffer[_HEADER_SIZE:end]))
        length = _content_length(variables)
    except ValueError as exc:
        return ProtocolError(400, f"malformed uwsgi request: {exc}")
    if limits.max_body and length > limits.max_body:
        return ProtocolError(
            413, f"request body of {length} bytes exceeds limit-post ({limits.max_body} bytes)"
        )
    if modifier1 == MODIFIER_STRIP_SCRIPT_NAME:
        _strip_script_name(variables)
    return variables, length, end


def read_whole(
    data: bytes, limits: Limits, decoder: VarsDecoder
) -> tuple[dict[str, str], bytes] | None:
    """The variables and the body (b"" when none) when `data` is exactly one whole, acceptable
    packet, body included (what nginx sends for most requests in the first read); else None, and
    the codec takes `data` and reads on, or says why the packet is refused."""
    head = read_head(data, limits, decoder)
    if type(head) is not tuple:
        return None
    variables, length, end = head
    if len(data) - end != length:
        return None
    return variables, data[end:] if length else b""


def http_version(variables: dict[str, str]) -> str:
    """The request's HTTP version ("1.1") from SERVER_PROTOCOL; "1.0" when absent or odd."""
    protocol = variables.get("SERVER_PROTOCOL", "HTTP/1.0")
    return protocol[5:] if protocol.startswith("HTTP/") else "1.0"


# SERVER_PROTOCOL as a front server sends it, to the version: one lookup for the usual ones.
_VERSIONS: Final = {"HTTP/1.1": "1.1", "HTTP/1.0": "1.0"}


def new_request(variables: dict[str, str], length: int) -> Request:
    """The Request of a packet's variables and its body's length (CONTENT_LENGTH, as read_head
    read it): method, path and protocol as the codecs give them."""
    # Once per request behind nginx: string work first, one encode each, no helper calls.
    get = variables.get
    uri = get("REQUEST_URI")
    if uri is None:
        path = get("PATH_INFO", "").encode("latin-1")
    else:
        mark = uri.find("?")
        path = (uri if mark < 0 else uri[:mark]).encode("latin-1")
    version = _VERSIONS.get(get("SERVER_PROTOCOL", "HTTP/1.0")) or http_version(variables)
    return Request(
        get("REQUEST_METHOD", "GET"),  # method
        path,
        get("QUERY_STRING", "").encode("latin-1"),  # query
        version,
        [],  # headers: the HTTP_* variables already are the headers
        False,  # keep_alive: one request per connection
        variables,  # vars
        False,  # chunked
        length > 0,  # has_body
    )


# The front server's own variables open every packet, always the same keys in the same order
# (nginx's uwsgi_params); the client's headers (HTTP_*) follow. A VarsDecoder learns that run of
# keys from a packet, and then matches each of them with one comparison and reuses its string,
# where otherwise a new key string is cut and hashed per field: a tenth of the decoding. A packet
# whose first key differs (another location's params) is decoded field by field and teaches a new
# run.
_LEAD_MAX: Final = 32  # keys remembered; nginx's stock uwsgi_params has 15


class VarsDecoder:
    """Decodes the variable blocks of uwsgi packets, learning the keys that open them.

    One per worker, shared by its connections: what it learns is a speed-up, never a change in
    the result, and it is replaced whole (one assignment), so threads may share it too.
    """

    __slots__ = ("_lead",)

    def __init__(self) -> None:
        # (the key's length prefix and bytes, the key, bytes from the field's start to its value)
        self._lead: tuple[tuple[bytes, str, int], ...] = ()

    @property
    def learned(self) -> tuple[str, ...]:
        """The run of keys learned so far (empty before the first plain block)."""
        return tuple(key for _, key, _ in self._lead)

    def decode(self, block: bytes) -> dict[str, str]:
        """The variables of a uwsgi packet's block (without the 4-byte header).

        A key sent twice keeps its last value, except ``HTTP_*`` keys, which are joined as
        repeated HTTP fields are (``", "``, or ``"; "`` for cookies). Raises ValueError on a
        truncated block.
        """
        # This runs for every request behind nginx, ~15 fields each: the loops read lengths by
        # indexing the bytes (no call per length) and do no per-field checks. A learned key is
        # matched by comparing a slice, which costs less than a call of bytes.startswith (its
        # arguments are parsed per call): ~300 of the ~3,700 CPU instructions a field cost. A
        # block that is not plain (truncated, or a key sent twice) goes through the careful
        # decoder, which says why.
        text = block.decode("latin-1")
        variables: dict[str, str] = {}
        pos, end = 0, len(block)
        try:
            for prefix, key, skip in self._lead:
                start = pos + skip
                if block[pos : start - 2] != prefix:
                    break
                pos = start + (block[start - 2] | block[start - 1] << 8)
                variables[key] = text[start:pos]
            fields = len(variables)
            learn = not fields
            while pos < end:
                stop = pos + 2 + (block[pos] | block[pos + 1] << 8)
                start = stop + 2
                following = start + (block[stop] | block[stop + 1] << 8)
                if following > end:
                    break
                variables[text[pos + 2 : stop]] = text[start:following]
                pos = following
                fields += 1
        except IndexError:
            return _decode_vars_checked(text)
        if pos == end and fields == len(variables):
            if learn:
                self._lead = _lead_of(block)
            return variables
        return _decode_vars_checked(text)


def decode_vars(block: bytes) -> dict[str, str]:
    """The variables of one block, by a fresh VarsDecoder (nothing learned is kept)."""
    return VarsDecoder().decode(block)


def _lead_of(block: bytes) -> tuple[tuple[bytes, str, int], ...]:
    """The keys that open `block` (a plain one), up to its first header."""
    lead: list[tuple[bytes, str, int]] = []
    pos = 0
    while pos < len(block) and len(lead) < _LEAD_MAX:
        stop = pos + 2 + (block[pos] | block[pos + 1] << 8)
        key = block[pos + 2 : stop].decode("latin-1")
        if key.startswith("HTTP_"):
            break
        lead.append((block[pos:stop], sys.intern(key), stop + 2 - pos))
        pos = stop + 2 + (block[stop] | block[stop + 1] << 8)
    return tuple(lead)


def _decode_vars_checked(text: str) -> dict[str, str]:
    # latin-1 maps each byte to one character, so byte offsets stay valid in `text`.
    variables: dict[str, str] = {}
    pos, end = 0, len(text)
    while pos < end:
        if pos + 2 > end:
            raise ValueError(f"a key length is cut off at byte {pos} of the {end}-byte block")
        stop = pos + 2 + (ord(text[pos]) | ord(text[pos + 1]) << 8)
        key = text[pos + 2 : stop]
        if stop + 2 > end:
            raise ValueError(
                f"the value of {key!r} is cut off at byte {stop} of the {end}-byte block"
            )
        pos = stop + 2 + (ord(text[stop]) | ord(text[stop + 1]) << 8)
        if pos > end:
            raise ValueError(f"the value of {key!r} runs past the {end}-byte block")
        value = text[stop + 2 : pos]
        if key in variables and key.startswith("HTTP_"):
            joiner = "; " if key == "HTTP_COOKIE" else ", "
            value = variables[key] + joiner + value
        variables[key] = value
    return variables


def _content_length(variables: dict[str, str]) -> int:
    text = variables.get("CONTENT_LENGTH", "")
    if not text:
        return 0  # nginx sends an empty CONTENT_LENGTH for a request without a body
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"CONTENT_LENGTH is not a number: {text!r}")
    return int(text)


def _strip_script_name(variables: dict[str, str]) -> None:
    script_name = variables.get("SCRIPT_NAME", "").rstrip("/")
    path_info = variables.get("PATH_INFO", "")
    if script_name and (path_info == script_name or path_info.startswith(script_name + "/")):
        variables["PATH_INFO"] = path_info[len(script_name) :]
        variables["SCRIPT_NAME"] = script_name


def encode_uwsgi_request(
    vars: dict[str, str], body: bytes = b"", modifier1: int = MODIFIER_WSGI
) -> bytes:
    """A complete uwsgi-protocol request packet: header, variables, then ``body``.

    The caller sets ``CONTENT_LENGTH`` in ``vars``; nothing is added. Raises ValueError when a
    key, a value or the whole block does not fit the protocol's 16-bit lengths.
    """
    parts: list[bytes] = []
    for key, value in vars.items():
        for text in (key, value):
            raw = text.encode("latin-1")
            if len(raw) > _MAX_FIELD:
                raise ValueError(f"uwsgi field of {len(raw)} bytes exceeds 65535: {key!r}")
            parts.append(len(raw).to_bytes(2, "little"))
            parts.append(raw)
    block = b"".join(parts)
    if len(block) > _MAX_FIELD:
        raise ValueError(f"uwsgi variable block of {len(block)} bytes exceeds 65535")
    header = bytes((modifier1,)) + len(block).to_bytes(2, "little") + b"\x00"
    return header + block + body


# The little-endian u16 of every length up to this one, made once: a packet's fields are short,
# and a list index costs less than an int.to_bytes call per field.
_SHORT_LENGTHS: Final = tuple(n.to_bytes(2, "little") for n in range(1024))


def encode_uwsgi_vars(variables: dict[bytes, bytes], modifier1: int = MODIFIER_WSGI) -> bytes:
    """A uwsgi request packet's header and variables, from byte strings (the caller appends the
    body). The same packet as `encode_uwsgi_request` for keys and values already encoded, as a
    proxy has them; raises ValueError on a field or block past the protocol's 16-bit lengths."""
    short = _SHORT_LENGTHS
    parts: list[bytes] = []
    append = parts.append
    for key, value in variables.items():
        size = len(value)
        if size >= 1024:
            if size > _MAX_FIELD:
                raise ValueError(f"uwsgi field of {size} bytes exceeds 65535: {key!r}")
            length = size.to_bytes(2, "little")
        else:
            length = short[size]
        append(short[len(key)] if len(key) < 1024 else len(key).to_bytes(2, "little"))
        append(key)
        append(length)
        append(value)
    block = b"".join(parts)
    if len(block) > _MAX_FIELD:
        raise ValueError(f"uwsgi variable block of {len(block)} bytes exceeds 65535")
    return bytes((modifier1,)) + len(block).to_bytes(2, "little") + b"\x00" + block
