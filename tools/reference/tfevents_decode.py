#!/usr/bin/env python3
"""Decode a TensorBoard event file without TensorFlow or TensorBoard.

Reads the TFRecord framing (uint64 length, masked CRC32C of the length, data, masked
CRC32C of the data), checks both CRCs, and decodes each record as TensorFlow's
``Event`` proto (event.proto / summary.proto) field by field. Prints one JSON object
per event:

  {"wall_time": ..., "step": ..., "file_version": "brain.Event:2"}
  {"wall_time": ..., "step": ..., "scalars": {"loss": 1.23}}
  {"wall_time": ..., "step": ..., "images": {"tag": {"height": h, "width": w,
   "colorspace": c, "png_bytes": n, "png_sha256": "...", "png_pixels": p}}}
  {"wall_time": ..., "step": ..., "session_log": {"status": 1}}

An image's PNG is checked against its Summary.Image fields: the PNG signature, every
chunk's CRC-32, IHDR's width and height equal to the proto's, its colour type matching
the colour space (1 grey, 2 grey+alpha, 3 RGB or palette, 4 RGBA), and the IDAT stream
inflating to exactly one filter byte plus a row of pixels per line (``png_pixels`` is
width x height when it does). Exits with status 1 and a message naming the record on a
bad CRC, a malformed field or an image that fails these checks.
Usage: tfevents_decode.py <events file>
"""
import hashlib
import json
import struct
import sys
import zlib


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, pos):
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value = buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            n, pos = varint(buf, pos)
            value = buf[pos:pos + n]
            pos += n
        elif wire == 5:
            value = buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("wire type %d of field %d" % (wire, field))
        if pos > len(buf):
            raise ValueError("field %d runs past the message" % field)
        yield field, wire, value


# PNG colour type -> (TensorBoard colour space, samples per pixel).
PNG_COLOUR_TYPES = {0: (1, 1), 4: (2, 2), 2: (3, 3), 3: (3, 1), 6: (4, 4)}


def check_png(png, height, width, colorspace):
    """Checks a PNG against the Summary.Image fields; returns its pixel count."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("image is not a PNG (bad signature)")
    pos, ihdr, idat = 8, None, b""
    while pos < len(png):
        if pos + 8 > len(png):
            raise ValueError("PNG chunk header truncated")
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        data = png[pos + 8:pos + 8 + length]
        if len(data) != length or pos + 12 + length > len(png):
            raise ValueError("PNG chunk %r truncated" % kind)
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + data) & 0xFFFFFFFF != crc:
            raise ValueError("PNG chunk %r: bad CRC" % kind)
        if kind == b"IHDR":
            ihdr = data
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        raise ValueError("PNG without IHDR")
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if (w, h) != (width, height):
        raise ValueError("PNG is %dx%d, the Summary.Image says %dx%d" % (w, h, width, height))
    if colour not in PNG_COLOUR_TYPES or PNG_COLOUR_TYPES[colour][0] != colorspace:
        raise ValueError("PNG colour type %d does not match colorspace %d" % (colour, colorspace))
    if interlace != 0:
        raise ValueError("interlaced PNG: pixel count not checked")
    row = (w * PNG_COLOUR_TYPES[colour][1] * depth + 7) // 8
    raw = zlib.decompress(idat)
    if len(raw) != h * (1 + row):
        raise ValueError("PNG pixels: %d bytes, expected %d" % (len(raw), h * (1 + row)))
    return w * h


def image(buf):
    out = {}
    png = None
    for field, _, value in fields(buf):
        if field in (1, 2, 3):
            out[{1: "height", 2: "width", 3: "colorspace"}[field]] = value
        elif field == 4:
            png = value
            out["png_bytes"] = len(value)
            out["png_sha256"] = hashlib.sha256(value).hexdigest()
    if png is None:
        raise ValueError("image without encoded_image_string")
    out["png_pixels"] = check_png(
        png, out.get("height", 0), out.get("width", 0), out.get("colorspace", 0)
    )
    return out


def summary(buf, event):
    for field, _, value in fields(buf):
        if field != 1:
            continue
        tag = None
        for f, _, v in fields(value):
            if f == 1:
                tag = v.decode("utf-8")
            elif f == 2:
                event.setdefault("scalars", {})[tag] = struct.unpack("<f", v)[0]
            elif f == 4:
                event.setdefault("images", {})[tag] = image(v)


def event(buf):
    out = {}
    for field, wire, value in fields(buf):
        if field == 1 and wire == 1:
            out["wall_time"] = struct.unpack("<d", value)[0]
        elif field == 2 and wire == 0:
            out["step"] = value - (1 << 64) if value >= 1 << 63 else value
        elif field == 3 and wire == 2:
            out["file_version"] = value.decode("utf-8")
        elif field == 5 and wire == 2:
            summary(value, out)
        elif field == 6 and wire == 2:
            out["session_log"] = {
                "status": next((v for f, _, v in fields(value) if f == 1), 0)
            }
    return out


def records(data):
    pos = index = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("record %d: truncated header" % index)
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked(header) != length_crc:
            raise ValueError("record %d: bad length CRC" % index)
        body = data[pos + 12:pos + 12 + length]
        if len(body) != length or pos + 16 + length > len(data):
            raise ValueError("record %d: truncated data" % index)
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if masked(body) != data_crc:
            raise ValueError("record %d: bad data CRC" % index)
        yield body
        pos += 16 + length
        index += 1


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tfevents_decode.py <events file>")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    try:
        for body in records(data):
            print(json.dumps(event(body)))
    except ValueError as err:
        sys.exit("%s: %s" % (sys.argv[1], err))


if __name__ == "__main__":
    main()
