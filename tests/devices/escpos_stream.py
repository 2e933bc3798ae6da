"""A small, strict ESC/POS stream parser: what a printer would make of our bytes.

It knows exactly the commands the renderer may send and raises on anything else, so
a stray control byte (an injected ESC from a product name, a wrong length field)
fails the test instead of passing unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ESC, GS, FS, DLE, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x0A


class StreamError(ValueError):
    """The bytes are not a stream our renderer could have produced."""


@dataclass(frozen=True)
class PrintedLine:
    """One line of text as sent (raw bytes) with the state it printed in."""

    raw: bytes
    chinese_mode: bool
    bold: bool
    align: int
    size: int

    def decode(self, encoding: str) -> str:
        return self.raw.decode(encoding)


@dataclass(frozen=True)
class Raster:
    """A ``GS v 0`` image: ``width_bytes * 8`` x ``height`` dots, MSB first, 1 = black."""

    width_bytes: int
    height: int
    data: bytes

    def image(self) -> np.ndarray:
        """A grey image (0 black, 255 white), as OpenCV and pyzbar read them."""
        bits = np.unpackbits(np.frombuffer(self.data, dtype=np.uint8))
        dots = bits.reshape(self.height, self.width_bytes * 8)
        return np.where(dots == 1, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class NativeQR:
    """The parameters and data of one ``GS ( k`` QR code."""

    model: int
    module: int
    ec: int
    data: bytes
    printed: bool


@dataclass
class Stream:
    """Everything parsed out of a byte stream, in order."""

    commands: list[str] = field(default_factory=list)
    lines: list[PrintedLine] = field(default_factory=list)
    qr_codes: list[NativeQR] = field(default_factory=list)
    rasters: list[Raster] = field(default_factory=list)
    barcodes: list[tuple[int, bytes, int, int]] = field(default_factory=list)
    drawer_kicks: list[bytes] = field(default_factory=list)
    status_queries: list[int] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    #: Bytes >= 0x80 sent while Chinese mode was off.
    high_bytes_outside_chinese_mode: int = 0

    def text(self, encoding: str) -> list[str]:
        return [line.decode(encoding) for line in self.lines]


def parse(data: bytes) -> Stream:
    """Parse a stream, raising :class:`StreamError` on anything unexpected."""
    out = Stream()
    chinese = bold = False
    align = size = 0
    barcode_height = barcode_width = 0
    qr: dict[str, int] = {}
    qr_data: bytes | None = None
    text = bytearray()
    i, n = 0, len(data)

    def need(count: int) -> bytes:
        if i + count > n:
            raise StreamError(f"truncated command at offset {i}")
        return data[i : i + count]

    while i < n:
        b = data[i]
        if b == ESC:
            cmd = need(2)[1]
            if cmd == ord("@"):
                out.commands.append("init")
                bold, align, size = False, 0, 0
                i += 2
            elif cmd == ord("E"):
                bold = bool(need(3)[2] & 1)
                out.commands.append("bold")
                i += 3
            elif cmd == ord("a"):
                align = need(3)[2]
                if align not in (0, 1, 2):
                    raise StreamError(f"bad alignment {align}")
                out.commands.append("align")
                i += 3
            elif cmd == ord("d"):
                out.commands.append("feed")
                i += 3
            elif cmd == ord("p"):
                out.drawer_kicks.append(need(5)[2:])
                out.commands.append("drawer")
                i += 5
            else:
                raise StreamError(f"unknown ESC {cmd:#x} at offset {i}")
        elif b == GS:
            cmd = need(2)[1]
            if cmd == ord("!"):
                size = need(3)[2]
                out.commands.append("size")
                i += 3
            elif cmd == ord("V"):
                m = need(3)[2]
                out.cuts.append(m)
                out.commands.append("cut")
                i += 4 if m in (65, 66) else 3
            elif cmd == ord("("):
                head = need(5)
                if head[2] != ord("k"):
                    raise StreamError(f"unknown GS ( {head[2]:#x}")
                length = head[3] | head[4] << 8
                i += 5
                payload = need(length)
                i += length
                cn, fn = payload[0], payload[1]
                if cn != ord("1"):
                    raise StreamError("GS ( k for a symbol other than QR")
                if fn == 65:
                    qr["model"] = payload[2] - 48
                elif fn == 67:
                    qr["module"] = payload[2]
                elif fn == 69:
                    qr["ec"] = payload[2]
                elif fn == 80:
                    if payload[2] != ord("0"):
                        raise StreamError("QR store with m != '0'")
                    qr_data = bytes(payload[3:])
                elif fn == 81:
                    if qr_data is None:
                        raise StreamError("QR print before store")
                    out.qr_codes.append(
                        NativeQR(qr["model"], qr["module"], qr["ec"], qr_data, printed=True)
                    )
                    qr_data = None
                else:
                    raise StreamError(f"unknown QR function {fn}")
                out.commands.append(f"qr{fn}")
            elif cmd == ord("v"):
                head = need(8)
                if head[2] != ord("0"):
                    raise StreamError("GS v with something other than 0")
                width_bytes = head[4] | head[5] << 8
                height = head[6] | head[7] << 8
                i += 8
                out.rasters.append(Raster(width_bytes, height, need(width_bytes * height)))
                i += width_bytes * height
                out.commands.append("raster")
            elif cmd == ord("k"):
                m = need(3)[2]
                if m < 65:
                    raise StreamError("only GS k m>=65 (length-prefixed) is expected")
                length = need(4)[3]
                i += 4
                out.barcodes.append((m, need(length), barcode_width, barcode_height))
                i += length
                out.commands.append("barcode")
            elif cmd in (ord("h"), ord("w"), ord("H")):
                value = need(3)[2]
                if cmd == ord("h"):
                    barcode_height = value
                elif cmd == ord("w"):
                    barcode_width = value
                out.commands.append(f"barcode_{chr(cmd)}")
                i += 3
            else:
                raise StreamError(f"unknown GS {cmd:#x} at offset {i}")
        elif b == FS:
            cmd = need(2)[1]
            if cmd == ord("&"):
                chinese = True
                out.commands.append("chinese_on")
            elif cmd == ord("."):
                chinese = False
                out.commands.append("chinese_off")
            else:
                raise StreamError(f"unknown FS {cmd:#x}")
            i += 2
        elif b == DLE:
            head = need(3)
            if head[1] != 0x04:
                raise StreamError("unknown DLE command")
            out.status_queries.append(head[2])
            out.commands.append("status")
            i += 3
        elif b == LF:
            out.lines.append(PrintedLine(bytes(text), chinese, bold, align, size))
            out.commands.append("line")
            text.clear()
            i += 1
        elif b < 0x20 or b == 0x7F:
            raise StreamError(f"stray control byte {b:#x} at offset {i}")
        else:
            if b >= 0x80 and not chinese:
                out.high_bytes_outside_chinese_mode += 1
            text.append(b)
            i += 1
    if text:
        raise StreamError(f"text without a final line feed: {bytes(text)!r}")
    return out


def decode_code128(payload: bytes) -> str:
    """The text of a ``GS k 73`` payload (``{B`` / ``{C`` code sets)."""
    out: list[str] = []
    code_set = None
    i = 0
    while i < len(payload):
        if payload[i] == ord("{"):
            nxt = chr(payload[i + 1])
            if nxt in "ABC":
                code_set = nxt
            elif nxt == "{":
                out.append("{")
            else:
                raise StreamError(f"unsupported CODE128 function {{{nxt}")
            i += 2
        elif code_set == "C":
            value = payload[i]
            if value > 99:
                raise StreamError("code set C value above 99")
            out.append(f"{value:02d}")
            i += 1
        elif code_set == "B":
            out.append(chr(payload[i]))
            i += 1
        else:
            raise StreamError("CODE128 data before a code set")
    return "".join(out)
