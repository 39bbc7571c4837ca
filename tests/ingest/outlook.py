"""Write small, real Outlook .msg files for the tests.

No installed package writes .msg files, so this module writes the two layers itself: a
Compound File Binary container (MS-CFB, version 3: 512-byte sectors, streams under 4096 bytes
in the mini stream) and, inside it, the message's property streams (MS-OXMSG): subject, plain
and HTML body, transport headers, and attachments by value. olefile and python-oxmsg read the
result like a file Outlook saved.
"""

from __future__ import annotations

import struct
from pathlib import Path

Tree = dict[str, "bytes | Tree"]

_SECTOR = 512
_MINI = 64
_CUTOFF = 4096
_FREE, _END, _FAT, _NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_STRING, _BINARY, _INT = 0x001F, 0x0102, 0x0003


def write_msg(
    path: Path,
    subject: str,
    body: str,
    html: str | None = None,
    attachments: dict[str, bytes] | None = None,
    headers: str = "Content-Type: multipart/mixed\r\n",
) -> Path:
    """An Outlook message with ``attachments`` (file name → bytes) attached by value."""
    attachments = attachments or {}
    props: list[tuple[int, int, bytes]] = [
        (0x001A, _STRING, "IPM.Note".encode("utf-16-le")),
        (0x0037, _STRING, subject.encode("utf-16-le")),
        (0x1000, _STRING, body.encode("utf-16-le")),
        (0x007D, _STRING, headers.encode("utf-16-le")),
    ]
    if html is not None:
        props.append((0x1013, _BINARY, html.encode("utf-8")))
    count = len(attachments)
    root: Tree = _properties(props, struct.pack("<8x4I8x", 0, count, 0, count))
    for index, (name, data) in enumerate(attachments.items()):
        attachment = [
            (0x3705, _INT, struct.pack("<I", 1)),  # attached by value
            (0x3707, _STRING, name.encode("utf-16-le")),
            (0x3701, _BINARY, data),
        ]
        root[f"__attach_version1.0_#{index:08X}"] = _properties(attachment, bytes(8))
    path.write_bytes(compound_file(root))
    return path


def _properties(props: list[tuple[int, int, bytes]], header: bytes) -> Tree:
    """The ``__properties_version1.0`` stream and one ``__substg1.0_`` stream per variable-size
    property."""
    stream = bytearray(header)
    tree: Tree = {}
    for pid, ptyp, value in props:
        tag = (pid << 16) | ptyp
        if ptyp == _INT:
            stream += struct.pack("<II", tag, 0x6) + value.ljust(8, b"\0")
        else:
            stream += struct.pack("<IIII", tag, 0x6, len(value) + (2 if ptyp == _STRING else 0), 0)
            tree[f"__substg1.0_{tag:08X}"] = value
    tree["__properties_version1.0"] = bytes(stream)
    return tree


def compound_file(root: Tree) -> bytes:
    """A CFB v3 file holding ``root`` (names → stream bytes or nested storages)."""
    entries: list[dict[str, object]] = [{"name": "Root Entry", "type": 5, "data": b""}]

    def add(tree: Tree, parent: int) -> None:
        previous = None
        for name in sorted(tree, key=lambda n: (len(n), n.upper())):
            value = tree[name]
            index = len(entries)
            entry: dict[str, object] = {"name": name, "type": 1 if isinstance(value, dict) else 2}
            entry["data"] = b"" if isinstance(value, dict) else value
            entries.append(entry)
            if previous is None:
                entries[parent]["child"] = index
            else:
                entries[previous]["right"] = index
            previous = index
            if isinstance(value, dict):
                add(value, index)

    add(root, 0)
    # small streams go to the mini stream, the rest to sectors of their own
    mini = bytearray()
    mini_fat: list[int] = []
    big: list[tuple[dict[str, object], bytes]] = []
    for entry in entries[1:]:
        data = entry["data"]
        assert isinstance(data, bytes)
        if entry["type"] != 2 or not data:
            entry["start"] = _END if entry["type"] == 2 else 0
            continue
        if len(data) < _CUTOFF:
            first = len(mini) // _MINI
            sectors = -(-len(data) // _MINI)
            entry["start"] = first
            mini_fat += [first + i + 1 for i in range(sectors - 1)] + [_END]
            mini += data.ljust(sectors * _MINI, b"\0")
        else:
            big.append((entry, data))
    blobs: list[tuple[str, bytes]] = []
    directory = b"".join(_dir_entry(e) for e in entries)
    blobs.append(("dir", directory.ljust(-(-len(directory) // _SECTOR) * _SECTOR, b"\0")))
    minifat = b"".join(struct.pack("<I", v) for v in mini_fat)
    if minifat:
        blobs.append(("minifat", _pad(minifat, b"\xff")))
    if mini:
        blobs.append(("mini", _pad(bytes(mini))))
    for entry, data in big:
        blobs.append((f"big{id(entry)}", _pad(data)))
    data_sectors = sum(len(b) // _SECTOR for _, b in blobs)
    fat_sectors = 1
    while fat_sectors * 128 < data_sectors + fat_sectors:
        fat_sectors += 1
    fat = [_FAT] * fat_sectors
    starts: dict[str, int] = {}
    for key, blob in blobs:
        starts[key] = len(fat)
        n = len(blob) // _SECTOR
        fat += [len(fat) + i + 1 for i in range(n - 1)] + [_END]
    fat += [_FREE] * (fat_sectors * 128 - len(fat))
    entries[0]["start"] = starts.get("mini", _END)
    entries[0]["size"] = len(mini)
    for entry, _ in big:
        entry["start"] = starts[f"big{id(entry)}"]
    directory = b"".join(_dir_entry(e) for e in entries)
    blobs[0] = ("dir", directory.ljust(len(blobs[0][1]), b"\0"))
    difat = list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        bytes(16),
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        bytes(6),
        0,
        fat_sectors,
        starts["dir"],
        0,
        _CUTOFF,
        starts.get("minifat", _END),
        len(blobs[1][1]) // _SECTOR if minifat else 0,
        _END,
        0,
    ) + struct.pack("<109I", *difat)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header + fat_bytes + b"".join(b for _, b in blobs)


def _pad(data: bytes, fill: bytes = b"\0") -> bytes:
    return data + fill * ((-len(data)) % _SECTOR)


def _dir_entry(entry: dict[str, object]) -> bytes:
    name = str(entry["name"]).encode("utf-16-le") + b"\0\0"
    data = entry.get("data", b"")
    assert isinstance(data, bytes)
    size = int(entry.get("size", len(data)))  # type: ignore[call-overload]
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        int(entry["type"]),  # type: ignore[call-overload]
        1,  # black: no red-black balancing needed for a readers' walk
        _NONE,
        int(entry.get("right", _NONE)),  # type: ignore[call-overload]
        int(entry.get("child", _NONE)),  # type: ignore[call-overload]
        bytes(16),
        0,
        0,
        0,
        int(entry.get("start", _END)),  # type: ignore[call-overload]
        size,
    )
