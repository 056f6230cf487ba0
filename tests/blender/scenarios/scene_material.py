"""Scenario: a textured bundle and a vertex-colour bundle imported: material, shading, seams."""

import bpy
from _support import ARGS, done, enable, finish, run


def base_colour_source(obj) -> dict:
    """What feeds the Principled BSDF's Base Color of the object's material."""
    mat = obj.data.materials[0]
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    links = bsdf.inputs["Base Color"].links
    node = links[0].from_node if links else None
    image = getattr(node, "image", None)
    return {"materials": len(obj.data.materials), "node": node.type if node else None,
            "image_size": list(image.size) if image else None,
            "packed": bool(image and image.packed_file),
            "layer": getattr(node, "layer_name", None),
            "colour_attributes": [a.name for a in obj.data.color_attributes]}


def shading(obj) -> dict:
    mesh = obj.data
    sharp = mesh.attributes.get("sharp_edge")
    return {"smooth": all(p.use_smooth for p in mesh.polygons),
            "sharp_edges": sum(v.value for v in sharp.data) if sharp else 0,
            "edges": len(mesh.edges), "vertices": len(mesh.vertices),
            "uv_layers": len(mesh.uv_layers)}


def imported(path: str, **kwargs) -> dict:
    before = set(bpy.data.objects)
    outcome = sorted(bpy.ops.slice3d.import_bundle(filepath=path, **kwargs))
    mesh = next(o for o in bpy.data.objects if o not in before and o.type == "MESH")
    return {"outcome": outcome, **base_colour_source(mesh), **shading(mesh)}


def main() -> None:
    enable()
    materials, images = set(bpy.data.materials), set(bpy.data.images)  # the startup file's
    out = {"textured": imported(ARGS["textured"]), "coloured": imported(ARGS["coloured"]),
           "flat": imported(ARGS["textured"], smooth_shading=False)}
    out["orphan_materials"] = [m.name for m in bpy.data.materials
                               if m.users == 0 and m not in materials]
    out["orphan_images"] = [i.name for i in bpy.data.images if i.users == 0 and i not in images]
    done(**out)
    finish()


run(main)
