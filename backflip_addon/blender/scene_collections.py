"""Scene collections that group what the add-on builds (a stage's characters, the reference)."""
from __future__ import annotations

from collections.abc import Iterable

import bpy


def ensure_collection(scene: bpy.types.Scene, name: str) -> bpy.types.Collection:
    """The collection called `name` (made if missing), linked under the scene's master collection."""
    collection = bpy.data.collections.get(name) or bpy.data.collections.new(name)
    if collection.name not in scene.collection.children:
        scene.collection.children.link(collection)
    return collection


def move_to(objects: Iterable[bpy.types.Object], collection: bpy.types.Collection) -> None:
    """Make `collection` the only collection of each object."""
    for obj in objects:
        for owner in list(obj.users_collection):
            owner.objects.unlink(obj)
        collection.objects.link(obj)
