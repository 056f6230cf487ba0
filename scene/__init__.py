"""The scene side: build the imported scene from a result bundle, read images from Blender.

``build`` (mesh, camera and slice planes in one collection, all or nothing), ``image_source``
(the bytes sent for a Blender image or an image file) and ``batch`` (many files into bundles and
scenes). The camera and the view frame come from the contract (client/contract.py).
"""
