"""The demo's Blender half: a projected set, learning stages simulated in it by the trainer service, a shot.

    python demo_shot.py --state-dir DIR --stage EARLY --stage NEAR_MISS --stage LANDING --out shot.blend
    blender -b -P demo_shot.py -- --state-dir DIR --stage ... --out shot.blend

Builds the set (a projector camera from a street photo, the photo projected onto a backdrop and a
floor, a soft mattress; floor and mattress marked as colliders), exports its colliders and asks the
running trainer service (found through its state folder, as the add-on finds it) for two attempts of
each stage in that set, each attempt from its own start so that none hides another: early stage on
the left, the landing onto the mattress in the middle, the near miss on the right. Each attempt is
baked as a take on its own character (backflip_addon/blender/stage_bake.py), a follow camera frames
the group, and the .blend is written atomically (it exists only once complete).

Runs with the bpy wheel or inside Blender; imports the add-on from this repository.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent
if str(REPO) not in sys.path:  # under `blender -P` the repository is not on the path
    sys.path.insert(0, str(REPO))

SET_PHOTO = REPO / "assets" / "set" / "street.png"
FPS = 25
SIZE = (480, 260)  # 1.85:1
# A 6 cm landing mat, soft (3 kN/m, 300 N s/m per contact point). The shipped first landing still lands and
# holds on it; on a 20 cm mattress at 1 kN/m it comes down early and lands on its knees (331° of rotation).
MATTRESS_TOP = 0.06  # m
MATTRESS_STIFFNESS, MATTRESS_DAMPING = 3000.0, 300.0
ROLLOUT_TIMEOUT = 600.0  # s, all rollouts together


@dataclass(frozen=True)
class Place:
    """Where one attempt starts: Blender ground X, Y (m) and heading (deg, 0 = the clip's +X)."""

    x: float
    y: float
    heading: float
    perturb: float
    seed: int


# A backflip travels about 1.1 m backwards (-X at heading 0). One row across the camera's view, 1.8 m
# apart: the early stage on the left, the two landings facing each other so both come down on the one
# mattress in the middle (their take-offs off it), the near miss on the right, turned to travel outwards.
PLACES = (
    (Place(-3.0, 0.0, 0.0, 0.0, 0), Place(-4.8, 0.0, 0.0, 0.02, 1)),
    (Place(3.0, 0.0, 180.0, 0.0, 0), Place(4.8, 0.0, 180.0, 0.02, 1)),
    (Place(2.2, 0.0, 0.0, 0.0, 0), Place(-2.2, 0.0, 180.0, 0.02, 1)),
)
MATTRESS_SIZE = (3.6, 2.0)  # m along X, Y: under both landings, clear of both take-offs


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="demo_shot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, required=True, help="the running trainer service's state folder")
    parser.add_argument("--stage", type=Path, action="append", required=True,
                        help="stage folder, three times: early stage, near miss, landing")
    parser.add_argument("--out", type=Path, required=True, help=".blend to write")
    parser.add_argument("--seconds", type=float, default=1.0, help="simulated seconds past each clip's end")
    parser.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}", help="render size WxH saved in the .blend")
    parser.add_argument("--samples", type=int, default=8, help="Cycles samples saved in the .blend")
    args = parser.parse_args(argv)
    if len(args.stage) != 3:
        parser.error("give --stage three times: early stage, near miss, landing")
    return args


def build_set(context):
    """Projector, projected backdrop and floor (a collider), a soft mattress (a collider), a sun."""
    import bpy
    from mathutils import Euler, Vector

    from backflip_addon.blender import colliders, projection

    scene = context.scene
    photo = projection.load_photo(str(SET_PHOTO))
    scene.cursor.location = Vector((0.0, -14.0, 1.6))
    projector = projection.projector_from_photo(context, photo, lens=30.0, match_render=False)
    projector.rotation_euler = Euler((math.radians(84.0), 0.0, 0.0))
    context.view_layer.update()
    projection.add_background_plane(context, projector, distance=22.0)
    scene.cursor.location = Vector((0.0, 0.0, 0.0))
    floor = projection.add_projected_prop(context, projector, "PLANE", size=40.0, unlit=False)
    floor.name = "Floor"
    colliders.mark_collider(floor, "PLANE")

    mattress = projection.add_proxy(context, "BOX", 1.0, name="Mattress")
    mattress.scale = (MATTRESS_SIZE[0], MATTRESS_SIZE[1], MATTRESS_TOP)
    mattress.location = (0.0, 0.0, MATTRESS_TOP / 2.0)
    material = bpy.data.materials.new("Mattress")
    material.diffuse_color = (0.08, 0.22, 0.55, 1.0)
    if bpy.app.version < (5, 0, 0):  # nodes are always on from 5.0
        material.use_nodes = True
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.08, 0.22, 0.55, 1.0)
    mattress.data.materials.append(material)
    colliders.mark_collider(mattress, "BOX", soft=True, stiffness=MATTRESS_STIFFNESS, damping=MATTRESS_DAMPING)

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", type="SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(40), 0.0, math.radians(30))
    scene.collection.objects.link(sun)
    projection.use_standard_view(scene)


def simulate(client, stages: list[Path], colliders: list[dict], seconds: float) -> list[list[Path]]:
    """Ask the service for one rollout per attempt (each from its own place); their events.json paths."""
    from backflip_addon.client.jobs import finished, poll_step
    from backflip_addon.core.errors import BackflipError
    from backflip_addon.core.protocol import RolloutRequest

    jobs: list[list[str]] = []
    for stage, places in zip(stages, PLACES):
        jobs.append([
            client.create_rollout(RolloutRequest(
                stage_dir=str(stage), colliders=colliders, seed=p.seed, attempts=1, perturb=p.perturb,
                start=[p.x, p.y, p.heading], fps=float(FPS), seconds=seconds,
            )).id
            for p in places
        ])
    ids = [job for pair in jobs for job in pair]
    deadline = time.monotonic() + ROLLOUT_TIMEOUT
    while not finished(statuses := poll_step(client, ids)):
        if time.monotonic() > deadline:
            raise BackflipError(f"rollouts not finished after {ROLLOUT_TIMEOUT:.0f} s",
                                "see the jobs with `python -m trainer_service jobs list --state-dir ...`")
        time.sleep(0.5)
    failed = [s for s in statuses if s.state != "done"]
    if failed:
        error = failed[0].error
        raise BackflipError(f"rollout {failed[0].id} {failed[0].state}: {error.message if error else ''}",
                            error.hint if error and error.hint else "see the service log in the state folder")
    by_id = {s.id: Path(s.result["events"]) for s in statuses}
    return [[by_id[job] for job in pair] for pair in jobs]


def bake(context, events: list[list[Path]]) -> list:
    """Each attempt on its own character, as a take from frame 1; the armatures, in order."""
    from backflip_addon.blender.stage_bake import bake_rollout

    armatures = []
    for pair in events:
        for number, path in enumerate(pair, start=1):
            (baked,) = bake_rollout(context, path, context.scene.frame_start)
            # One rollout per attempt (each starts elsewhere): name the character by its attempt in the pair.
            baked.armature.name = f"Stage {baked.armature['backflip_stage']} attempt {number}"
            baked.armature["backflip_attempt"] = number
            armatures.append(baked.armature)
    return armatures


def add_group_camera(context, armatures: list) -> None:
    """A hand-held follow camera on an empty that tracks the characters' mean root (so all stay in view)."""
    import bpy
    import numpy as np

    from backflip_addon.blender import follow_camera

    scene = context.scene
    frames = range(scene.frame_start, scene.frame_end + 1)
    roots = np.mean([follow_camera.sample_root(scene, a, frames) for a in armatures], axis=0)
    centre = bpy.data.objects.new("Shot centre", None)
    scene.collection.objects.link(centre)
    for frame, (x, _, z) in zip(frames, roots):
        centre.location = (0.5 * x, 0.0, 0.6 + 0.3 * z)  # half the group's drift: the outer characters stay in
        centre.keyframe_insert("location", frame=frame)
    follow_camera.add_follow_camera(context, centre, offset=(0.0, -13.0, 0.5), damping=0.5, shake=0.4, seed=7,
                                  lens=30.0)


def build(args: argparse.Namespace) -> Path:
    import bpy

    from backflip_addon import classes, properties
    from backflip_addon.blender import colliders
    from backflip_addon.client.service import connect
    from backflip_addon.core.errors import BackflipError

    client = connect(args.state_dir)
    if client is None:
        raise BackflipError(f"no trainer service answers for {args.state_dir}",
                            "start it: python -m trainer_service serve --state-dir DIR")
    width, height = (int(v) for v in args.size.lower().split("x"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    classes.register()
    properties.register()
    try:
        context = bpy.context
        scene = context.scene
        scene.render.fps, scene.render.fps_base = FPS, 1.0
        scene.render.resolution_x, scene.render.resolution_y = width, height
        scene.render.resolution_percentage = 100
        scene.render.engine = "CYCLES"
        scene.cycles.samples = args.samples
        scene.frame_start = scene.frame_end = 1
        build_set(context)
        found = colliders.scene_colliders(scene)
        print(f"demo_shot: set with {len(found)} colliders; simulating {len(args.stage)} stages x 2 attempts",
              flush=True)
        events = simulate(client, [p.resolve() for p in args.stage], found, args.seconds)
        armatures = bake(context, events)
        add_group_camera(context, armatures)
        out = args.out.resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.stem + ".tmp.blend")
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), check_existing=False)
        tmp.replace(out)  # the .blend appears only once complete
        landed = ", ".join(f"{a.name}: {a['backflip_label']}" for a in armatures)
        print(f"demo_shot: {len(armatures)} takes ({landed}); frames 1-{scene.frame_end}; wrote {out}", flush=True)
    finally:
        properties.unregister()
        classes.unregister()
    return out


def main(argv: list[str] | None = None) -> int:
    from backflip_addon.core.errors import BackflipError
    from render_shot import script_argv

    args = parse_args(script_argv() if argv is None else argv)
    try:
        build(args)
    except BackflipError as exc:
        print(f"demo_shot: error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
