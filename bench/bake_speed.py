"""Keying speed of the bake: a 1,000-frame clip on the default character (17 bones, 15 keyed), as one take (action + NLA track).

Times `blender.retarget.key_clip` end to end (resample, the pose solve, 63,000 keys through
foreach_set, the new NLA track) on a clip made from the shipped landing stage's rollout stretched to
1,000 frames, onto the default character (its bone map, no foot lock, root motion on the pelvis). The armature is built once; each run adds a new take. Median of --runs.

Then the same clip retargeted onto a 60-bone Rigify-sized armature (DEF- bones with twist bones,
toes and fingers, T-pose, from bench/support/rigs.py) through the auto-map: solve + keys.

    PYTHONPATH=. .venv/bin/python bench/bake_speed.py [--runs 9] [--frames 1000]

Prints one JSON line: wall-clock and the keying thread's CPU time (the wall-clock an idle core would
give; this machine is shared). Target: < 50 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from backflip_addon.blender import keys, rig  # noqa: E402
from backflip_addon.blender.retarget import key_clip, retarget_clip  # noqa: E402
from backflip_addon.core.bone_maps import auto_map  # noqa: E402
from backflip_addon.core.clip import load_clip  # noqa: E402
from bench.support.rigs import build_rig, rigify_bones  # noqa: E402

TARGET_MS = 50.0
STAGE_CLIP = ROOT / "assets" / "stages" / "backflip" / "stage_0015" / "rollout.txt"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args(argv)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    armature, _ = rig.build_humanoid(bpy.context)
    source = load_clip(STAGE_CLIP)
    fps = (args.frames - 1) / source.duration
    clip = source.resample(fps)
    times, cpu_times = [], []
    for _ in range(args.runs):
        start, cpu_start = time.perf_counter(), time.thread_time()
        action = key_clip(armature, clip, fps=fps, start_frame=1)
        times.append((time.perf_counter() - start) * 1000.0)
        cpu_times.append((time.thread_time() - cpu_start) * 1000.0)
    curves = action.layers[0].strips[0].channelbags[0].fcurves
    target = build_rig(bpy.context, "Rigify", rigify_bones())
    bone_map = auto_map([b.name for b in target.data.bones]).bones
    retarget_times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        retargeted, _ = retarget_clip(target, clip, bone_map, fps=fps, start_frame=1)
        retarget_times.append((time.perf_counter() - start) * 1000.0)
    result = {
        "bench": "bake_speed",
        "blender": bpy.app.version_string,
        "bones": len(armature.data.bones),
        "frames": clip.num_frames,
        "keys_per_take": sum(len(c.keyframe_points) for c in curves),
        "runs": args.runs,
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        # CPU time of the keying thread: what the wall-clock would be on an idle core (this machine is shared).
        "cpu_median_ms": round(statistics.median(cpu_times), 2),
        "target_ms": TARGET_MS,
        "meets_target": statistics.median(times) < TARGET_MS,
        "meets_target_on_cpu_time": statistics.median(cpu_times) < TARGET_MS,
        "retarget_bones": len(target.data.bones),
        "retarget_mapped": len(bone_map),
        "retarget_keys_per_take": keys.key_count(retargeted),
        "retarget_median_ms": round(statistics.median(retarget_times), 2),
        "retarget_min_ms": round(min(retarget_times), 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
