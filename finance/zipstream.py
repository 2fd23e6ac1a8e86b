"""A ZIP archive written as a stream, in memory that does not grow with the number of files.

`zipfile` keeps a ZipInfo object (about 1 KB) per file until it writes the central directory at
the end. Here the files are stored (not compressed: XML archives are small and the sizes are
then known before each file is written), and the central directory is written from a second
pass over the same rows: only the CRC-32 of each file (4 bytes) is kept between the two passes.
ZIP64 records are written so that any number of files can be read back.
"""

import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator
from datetime import datetime

# Version 4.5 (ZIP64); bit 11: names are UTF-8; bit 3: sizes follow in a data descriptor.
VERSION = 45
UTF8 = 1 << 11
DESCRIPTOR = 1 << 3
MAX16 = 0xFFFF
MAX32 = 0xFFFFFFFF


def _dos(moment: datetime) -> tuple[int, int]:
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    date = ((max(moment.year, 1980) - 1980) << 9) | (moment.month << 5) | moment.day
    return time, date


class ZipStream:
    """Writes local entries as they come, then the central directory from a replay of them."""

    def __init__(self, moment: datetime):
        self.time, self.date = _dos(moment)
        self.offset = 0
        self.crcs = array("I")
        self._streamed: tuple[bytes, int, int, int] | None = None  # name, crc, size, offset

    def _local_header(self, name: bytes, crc: int, size: int, flags: int) -> bytes:
        return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", VERSION, UTF8 | flags, 0, self.time,
                           self.date, crc, size, size, len(name), 0) + name

    def file(self, name: str, data: bytes) -> bytes:
        """A whole file's local entry (its CRC is remembered for the central directory)."""
        encoded = name.encode()
        crc = zlib.crc32(data)
        self.crcs.append(crc)
        chunk = self._local_header(encoded, crc, len(data), 0) + data
        self.offset += len(chunk)
        return chunk

    def streamed_file(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """A file whose size is not known in advance (one only: written first, e.g. a manifest)."""
        if self.offset or self._streamed is not None:
            raise RuntimeError("the streamed file must be the archive's first")
        encoded = name.encode()
        start = self.offset
        header = self._local_header(encoded, 0, 0, DESCRIPTOR)
        yield header
        crc, size = 0, 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            yield chunk
        descriptor = struct.pack("<4sIII", b"PK\x07\x08", crc, size, size)
        yield descriptor
        self.offset += len(header) + size + len(descriptor)
        self._streamed = (encoded, crc, size, start)

    def _central_record(self, name: bytes, crc: int, size: int, offset: int, flags: int) -> bytes:
        extra = struct.pack("<HHQQQ", 0x0001, 24, size, size, offset)  # ZIP64 sizes and offset
        return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", VERSION, VERSION, UTF8 | flags, 0,
                           self.time, self.date, crc, MAX32, MAX32, len(name), len(extra), 0, 0, 0,
                           0, MAX32) + name + extra

    def central_directory(self, replay: Iterable[tuple[str, int]]) -> Iterator[bytes]:
        """The directory, from the files' (name, size) in the order they were written."""
        start = self.offset
        size = 0
        count = 0
        if self._streamed is not None:
            name, crc, length, offset = self._streamed
            record = self._central_record(name, crc, length, offset, DESCRIPTOR)
            size += len(record)
            count += 1
            yield record
        offset = self._streamed_length()
        for index, (name, length) in enumerate(replay):
            encoded = name.encode()
            record = self._central_record(encoded, self.crcs[index], length, offset, 0)
            offset += 30 + len(encoded) + length
            size += len(record)
            count += 1
            yield record
        if count - (self._streamed is not None) != len(self.crcs):
            raise RuntimeError("the files changed between the two passes of the ZIP export")
        end = start + size
        yield struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, VERSION, VERSION, 0, 0, count, count,
                          size, start)
        yield struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
        yield struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, min(count, MAX16), min(count, MAX16),
                          min(size, MAX32), min(start, MAX32), 0)

    def _streamed_length(self) -> int:
        if self._streamed is None:
            return 0
        name, _crc, size, _offset = self._streamed
        return 30 + len(name) + size + 16
