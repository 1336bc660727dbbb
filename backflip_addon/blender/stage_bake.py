"""Bake a rollout into the scene: one new character per attempt, in a collection named after the stage.

Input is a rollout's `OUT.events.json` (attempt clips beside it, Y up, in the set's frame, so the
characters stay at the world origin). Every attempt is keyed onto a new default character (rig.py)
with the Bake panel's foot lock and root motion, or, with a Target Rig set, retargeted onto that rig
as one more take. Each attempt gets its own take (see takes.py) named "Stage 15 · attempt 2 · seed 3",
its physics events as timeline markers and the judge's verdict as custom properties on the armature
object.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy

from ..core.clip import MotionClip, load_clip
from ..core.rollout_events import Attempt, RolloutEvents, read_events
from . import keys, retarget, rig
from .scene_collections import ensure_collection, move_to


@dataclass
class BakedAttempt:
    armature: bpy.types.Object
    action: bpy.types.Action
    markers: list[bpy.types.TimelineMarker]


def stage_title(stage_index: int, label: str) -> str:
    """ "Stage 15 – lands and holds": the name of a stage's collection."""
    return f"Stage {stage_index} – {label}" if label else f"Stage {stage_index}"


def action_name(events: RolloutEvents, attempt: Attempt) -> str:
    return f"Stage {events.stage_index} · attempt {attempt.attempt} · seed {attempt.seed}"


def marker_name(attempt: Attempt, event: str) -> str:
    return f"attempt {attempt.attempt} {event.replace('_', ' ')}"


def _bake_attempt(
    context: bpy.types.Context, events: RolloutEvents, attempt: Attempt, clip: MotionClip,
    collection: bpy.types.Collection, start_frame: int,
) -> BakedAttempt:
    scene = context.scene
    fps = keys.scene_fps(scene)
    bake = scene.backflip.bake
    contacts = attempt.contacts if bake.foot_lock else None
    if bake.target_rig is not None:
        # The user's own character: every attempt becomes one more take on it.
        armature = bake.target_rig
        action, _ = retarget.retarget_clip(
            armature, clip, retarget.scene_bone_map(scene), fps=fps, start_frame=start_frame,
            options=keys.scene_key_options(scene), action_name=action_name(events, attempt),
            contacts=contacts, **retarget.scene_root_motion(scene),
        )
    else:
        armature, body = rig.build_humanoid(context, name=f"Stage {events.stage_index} attempt {attempt.attempt}")
        move_to((armature, body), collection)
        action = retarget.key_clip(
            armature, clip, fps=fps, start_frame=start_frame, action_name=action_name(events, attempt),
            options=keys.scene_key_options(scene), contacts=contacts, root_motion=bake.root_motion,
            in_place=bake.in_place,
        )
    # The verdict goes on the take too: on a target rig, several attempts share one object.
    for holder in (armature, action):
        holder["backflip_stage"] = events.stage_index
        holder["backflip_attempt"] = attempt.attempt
        holder["backflip_seed"] = attempt.seed
        holder["backflip_perturb"] = events.perturb
        holder["backflip_label"] = attempt.label
        holder["backflip_landed"] = attempt.landed
        holder["backflip_rotation_deg"] = attempt.rotation_deg
    markers = [
        scene.timeline_markers.new(marker_name(attempt, name), frame=start_frame + round(t * fps))
        for name, t in attempt.events.items()
        if t is not None
    ]
    return BakedAttempt(armature, action, markers)


def bake_rollout(context: bpy.types.Context, events_path: str | Path, start_frame: int) -> list[BakedAttempt]:
    """Key every attempt of a rollout onto its own new character, from `start_frame` at the scene's fps.

    Every file is read and checked before the scene is touched, so a bad rollout changes nothing.
    """
    events = read_events(events_path)
    clips = [load_clip(a.clip) for a in events.attempts]
    scene = context.scene
    if scene.backflip.bake.target_rig is not None:
        retarget.check_map(scene.backflip.bake.target_rig, retarget.scene_bone_map(scene))
    collection = ensure_collection(scene, stage_title(events.stage_index, events.stage_label))
    baked = [_bake_attempt(context, events, a, c, collection, start_frame) for a, c in zip(events.attempts, clips)]
    frames = max(c.resample(keys.scene_fps(scene)).num_frames for c in clips)
    scene.frame_end = max(scene.frame_end, start_frame + frames - 1)
    return baked
