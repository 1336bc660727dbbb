"""Scene settings of the add-on: one PointerProperty on Scene (`scene.backflip`), everything else inside it.

Job ids are saved with the file, so reopening it reconnects to a training that kept running.
"""
from __future__ import annotations

import bpy

from . import properties_set


class BACKFLIP_PG_reference(bpy.types.PropertyGroup):
    clip_path: bpy.props.StringProperty(name="Reference Clip", subtype="FILE_PATH", default="")
    armature: bpy.props.PointerProperty(
        name="Character",
        type=bpy.types.Object,
        poll=lambda _self, obj: obj.type == "ARMATURE",
        description="The humanoid armature that clips and stages are keyed onto",
    )
    video_path: bpy.props.StringProperty(name="Video", subtype="FILE_PATH", default="", description="Video of the move to learn")
    trim_in: bpy.props.FloatProperty(name="In", description="Start of the move in the video (s)", default=0.0, min=0.0, unit="TIME_ABSOLUTE")
    trim_out: bpy.props.FloatProperty(
        name="Out", description="End of the move in the video (s, 0 = the video's end)", default=0.0, min=0.0, unit="TIME_ABSOLUTE"
    )
    job_id: bpy.props.StringProperty(name="Extract Job", default="")
    reference_id: bpy.props.StringProperty(
        name="Service Reference", default="", description="The trainer service's id of the extracted reference (trained on)"
    )
    progress: bpy.props.FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    message: bpy.props.StringProperty(name="Status", default="")


class BACKFLIP_PG_training(bpy.types.PropertyGroup):
    budget: bpy.props.EnumProperty(
        name="Budget",
        items=(("MINUTES", "Minutes", "Train for a wall-clock time"), ("SAMPLES", "Samples", "Train for a number of samples")),
        default="MINUTES",
    )
    minutes: bpy.props.FloatProperty(name="Minutes", description="Training time (min)", default=30.0, min=1.0, soft_max=600.0)
    samples: bpy.props.FloatProperty(
        name="Samples (M)", description="Training samples (millions)", default=2.0, min=0.01, soft_max=100.0
    )
    until_landing: bpy.props.BoolProperty(
        name="Stop at First Landing",
        description="End the training at its first stage whose check lands; the budget stays the upper limit",
        default=False,
    )
    job_id: bpy.props.StringProperty(name="Training", default="", description="The trainer service's id of the training")
    state: bpy.props.StringProperty(name="State", default="")
    progress: bpy.props.FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    samples_done: bpy.props.IntProperty(name="Samples", default=0)
    jumps: bpy.props.IntProperty(name="Jumps Tried", default=0)
    jumps_per_hour: bpy.props.FloatProperty(name="Jumps per Hour", default=0.0)
    normalised_return: bpy.props.FloatProperty(name="Return", default=0.0)
    latest_label: bpy.props.StringProperty(name="Latest Stage", default="")
    run_dir: bpy.props.StringProperty(name="Run Folder", subtype="DIR_PATH", default="")
    message: bpy.props.StringProperty(name="Status", default="")


class BACKFLIP_PG_stage(bpy.types.PropertyGroup):
    """One row of the stage browser (read from the run's stages.json)."""

    index: bpy.props.IntProperty(name="Stage")
    folder: bpy.props.StringProperty(name="Folder", subtype="DIR_PATH")
    label: bpy.props.StringProperty(name="Label")
    samples: bpy.props.IntProperty(name="Samples")
    normalised_return: bpy.props.FloatProperty(name="Return")
    rotation_deg: bpy.props.FloatProperty(name="Rotation")
    landed: bpy.props.BoolProperty(name="Landed")
    marker: bpy.props.StringProperty(name="Marker", description="first landing / best landing")
    rollout_seed: bpy.props.IntProperty(name="Seed", description="Seed of the rollout the stage's preview shows", min=0)
    rollout_perturb: bpy.props.FloatProperty(name="Perturbation", description="Action noise of that rollout", min=0.0)


class BACKFLIP_PG_stages(bpy.types.PropertyGroup):
    run_dir: bpy.props.StringProperty(name="Run Folder", subtype="DIR_PATH", default="", description="A training run's folder")
    entries: bpy.props.CollectionProperty(type=BACKFLIP_PG_stage)
    active: bpy.props.IntProperty(name="Selected Stage", default=0)


class BACKFLIP_PG_bone_pair(bpy.types.PropertyGroup):
    """One row of the retarget bone map: a humanoid joint and the target rig's bone that follows it."""

    source: bpy.props.StringProperty(name="Joint")
    target: bpy.props.StringProperty(name="Bone", description="The target rig's bone (empty: not driven)")


class BACKFLIP_PG_bake(bpy.types.PropertyGroup):
    attempts: bpy.props.IntProperty(name="Attempts", description="Seeded attempts, one character each", default=1, min=1, max=16)
    perturb: bpy.props.FloatProperty(
        name="Perturbation", description="Std of the noise added to the policy's actions", default=0.0, min=0.0, soft_max=0.5
    )
    seed: bpy.props.IntProperty(name="Seed", description="Seed of the first attempt", default=0, min=0)
    stage_attempt: bpy.props.BoolProperty(
        name="Stage's Own Attempt", default=True,
        description="The first attempt is the one the stage's preview shows (its seed and action noise); "
        "off: the seed and perturbation below",
    )
    start: bpy.props.EnumProperty(
        name="Start",
        items=(("CURSOR", "3D Cursor", "Start at the 3D cursor, facing +X"), ("EMPTY", "Empty", "Start at an empty (position and heading)")),
        default="CURSOR",
    )
    start_empty: bpy.props.PointerProperty(
        name="Start Empty", type=bpy.types.Object, poll=lambda _self, obj: obj.type == "EMPTY",
        description="Its location and Z rotation are the take-off point and heading",
    )
    frame_start: bpy.props.IntProperty(name="Frame Start", description="Scene frame of the rollout's first frame", default=1)
    job_id: bpy.props.StringProperty(name="Rollout Job", default="")
    message: bpy.props.StringProperty(name="Status", default="")
    rotation_mode: bpy.props.EnumProperty(
        name="Rotation",
        items=(("QUATERNION", "Quaternion", "Quaternion keys (no gimbal lock)"),
               ("XYZ", "Euler XYZ", "Euler keys, filtered so no curve jumps by 360°")),
        default="QUATERNION",
    )
    interpolation: bpy.props.EnumProperty(
        name="Interpolation",
        items=(("LINEAR", "Linear", "Straight lines between keys"), ("BEZIER", "Bezier", "Smooth curves between keys")),
        default="LINEAR",
    )
    reduce_keys: bpy.props.BoolProperty(
        name="Reduce Keys", default=False, description="Drop keys the curves can do without, within the tolerances"
    )
    tolerance_deg: bpy.props.FloatProperty(
        name="Rotation Tolerance", description="Largest rotation error (degrees) a dropped key may cause",
        default=0.5, min=0.0, soft_max=5.0,
    )
    tolerance_mm: bpy.props.FloatProperty(
        name="Location Tolerance", description="Largest location error (mm) a dropped key may cause",
        default=2.0, min=0.0, soft_max=20.0,
    )
    target_rig: bpy.props.PointerProperty(
        name="Target Rig", type=bpy.types.Object, poll=lambda _self, obj: obj.type == "ARMATURE",
        description="Your character's armature: bakes and Retarget key it through the bone map (empty: the Backflip humanoid)",
    )
    bone_map: bpy.props.CollectionProperty(type=BACKFLIP_PG_bone_pair)
    root_motion: bpy.props.EnumProperty(
        name="Root Motion",
        items=(("PELVIS", "Pelvis", "The hips carry the travel"),
               ("BONE", "Ground Bone", "A root bone on the ground (the hips' parent) carries the travel"),
               ("OBJECT", "Object", "The armature object carries the travel")),
        default="PELVIS",
    )
    ground_bone: bpy.props.StringProperty(
        name="Ground Bone", description="The target rig's root bone on the ground (the default character uses its own \"root\")"
    )
    in_place: bpy.props.BoolProperty(name="In Place", default=False, description="Drop the travel along the ground")
    foot_lock: bpy.props.BoolProperty(
        name="Foot Lock", default=True,
        description="Keep the feet planted during the rollout's contact frames (feet free in flight)",
    )


class BACKFLIP_PG_scene(bpy.types.PropertyGroup):
    reference: bpy.props.PointerProperty(type=BACKFLIP_PG_reference)
    training: bpy.props.PointerProperty(type=BACKFLIP_PG_training)
    stages: bpy.props.PointerProperty(type=BACKFLIP_PG_stages)
    bake: bpy.props.PointerProperty(type=BACKFLIP_PG_bake)


CLASSES = (
    BACKFLIP_PG_reference, BACKFLIP_PG_training, BACKFLIP_PG_stage, BACKFLIP_PG_stages, BACKFLIP_PG_bone_pair, BACKFLIP_PG_bake,
    BACKFLIP_PG_scene, *properties_set.CLASSES,
)


def register() -> None:
    bpy.types.Scene.backflip = bpy.props.PointerProperty(type=BACKFLIP_PG_scene)
    properties_set.register()


def unregister() -> None:
    properties_set.unregister()
    del bpy.types.Scene.backflip
