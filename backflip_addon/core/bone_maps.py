"""Bone maps (humanoid3d joint → another rig's bone): shipped JSON presets and an auto-map by name.

Names are compared normalised: without a namespace ("mixamorig:"), case, and separators, so
"mixamorig:LeftUpLeg", "LeftUpLeg" and "left_up_leg" are one name. The same name lists map mocap
skeletons (CMU, SMPL-style, Mixamo BVH) onto the humanoid.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInputError, NotFoundError
from .skeleton import humanoid3d

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets" / "bone_maps"

# Generic names per limb part, most specific first; sides are added as prefixes/suffixes (left/l).
_CENTRE = {
    "root": ("hips", "pelvis", "root"),
    "chest": ("spine2", "chest", "spine3", "upperchest", "spine02", "spine1"),
    "neck": ("neck", "neck1"),
}
_LIMB = {
    "hip": ("upleg", "thigh", "upperleg", "hip"),
    "knee": ("leg", "shin", "calf", "lowerleg", "knee"),
    "ankle": ("foot", "ankle"),
    "shoulder": ("arm", "upperarm", "shoulder"),
    "elbow": ("forearm", "lowerarm", "elbow"),
    "wrist": ("hand", "wrist"),
}
_SIDES = {"left": ("left", "l"), "right": ("right", "r")}


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    bones: dict[str, str]


@dataclass(frozen=True)
class AutoMap:
    bones: dict[str, str]
    """humanoid joint → target bone, for the joints found"""
    preset: str
    """the preset that matched most joints ("" when only generic names matched)"""
    unmapped: tuple[str, ...]
    """humanoid joints with no bone"""


def normalise(name: str) -> str:
    return re.sub(r"[\s._\-]", "", name.split(":")[-1].lower())


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json"))


def load_preset(name: str) -> Preset:
    path = PRESETS_DIR / f"{name}.json"
    if not path.is_file():
        raise NotFoundError(f"no bone map preset {name!r}", f"use one of {preset_names()}")
    data = json.loads(path.read_text(encoding="utf-8"))
    bones = data.get("bones")
    joints = set(humanoid3d().names)
    if not isinstance(bones, dict) or not all(isinstance(v, str) and k in joints for k, v in bones.items()):
        raise InvalidInputError(f"{path}: 'bones' must map humanoid joints to bone names", "fix or remove the preset file")
    return Preset(name, str(data.get("label") or name), bones)


def generic_names(joint: str) -> list[str]:
    """Common (normalised) names of `joint`'s bone in other rigs and mocap skeletons."""
    if joint in _CENTRE:
        return list(_CENTRE[joint])
    side, part = joint.split("_", 1)
    return [name for p in _LIMB[part] for s in _SIDES[side] for name in (f"{s}{p}", f"{p}{s}")]


def auto_map(bone_names: list[str]) -> AutoMap:
    """Map every humanoid joint to one of `bone_names`: the best-matching preset first, then common names."""
    by_normal = {}
    for bone in bone_names:
        by_normal.setdefault(normalise(bone), bone)
    presets = [load_preset(n) for n in preset_names()]
    scored = [(sum(normalise(b) in by_normal for b in p.bones.values()), p) for p in presets]
    best_score, best = max(scored, key=lambda s: s[0], default=(0, None))
    bones: dict[str, str] = {}
    for joint in humanoid3d().names:
        names = ([normalise(best.bones[joint])] if best and best_score and joint in best.bones else []) + generic_names(joint)
        found = next((by_normal[n] for n in names if n in by_normal), None)
        if found is not None and found not in bones.values():
            bones[joint] = found
    unmapped = tuple(j for j in humanoid3d().names if j not in bones)
    return AutoMap(bones, best.label if best and best_score else "", unmapped)


# The add-on's own character (core/character.py): each humanoid3d joint's bone under Blender's names.
DEFAULT_RIG: dict[str, str] = {
    "root": "pelvis", "chest": "chest", "neck": "neck",
    **{f"{side}_{joint}": f"{bone}.{suffix}" for side, suffix in (("right", "R"), ("left", "L"))
       for joint, bone in (("hip", "thigh"), ("knee", "shin"), ("ankle", "foot"),
                           ("shoulder", "upper_arm"), ("elbow", "forearm"), ("wrist", "hand"))},
}
DEFAULT_GROUND_BONE = "root"
"""the default character's bone on the ground under the pelvis, the pelvis' parent"""
