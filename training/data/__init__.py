"""The data engine: shapes, renders, slices and SDF samples (issue 3; ARCHITECTURE.md 4 and 8).

Entry points: ``python -m training.data build|sheet|install|bench``. Modules each do one job:
views (camera and view frame), raycast (Embree hits), shading/render (input image and 12 slices),
mesh_sdf (robust signed distances of meshes), sampling (SDF query points), procedural (exact-SDF
shape families), sources/ (shape providers), shards (storage) and build (orchestration).
"""
