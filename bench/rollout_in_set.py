"""Benchmark: the shipped landing stage simulated in three sets (plain floor, a wall behind the take-off,
a soft mattress under the landing), with the figures issue 15 asks for.

    .venv/bin/python bench/rollout_in_set.py [--stage assets/stages/backflip/stage_0015] [--image out/mattress.png]

Prints one JSON line: per set the judge's label, rotation, event times, the feet's height at touchdown
(lowest point of the foot boxes, from forward kinematics of the clip), how far the feet sink below the
mattress top in the 0.33 s after touchdown, and the wall-clock time of each attempt (stage loading
included). With --image, draws the plain and mattress rollouts side by side, the mattress as a box.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backflip_addon.core.clip import load_clip  # noqa: E402
from backflip_addon.core.kinematics import forward_kinematics  # noqa: E402
from backflip_addon.core.skeleton import FEET, humanoid3d  # noqa: E402
from trainer_service.rl.judge import lowest_points  # noqa: E402
from trainer_service.rollout import rollout_in_set  # noqa: E402

PLANE = {"kind": "plane"}
MATTRESS_TOP = 0.2
MATTRESS = {"kind": "box", "position": [-1.1, MATTRESS_TOP / 2, 0.0], "size": [1.6, MATTRESS_TOP, 2.0],
            "stiffness": 1000.0, "damping": 100.0}
WALL_GAP = 0.3
"""m between the take-off point (root at take-off) and the wall's face"""


def _feet(frames: np.ndarray) -> np.ndarray:
    skeleton = humanoid3d()
    return lowest_points(frames)[:, [skeleton.index(f) for f in FEET]].min(axis=1)


def _case(stage: Path, colliders: list[dict], out: Path) -> tuple[dict, np.ndarray, list[list[str]]]:
    began = time.perf_counter()
    attempt = rollout_in_set(stage, colliders, out).attempts[0]
    seconds = time.perf_counter() - began
    frames = load_clip(out).frames
    touchdown = attempt.events.touchdown
    row = None if touchdown is None else int(round(touchdown * 30))
    figures = {
        "label": attempt.label, "landed": attempt.landed, "rotation_deg": attempt.rotation_deg,
        "events": vars(attempt.events),
        "feet_height_at_touchdown": None if row is None else round(float(_feet(frames)[row]), 3),
        "lowest_feet_after_touchdown": None if row is None else round(float(_feet(frames)[row : row + 10].min()), 3),
        "first_non_foot_contact": next(([b for b in c if b not in FEET] for c in attempt.contacts
                                        if any(b not in FEET for b in c)), None),
        "wall_seconds": round(seconds, 2),
    }
    return figures, frames, attempt.contacts


def draw(panels: list[tuple[str, np.ndarray, list[dict]]], path: Path, times: np.ndarray) -> None:
    """A filmstrip per rollout (side view: x along the clip's forward, y up) at `times`, each frame at its
    place in the set, the set's boxes drawn, bodies touching the set marked red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    skeleton = humanoid3d()
    fig, axes = plt.subplots(len(panels), len(times), figsize=(1.45 * len(times), 2.3 * len(panels)), dpi=110,
                             squeeze=False)
    for row, (title, frames, colliders, contacts) in zip(axes, panels):
        pos, _ = forward_kinematics(frames, skeleton)
        for ax, t in zip(row, times):
            f = min(len(frames) - 1, int(round(t * 30)))
            for box in (c for c in colliders if c["kind"] == "box"):
                (x, y, _), (sx, sy, _) = box["position"], box["size"]
                soft = box.get("stiffness") is not None
                ax.add_patch(Rectangle((x - sx / 2, y - sy / 2), sx, sy, color="#f4a582" if soft else "#999999"))
            ax.axhline(0.0, color="#8c564b", lw=1.2)
            ax.axhline(MATTRESS_TOP, color="#bbbbbb", lw=0.5, ls=":")
            for i, body in enumerate(skeleton.bodies):
                if body.parent >= 0:
                    a, b = pos[f, body.parent], pos[f, i]
                    ax.plot([a[0], b[0]], [a[1], b[1]], color="#333333", lw=1.5, solid_capstyle="round")
            touching = [skeleton.index(name) for name in contacts[f]]
            ax.plot(pos[f, touching, 0], pos[f, touching, 1], "o", ms=3, color="#d62728")
            ax.set_xlim(-1.6, 0.4)
            ax.set_ylim(-0.05, 1.9)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{t:.2f}s", fontsize=7, pad=1)
        row[0].set_ylabel(title, fontsize=7)
    fig.suptitle("stage 15 rolled out in a set: red dots = bodies touching a collider, dotted line = 0.2 m",
                 fontsize=8)
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.02, top=0.88, wspace=0.04, hspace=0.15)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", type=Path, default=ROOT / "assets" / "stages" / "backflip" / "stage_0015")
    parser.add_argument("--image", type=Path, default=None, help="PNG of the plain and mattress rollouts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plain, plain_frames, plain_contacts = _case(args.stage, [PLANE], out / "plain.txt")
        takeoff_x = float(plain_frames[int(round(plain["events"]["takeoff"] * 30)), 1])
        face = takeoff_x - WALL_GAP
        wall_box = {"kind": "box", "position": [face - 0.1, 1.0, 0.0], "size": [0.2, 2.0, 2.0]}
        wall, *_ = _case(args.stage, [PLANE, wall_box], out / "wall.txt")
        mattress, mattress_frames, mattress_contacts = _case(args.stage, [PLANE, MATTRESS], out / "mattress.txt")
        rigid_box = {k: v for k, v in MATTRESS.items() if k not in ("stiffness", "damping")}
        rigid, *_ = _case(args.stage, [PLANE, rigid_box], out / "rigid.txt")
    if args.image is not None:
        draw([(f"plain floor: {plain['label']}", plain_frames, [PLANE], plain_contacts),
              (f"mattress: {mattress['label']}", mattress_frames, [PLANE, MATTRESS], mattress_contacts)],
             args.image, np.arange(0.6, 2.45, 0.15))
    print(json.dumps({
        "stage": str(args.stage),
        "plain": plain,
        "wall": {"face_x": round(face, 3), **wall},
        "mattress": {**mattress, "top": MATTRESS_TOP, "stiffness": MATTRESS["stiffness"], "damping": MATTRESS["damping"],
                     "touchdown_rise": round(mattress["feet_height_at_touchdown"] - plain["feet_height_at_touchdown"], 3),
                     "sink": round(MATTRESS_TOP - mattress["lowest_feet_after_touchdown"], 3)},
        "rigid_box": {**rigid, "sink": round(MATTRESS_TOP - rigid["lowest_feet_after_touchdown"], 3)},
    }))


if __name__ == "__main__":
    main()
