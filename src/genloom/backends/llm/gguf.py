"""Read a GGUF file's metadata header without loading the model (for ``genloom models`` and early checks).

Layout (little-endian): b"GGUF", u32 version, u64 tensor_count, u64 kv_count, then kv_count entries of
(string key, u32 value_type, value). Strings are u64 length + UTF-8 bytes. Arrays are u32 item type,
u64 count, items. We keep scalars and strings and skip arrays (the vocabulary is one of them).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from genloom.errors import NotFound, UserError

MAGIC = b"GGUF"
# value_type -> struct format of a scalar
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


def check_gguf(path: str | Path) -> Path:
    """Return the resolved path if it is an existing GGUF file, else raise a UserError saying what to do."""
    p = Path(path).expanduser()
    if not p.exists():
        raise NotFound(
            f"model file not found: {p}",
            hint="pass the path of a .gguf file, or 'llamacpp:' for the bundled SmolLM2",
        )
    if p.is_dir():
        raise UserError(
            f"{p} is a directory, not a GGUF file", hint="pass the path of a .gguf file inside it"
        )
    with p.open("rb") as f:
        head = f.read(4)
    if head != MAGIC:
        raise UserError(
            f"{p} is not a GGUF model file (it does not start with the GGUF magic bytes)",
            hint="convert the model to GGUF (llama.cpp's convert script) or pick another file",
        )
    return p.resolve()


def read_metadata(path: str | Path) -> dict[str, Any]:
    p = check_gguf(path)
    try:
        with p.open("rb") as f:
            f.read(4)
            (version,) = struct.unpack("<I", f.read(4))
            count_fmt = "<I" if version == 1 else "<Q"
            size = struct.calcsize(count_fmt)
            struct.unpack(count_fmt, f.read(size))  # tensor count
            (kv_count,) = struct.unpack(count_fmt, f.read(size))
            meta: dict[str, Any] = {"gguf.version": version}
            for _ in range(kv_count):
                key = _read_string(f, count_fmt)
                (vtype,) = struct.unpack("<I", f.read(4))
                value = _read_value(f, vtype, count_fmt)
                if value is not _SKIPPED:
                    meta[key] = value
            return meta
    except (struct.error, UnicodeDecodeError, ValueError) as e:
        raise UserError(
            f"{p} has a damaged GGUF header: {e}", hint="re-download or re-convert the model"
        ) from None


_SKIPPED = object()


def _read_string(f: BinaryIO, count_fmt: str) -> str:
    (n,) = struct.unpack(count_fmt, f.read(struct.calcsize(count_fmt)))
    if n > 1 << 26:
        raise ValueError(f"string of {n} bytes")
    return f.read(n).decode("utf-8")


def _read_value(f: BinaryIO, vtype: int, count_fmt: str) -> Any:
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if vtype == _STRING:
        return _read_string(f, count_fmt)
    if vtype == _ARRAY:
        (itype,) = struct.unpack("<I", f.read(4))
        (n,) = struct.unpack(count_fmt, f.read(struct.calcsize(count_fmt)))
        if itype in _SCALARS:
            f.seek(n * struct.calcsize(_SCALARS[itype]), 1)
        elif itype == _STRING:
            size = struct.calcsize(count_fmt)
            for _ in range(n):
                (m,) = struct.unpack(count_fmt, f.read(size))
                f.seek(m, 1)
        else:
            for _ in range(n):
                _read_value(f, itype, count_fmt)
        return _SKIPPED
    raise ValueError(f"unknown GGUF value type {vtype}")


def context_length(meta: dict[str, Any]) -> int | None:
    arch = meta.get("general.architecture")
    value = meta.get(f"{arch}.context_length")
    return int(value) if value is not None else None
