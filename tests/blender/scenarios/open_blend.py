"""Scenario: open a saved .blend and describe the Slice3D collections in it."""

import bpy
from _support import ARGS, done, run


def main() -> None:
    bpy.ops.wm.open_mainfile(filepath=ARGS["blend"])
    colls = [c for c in bpy.data.collections if c.name.startswith("Slice3D")]
    planes = sum(1 for c in colls for o in c.all_objects if o.name.split()[-1][:1] in "XYZ"
                 and o.type == "MESH" and o.data.uv_layers)
    cameras = {c.name: sorted(o.name for o in c.objects if o.type == "CAMERA") for c in colls}
    done(collections=sorted(c.name for c in colls), planes=planes, cameras=cameras)


run(main)
