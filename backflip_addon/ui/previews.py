"""Images shown in panels (a stage's filmstrip, the learning curve) as icons of one preview collection.

Loaded lazily by path and reloaded when the file changes; the collection is removed on unregister.
"""
from __future__ import annotations

import os

import bpy.utils.previews

_collection: bpy.utils.previews.ImagePreviewCollection | None = None


def icon(path: str) -> int:
    """Icon id of the image at `path` (0 when there is no such file; always 0 without a UI)."""
    global _collection
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return 0
    if _collection is None:
        _collection = bpy.utils.previews.new()
    key = f"{path}@{stamp}"
    preview = _collection.get(key) or _collection.load(key, path, "IMAGE")
    return preview.icon_id


def clear() -> None:
    global _collection
    if _collection is not None:
        bpy.utils.previews.remove(_collection)
        _collection = None
