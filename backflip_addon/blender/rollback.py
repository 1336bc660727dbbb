"""Leave the file as it was when a scene edit fails half-way: remove what it added, restore what it set."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import bpy

# Every datablock kind the add-on's builders create (rig, keys, projection, colliders).
_KINDS = ("objects", "armatures", "meshes", "materials", "actions", "images", "cameras", "lights", "collections")


@contextlib.contextmanager
def removed_on_error() -> Iterator[None]:
    """Datablocks added inside the block are removed if it raises (the error propagates).

    Objects go first so that their data has no users left when it is removed."""
    before = {kind: {block.as_pointer() for block in getattr(bpy.data, kind)} for kind in _KINDS}
    try:
        yield
    except BaseException:
        for kind in _KINDS:
            blocks = getattr(bpy.data, kind)
            for block in [b for b in blocks if b.as_pointer() not in before[kind]]:
                blocks.remove(block)
        raise
