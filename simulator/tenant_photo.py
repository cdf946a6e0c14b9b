"""Tiny real JPEG profile photos (identicons), encoded by hand so the simulator needs no imaging library.

A 64x64 baseline JPEG made of 8x8 single-colour blocks: with every AC coefficient zero a block is
just its DC value, which keeps the encoder to a few lines while the file stays valid for any decoder.
"""

from __future__ import annotations

import hashlib
import struct

SIZE_BLOCKS = 8  # 8x8 blocks of 8x8 pixels: a 64x64 image, one of Microsoft's HD photo sizes
PIXELS = SIZE_BLOCKS * 8
_QUANT = 8  # DC of a flat block is 8x its level-shifted value, so quantizing by 8 keeps the value exact

# Annex K.3 luminance DC table (categories 0..11), used for all three components.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALS = tuple(range(12))
# Every block ends right after its DC term, so the AC table only needs end-of-block (0x00).
_AC_BITS = (0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_AC_VALS = (0x00, 0x01)


def identicon_jpeg(key: int) -> bytes:
    """A deterministic 64x64 JPEG avatar for this key (a user's index and the tenant seed)."""
    bits = int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=8).digest(), "big")
    background, foreground = (240, 240, 240), _colour(bits)
    grid = _pattern(bits >> 24)
    blocks = [[foreground if grid[r][c] else background for c in range(SIZE_BLOCKS)] for r in range(SIZE_BLOCKS)]
    return _encode(blocks)


def _colour(key: int) -> tuple[int, int, int]:
    # A saturated colour from a hue wheel, so avatars differ at a glance.
    hue = (key & 0xFFFF) % 360
    sector, rest = divmod(hue, 60)
    rising, falling = 40 + rest * 3, 220 - rest * 3
    return [(220, rising, 40), (falling, 220, 40), (40, 220, rising),
            (40, falling, 220), (rising, 40, 220), (220, 40, falling)][sector]


def _pattern(bits: int) -> list[list[bool]]:
    # GitHub-style: a left-right mirrored 6x6 pattern inside a one-block border.
    grid = [[False] * SIZE_BLOCKS for _ in range(SIZE_BLOCKS)]
    for row in range(1, SIZE_BLOCKS - 1):
        for col in range(3):
            on = bool(bits >> ((row - 1) * 3 + col) & 1)
            grid[row][1 + col] = grid[row][SIZE_BLOCKS - 2 - col] = on
    return grid


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(max(0, min(255, round(v))) for v in (y, cb, cr))


def _huffman_codes(bits: tuple[int, ...], values: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    # Canonical Huffman codes (JPEG Annex C): symbol -> (code, length).
    codes, code, k = {}, 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


_DC_CODES = _huffman_codes(_DC_BITS, _DC_VALS)
_EOB = _huffman_codes(_AC_BITS, _AC_VALS)[0x00]


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def write(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:  # byte stuffing: a literal 0xFF in entropy data is followed by 0x00
                self.out.append(0x00)
        self.acc &= (1 << self.n) - 1

    def flush(self) -> bytes:
        if self.n:
            self.write((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1-bits
        return bytes(self.out)


def _scan(blocks: list[list[tuple[int, int, int]]]) -> bytes:
    writer, predictors = _BitWriter(), [0, 0, 0]
    for row in blocks:
        for rgb in row:
            for comp, level in enumerate(_ycbcr(rgb)):
                dc = level - 128  # (8 * (level - 128)) / _QUANT
                diff, predictors[comp] = dc - predictors[comp], dc
                category = abs(diff).bit_length()
                writer.write(*_DC_CODES[category])
                if category:
                    writer.write(diff if diff > 0 else diff + (1 << category) - 1, category)
                writer.write(*_EOB)
    return writer.flush()


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload


def _encode(blocks: list[list[tuple[int, int, int]]]) -> bytes:
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes([_QUANT] * 64)
    sof = struct.pack(">BHHB", 8, PIXELS, PIXELS, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    dht = (b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS)) + (b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS))
    sos = b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"
    return b"".join([
        b"\xff\xd8", _segment(0xE0, jfif), _segment(0xDB, dqt), _segment(0xC0, sof),
        _segment(0xC4, dht), _segment(0xDA, sos), _scan(blocks), b"\xff\xd9",
    ])


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, or None when it isn't a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None
