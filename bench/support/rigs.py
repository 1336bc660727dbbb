"""Armatures other than the Backflip character, built by tests and benches: a user's rig with its own names, a T-pose
rest, facing −Y, and its own size (humanoid3d's rest joints scaled)."""
from __future__ import annotations

import numpy as np

from backflip_addon.core.posing import rest_heads_blender
from backflip_addon.core.skeleton import humanoid3d

_TURN = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # +X (humanoid's front) → −Y


def t_pose_heads(scale: float) -> dict[str, np.ndarray]:
    """humanoid3d's rest joints facing −Y, arms straight out to the sides, scaled by `scale`."""
    heads = dict(zip(humanoid3d().names, rest_heads_blender()))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder = heads[f"{side}_shoulder"]
        upper = np.linalg.norm(heads[f"{side}_elbow"] - shoulder)
        fore = np.linalg.norm(heads[f"{side}_wrist"] - heads[f"{side}_elbow"])
        heads[f"{side}_elbow"] = shoulder + sign * np.array([0.0, upper, 0.0])
        heads[f"{side}_wrist"] = shoulder + sign * np.array([0.0, upper + fore, 0.0])
    return {k: scale * (_TURN @ v) for k, v in heads.items()}


def mixamo_bones(scale: float = 1.25) -> list[tuple[str, str | None, np.ndarray]]:
    """(name, parent, head) of a Mixamo-named T-pose rig: a three-bone spine, clavicles, head, toes."""
    h = t_pose_heads(scale)
    up = np.array([0.0, 0.0, 1.0])
    forward = np.array([0.0, -1.0, 0.0])
    bones = [
        ("mixamorig:Hips", None, h["root"]),
        ("mixamorig:Spine", "mixamorig:Hips", h["root"] + (h["chest"] - h["root"]) / 3),
        ("mixamorig:Spine1", "mixamorig:Spine", h["root"] + 2 * (h["chest"] - h["root"]) / 3),
        ("mixamorig:Spine2", "mixamorig:Spine1", h["chest"]),
        ("mixamorig:Neck", "mixamorig:Spine2", h["neck"]),
        ("mixamorig:Head", "mixamorig:Neck", h["neck"] + 0.1 * scale * up),
    ]
    for side, m in (("left", "Left"), ("right", "Right")):
        bones += [
            (f"mixamorig:{m}UpLeg", "mixamorig:Hips", h[f"{side}_hip"]),
            (f"mixamorig:{m}Leg", f"mixamorig:{m}UpLeg", h[f"{side}_knee"]),
            (f"mixamorig:{m}Foot", f"mixamorig:{m}Leg", h[f"{side}_ankle"]),
            (f"mixamorig:{m}ToeBase", f"mixamorig:{m}Foot", h[f"{side}_ankle"] + 0.12 * scale * forward - 0.04 * scale * up),
            (f"mixamorig:{m}Shoulder", "mixamorig:Spine2", (h["chest"] + h[f"{side}_shoulder"]) / 2 + 0.1 * scale * up),
            (f"mixamorig:{m}Arm", f"mixamorig:{m}Shoulder", h[f"{side}_shoulder"]),
            (f"mixamorig:{m}ForeArm", f"mixamorig:{m}Arm", h[f"{side}_elbow"]),
            (f"mixamorig:{m}Hand", f"mixamorig:{m}ForeArm", h[f"{side}_wrist"]),
        ]
    return bones


def rigify_bones(scale: float = 1.0) -> list[tuple[str, str | None, np.ndarray]]:
    """(name, parent, head) of a Rigify-sized deform rig: 60 DEF- bones (twist bones, toes, fingers)."""
    h = t_pose_heads(scale)
    up = np.array([0.0, 0.0, 1.0])
    chest = h["chest"]
    bones = [
        ("DEF-spine", None, h["root"]),
        ("DEF-spine.001", "DEF-spine", h["root"] + (chest - h["root"]) / 3),
        ("DEF-spine.002", "DEF-spine.001", h["root"] + 2 * (chest - h["root"]) / 3),
        ("DEF-spine.003", "DEF-spine.002", chest),
        ("DEF-spine.004", "DEF-spine.003", h["neck"]),
        ("DEF-spine.005", "DEF-spine.004", h["neck"] + 0.1 * scale * up),
    ]
    for side, s in (("left", "L"), ("right", "R")):
        hip, knee, ankle = h[f"{side}_hip"], h[f"{side}_knee"], h[f"{side}_ankle"]
        shoulder, elbow, wrist = h[f"{side}_shoulder"], h[f"{side}_elbow"], h[f"{side}_wrist"]
        lateral = (wrist - elbow) / np.linalg.norm(wrist - elbow)
        bones += [
            (f"DEF-pelvis.{s}", "DEF-spine", h["root"]),
            (f"DEF-thigh.{s}", "DEF-spine", hip), (f"DEF-thigh.{s}.001", f"DEF-thigh.{s}", (hip + knee) / 2),
            (f"DEF-shin.{s}", f"DEF-thigh.{s}.001", knee), (f"DEF-shin.{s}.001", f"DEF-shin.{s}", (knee + ankle) / 2),
            (f"DEF-foot.{s}", f"DEF-shin.{s}.001", ankle),
            (f"DEF-toe.{s}", f"DEF-foot.{s}", ankle + np.array([0.0, -0.12 * scale, -0.04 * scale])),
            (f"DEF-shoulder.{s}", "DEF-spine.003", (h["chest"] + shoulder) / 2),
            (f"DEF-upper_arm.{s}", "DEF-spine.003", shoulder),
            (f"DEF-upper_arm.{s}.001", f"DEF-upper_arm.{s}", (shoulder + elbow) / 2),
            (f"DEF-forearm.{s}", f"DEF-upper_arm.{s}.001", elbow),
            (f"DEF-forearm.{s}.001", f"DEF-forearm.{s}", (elbow + wrist) / 2),
            (f"DEF-hand.{s}", f"DEF-forearm.{s}.001", wrist),
        ]
        for f, finger in enumerate(("thumb", "f_index", "f_middle", "f_ring", "f_pinky")):
            parent = f"DEF-hand.{s}"
            for k in range(1, 3 if finger == "f_pinky" else 4):
                name = f"DEF-{finger}.{k:02d}.{s}"
                bones.append((name, parent, wrist + lateral * 0.03 * (k + 2) * scale + np.array([0.02 * (f - 2), 0.0, 0.0]) * scale))
                parent = name
    return bones


def build_rig(context, name: str, bones: list[tuple[str, str | None, np.ndarray]]):
    """An armature object with `bones`, each pointing at its first child (leaves continue their parent)."""
    import bpy

    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    context.collection.objects.link(obj)
    heads = {n: np.asarray(p, dtype=float) for n, _, p in bones}
    parents = {n: p for n, p, _ in bones}
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
        context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        for bone_name, parent, head in bones:
            bone = data.edit_bones.new(bone_name)
            child = next((n for n, p, _ in bones if p == bone_name and np.linalg.norm(heads[n] - head) > 1e-3), None)
            if child is not None:
                tail = heads[child]
            elif parent is not None and np.linalg.norm(head - heads[parent]) > 1e-3:
                tail = head + 0.5 * (head - heads[parent])
            else:
                tail = head + np.array([0.0, 0.0, 0.1])
            bone.head, bone.tail = head, tail
            if parents[bone_name]:
                bone.parent = data.edit_bones[parents[bone_name]]
        bpy.ops.object.mode_set(mode="OBJECT")
    return obj
