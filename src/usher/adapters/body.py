"""The request body the WSGI adapter hands the app as ``wsgi.input``, filled from codec events.

The codecs (usher.protocols) emit a body as ``Data`` pieces and store nothing; the WSGI adapter
appends each piece here and calls ``finish`` at ``END``. A body is held in memory up to the spool
threshold (``post-buffering``) and moved to an anonymous temporary file once it grows past it, so
a large upload costs disk, not worker memory. The worker reads a request completely before a WSGI
app runs (a slow client never holds an app thread), which is why the whole body must live
somewhere.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from typing import IO, ClassVar


class RequestBody:
    """A request body: ``append`` and ``finish`` by the adapter, then a read-only byte stream.

    ``length`` counts the bytes received. Reads before ``finish()`` are an error. ``EMPTY`` is one
    shared, finished, empty body for the many requests that carry none.
    """

    EMPTY: ClassVar[RequestBody]

    __slots__ = ("_file", "_length", "_memory", "_stream", "_threshold")

    def __init__(self, spool_threshold: int) -> None:
        self._threshold = spool_threshold
        self._length = 0
        # Allocated on the first byte: most requests that get a body object still send little.
        self._memory: io.BytesIO | None = None
        self._file: IO[bytes] | None = None
        self._stream: IO[bytes] | None = None

    @property
    def length(self) -> int:
        """Bytes received so far."""
        return self._length

    @property
    def spooled(self) -> bool:
        """True once the body has moved to a temporary file."""
        return self._file is not None

    def append(self, data: bytes) -> None:
        """Add received bytes; past the spool threshold everything moves to a temporary file."""
        if self._stream is not None:
            # Also guards EMPTY, which every bodiless request shares.
            raise ValueError("request body already finished")
        if not data:
            return
        self._length += len(data)
        if self._file is not None:
            self._file.write(data)
        elif self._length > self._threshold:
            self._spill(data)
        else:
            if self._memory is None:
                self._memory = io.BytesIO()
            self._memory.write(data)

    def _spill(self, data: bytes) -> None:
        # Anonymous (unlinked at once, gone when closed); it outlives this call, hence no `with`.
        spool = tempfile.TemporaryFile()  # noqa: SIM115
        if self._memory is not None:
            spool.write(self._memory.getbuffer())
            self._memory.close()
            self._memory = None
        spool.write(data)
        self._file = spool

    def finish(self) -> None:
        """Mark the body complete and rewind it for reading."""
        if self._stream is not None:
            return
        stream: IO[bytes]
        if self._file is not None:
            stream = self._file
            stream.flush()
        elif self._memory is not None:
            stream = self._memory
        else:
            stream = io.BytesIO()
        stream.seek(0)
        self._stream = stream

    def _reader(self) -> IO[bytes]:
        if self._stream is None:
            raise ValueError("request body read before it was complete")
        return self._stream

    def read(self, n: int | None = -1) -> bytes:
        """Read up to ``n`` bytes, or everything left when ``n`` is negative or None."""
        return self._reader().read(-1 if n is None else n)

    def rewind(self) -> None:
        """Read from the start again (a proxy sending the body to a second server)."""
        self._reader().seek(0)

    def readline(self, limit: int | None = -1) -> bytes:
        """Read one line, ending with ``b"\\n"`` unless the body ends or ``limit`` is reached."""
        return self._reader().readline(-1 if limit is None else limit)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read lines until the body ends or their total length reaches ``hint``."""
        return self._reader().readlines(hint)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._reader())

    def close(self) -> None:
        """Release the memory or temporary file; later reads fail."""
        if self is RequestBody.EMPTY:
            return
        for stream in (self._stream, self._file, self._memory):
            if stream is not None:
                stream.close()

    def __repr__(self) -> str:
        where = "file" if self._file is not None else "memory"
        return f"<RequestBody {self._length} bytes in {where}>"


def _empty_body() -> RequestBody:
    body = RequestBody(0)
    body.finish()
    return body


RequestBody.EMPTY = _empty_body()
