"""Takes: every import or bake becomes its own Action on its own NLA track, so none is ever replaced.

The newest take plays (its track is the only unmuted one); older takes stay on muted tracks and
keep a fake user, so they survive save/reopen even when nothing else uses them.
"""
from __future__ import annotations

import bpy


def add_take(obj: bpy.types.Object, action: bpy.types.Action, slot: bpy.types.ActionSlot, start_frame: int) -> bpy.types.NlaTrack:
    """Put `action` (keyed for `slot`) on a new NLA track of `obj`, muting its other takes."""
    action.use_fake_user = True
    animation = obj.animation_data or obj.animation_data_create()
    for track in animation.nla_tracks:
        track.mute = True
    top = animation.nla_tracks[-1] if len(animation.nla_tracks) else None
    track = animation.nla_tracks.new(prev=top)
    track.name = action.name
    strip = track.strips.new(action.name, int(start_frame), action)
    strip.action_slot = slot
    # Keep the NLA in charge: an active action would be evaluated on top of the takes.
    animation.action = None
    return track


def takes(obj: bpy.types.Object) -> list[bpy.types.Action]:
    """The actions on `obj`'s NLA tracks, oldest first."""
    animation = obj.animation_data
    if animation is None:
        return []
    return [strip.action for track in animation.nla_tracks for strip in track.strips if strip.action is not None]
