"""Consistent face winding: trimesh's ``repair.fix_winding``, the same faces, in array operations.

Quadric decimation folds a face or two over on most network meshes (12 of 15 photo-like
validation inputs at 128^3), and trimesh's repair then walks every pair of neighbouring faces in
Python through networkx: 1.2-1.5 s for 25,000 faces, more than the clean-up's other work many
times over (docs/BENCHMARKS.md).

trimesh's walk, for each connected part (faces joined by an edge that exactly two faces share),
starts at a face networkx picks and goes breadth first; a face whose shared edge with the face
it was reached from runs the same way round is reversed (``[::-1]``). On a part that can be
wound consistently the outcome depends only on the start: each face ends up wound like the
start face. So here the starts are the faces trimesh's networkx calls pick, each part's faces
are reached by scipy's breadth-first order from the same start, each face's reversal is its
parent's, flipped where their original shared edge runs the same way, and the result is
checked: a part that cannot be wound consistently (where the walk's order would matter) goes to
trimesh's own repair instead.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import trimesh
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components


def fix_winding(mesh: trimesh.Trimesh) -> None:
    """Make the winding consistent in place, exactly as ``trimesh.repair.fix_winding`` does."""
    if mesh.is_winding_consistent:
        return
    faces = np.asarray(mesh.faces).copy()
    pairs = np.asarray(mesh.face_adjacency)
    reverse = _reversals(faces, pairs)
    if reverse is None:  # a part that no winding makes consistent: trimesh's walk decides
        trimesh.repair.fix_winding(mesh)
        return
    if reverse.any():
        faces[reverse] = faces[reverse][:, ::-1]
        mesh.faces = faces  # type: ignore[assignment]  # trimesh's setter takes any array


def edge_parts(pairs: np.ndarray, faces: int) -> tuple[csr_matrix, np.ndarray]:
    """The graph of ``faces`` faces joined where ``pairs`` (trimesh's ``face_adjacency``) say
    they share an edge, and each face's connected part in it."""
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
                       shape=(faces, faces)).tocsr()
    _, part = connected_components(graph, directed=False)
    return graph, part


def _reversals(faces: np.ndarray, pairs: np.ndarray) -> np.ndarray | None:
    """Which faces trimesh's walk reverses, or None where a part cannot be wound consistently."""
    n = len(faces)
    graph, part = edge_parts(pairs, n)
    reverse = np.zeros(n, dtype=bool)
    position = np.empty(n, dtype=np.int64)
    for start in _starts(pairs, part):
        order, parent = breadth_first_order(graph, start, directed=False,
                                            return_predecessors=True)
        child = order[1:]
        same_way = _same_way(faces[parent[child]], faces[child]).tolist()
        position[order] = np.arange(len(order))
        parent_position = position[parent[child]].tolist()
        flips = [False] * len(order)
        for k in range(1, len(order)):  # a parent comes before its children in this order
            flips[k] = flips[parent_position[k - 1]] ^ same_way[k - 1]
        reverse[order] = flips
    wound = np.where(reverse[:, None], faces[:, ::-1], faces)
    if pairs.size and _same_way(wound[pairs[:, 0]], wound[pairs[:, 1]]).any():
        return None
    return reverse


def _starts(pairs: np.ndarray, part: np.ndarray) -> list[int]:
    """The face each part's walk starts from, as trimesh's networkx subgraph gives it.

    networkx lists a part's nodes in the graph's order (first appearance in ``pairs``) when the
    part holds at least half the graph's nodes, else in the order of a set of the part made by
    its breadth-first search. Only the small parts need networkx, on a graph of their own edges
    in their order: the same searches, so the same sets."""
    nodes, first_seen = np.unique(pairs.ravel(), return_index=True)
    node_part = part[nodes]
    size = np.bincount(node_part)
    large = 2 * size >= len(nodes)
    starts = []
    for label in np.flatnonzero(large):
        members = node_part == label
        starts.append(int(nodes[members][np.argmin(first_seen[members])]))
    small_pairs = pairs[~large[part[pairs[:, 0]]]]
    for members in nx.connected_components(nx.from_edgelist(small_pairs.tolist())):
        starts.append(int(next(iter({face for face in members}))))
    return starts


def _same_way(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, whether triangles a and b share a directed edge (their shared edge runs the same
    way round both, so one of them is wound against the other)."""
    a_edges = np.stack([a, np.roll(a, -1, axis=1)], axis=-1)  # [K,3,2]: (a0,a1),(a1,a2),(a2,a0)
    b_edges = np.stack([b, np.roll(b, -1, axis=1)], axis=-1)
    equal = (a_edges[:, :, None, :] == b_edges[:, None, :, :]).all(-1)  # [K,3,3]
    return equal.any(axis=(1, 2))
