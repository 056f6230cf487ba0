"""Reader for 0 A.D.'s PMD mesh format (versions 3 and 4), as shipped in 0ad-data's public.zip.

Layout (little endian): "PSMD", u32 version, u32 data size, u32 vertex count, [v4: u32 UV set
count], vertices (position 3f, normal 3f, UV sets 2f each, 4 bone indices u8, 4 weights f32),
u32 face count, faces (3 x u16), then bones and prop points (not needed here). The game is Y-up,
which is our object frame already.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np


@dataclass
class PmdMesh:
    positions: np.ndarray  # float32 [V, 3]
    normals: np.ndarray  # float32 [V, 3]
    uv: np.ndarray  # float32 [V, 2] (first UV set), v measured from the image bottom
    faces: np.ndarray  # int64 [F, 3]
    version: int


class PmdError(ValueError):
    """The bytes are not a PMD file this reader understands."""


def read_pmd(data: bytes) -> PmdMesh:
    """Parse PMD bytes; raises PmdError on a bad magic, version or size."""
    if len(data) < 16 or data[:4] != b"PSMD":
        raise PmdError("not a PMD file (bad magic)")
    version, _size, nv = struct.unpack_from("<III", data, 4)
    off = 16
    if version == 4:
        (nuv,) = struct.unpack_from("<I", data, off)
        off += 4
    elif version == 3:
        nuv = 1
    else:
        raise PmdError(f"unsupported PMD version {version}")
    fields = [("pos", "<f4", (3,)), ("nrm", "<f4", (3,))]
    if nuv:
        fields.append(("uv", "<f4", (nuv, 2)))
    fields += [("bones", "u1", (4,)), ("weights", "<f4", (4,))]
    vdt = np.dtype(fields)
    end = off + nv * vdt.itemsize
    if end + 4 > len(data):
        raise PmdError("truncated vertex block")
    verts = np.frombuffer(data, vdt, nv, off)
    (nf,) = struct.unpack_from("<I", data, end)
    fend = end + 4 + nf * 6
    if fend > len(data):
        raise PmdError("truncated face block")
    faces = np.frombuffer(data, "<u2", nf * 3, end + 4).reshape(nf, 3).astype(np.int64)
    if nf and faces.max() >= nv:
        raise PmdError("face index out of range")
    uv = verts["uv"][:, 0] if nuv else np.zeros((nv, 2), np.float32)
    return PmdMesh(
        verts["pos"].astype(np.float32),
        verts["nrm"].astype(np.float32),
        uv.astype(np.float32),
        faces,
        version,
    )


def write_pmd(mesh: PmdMesh) -> bytes:
    """Write a version-4 PMD with one UV set and no bones (used by tests and fixtures)."""
    nv = len(mesh.positions)
    vdt = np.dtype(
        [
            ("pos", "<f4", (3,)),
            ("nrm", "<f4", (3,)),
            ("uv", "<f4", (1, 2)),
            ("bones", "u1", (4,)),
            ("weights", "<f4", (4,)),
        ]
    )
    v = np.zeros(nv, vdt)
    v["pos"], v["nrm"], v["uv"][:, 0] = mesh.positions, mesh.normals, mesh.uv
    v["bones"] = 0xFF
    body = struct.pack("<II", nv, 1) + v.tobytes() + struct.pack("<I", len(mesh.faces))
    body += mesh.faces.astype("<u2").tobytes() + struct.pack("<II", 0, 0)
    return b"PSMD" + struct.pack("<II", 4, len(body)) + body
