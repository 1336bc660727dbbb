"""A camera that follows the character's root, keyed frame by frame into its own action.

The path is computed by pure functions (a critically damped spring behind the root, a look-at,
a seeded hand-held wobble) and written as ordinary keys, so a shot can be re-keyed after the
character changes and then touched up by hand like any camera move.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..core import rotations as rot
from ..core.errors import InvalidInputError
from . import rig
from .compat import ensure_channelbag, ensure_fcurve

_WOBBLE_HZ = (0.35, 0.8, 1.7)  # a hand-held camera drifts slowly and jitters a little


def smooth_follow(targets: np.ndarray, dt: float, damping: float) -> np.ndarray:
    """(N, 3) targets -> (N, 3) positions of a critically damped spring that starts on the target.

    `damping` is the spring's lag time constant in seconds (2/omega); 0 follows exactly. Uses the
    exact per-step solution of x'' = -omega^2 (x - t) - 2 omega x', stable for any dt.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if damping <= 0.0:
        return targets.copy()
    omega = 2.0 / damping
    decay = np.exp(-omega * dt)
    x, v = targets[0].copy(), np.zeros(3)
    out = np.empty_like(targets)
    for i, target in enumerate(targets):
        change = x - target
        temp = (v + omega * change) * dt
        v = (v - omega * temp) * decay
        x = target + (change + temp) * decay
        out[i] = x
    return out


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, 4) camera orientations (w, x, y, z) looking down -Z from `eye` to `target`, +Y toward +Z."""
    up = np.array([0.0, 0.0, 1.0])
    forward = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
    right = np.cross(forward, up)
    degenerate = np.linalg.norm(right, axis=-1) < 1e-6  # looking straight up or down
    right[degenerate] = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    cam_up = np.cross(right, forward)
    matrices = np.stack([right, cam_up, -forward], axis=-1)
    return rot.make_continuous(rot.normalize(rot.from_matrix(matrices)))


def hand_held(num_frames: int, fps: float, amplitude_deg: float, seed: int) -> np.ndarray:
    """(N, 3) small rotation vectors (radians, camera frame): a seeded, smooth wobble.

    Sum of a few sines per axis at hand-held frequencies with random phases and weights; peak
    about `amplitude_deg`. The same seed gives the same wobble.
    """
    if amplitude_deg <= 0.0:
        return np.zeros((num_frames, 3))
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None] / fps
    wobble = np.zeros((num_frames, 3))
    for hz in _WOBBLE_HZ:
        weight = rng.uniform(0.5, 1.0, 3) / hz  # slower components carry more of the motion
        phase = rng.uniform(0.0, 2.0 * np.pi, 3)
        wobble += weight * np.sin(2.0 * np.pi * hz * rng.uniform(0.8, 1.25, 3) * t + phase)
    wobble *= np.radians(amplitude_deg) / sum(1.0 / hz for hz in _WOBBLE_HZ)
    wobble[:, 2] *= 0.5  # less roll than pan and tilt
    return wobble


def camera_path(
    roots: np.ndarray,
    fps: float,
    *,
    offset: np.ndarray,
    aim_height: float = 0.0,
    damping: float = 0.4,
    shake_deg: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Camera locations (N, 3) and orientations (N, 4, w x y z) following `roots` (N, 3), Z up."""
    followed = smooth_follow(roots, 1.0 / fps, damping)
    eye = followed + np.asarray(offset, dtype=np.float64)
    aim = followed + np.array([0.0, 0.0, aim_height])
    orientation = look_at(eye, aim)
    wobble = rot.from_rotvec(hand_held(len(roots), fps, shake_deg, seed))
    return eye, rot.make_continuous(rot.multiply(orientation, wobble))


def sample_root(scene: bpy.types.Scene, target: bpy.types.Object, frames: range) -> np.ndarray:
    """World position of `target`'s root per frame: a Backflip character's pelvis head, else its origin."""
    character = rig.character_map(target)
    root_bone = character[0]["root"] if character else ""
    current = scene.frame_current
    out = np.empty((len(frames), 3))
    try:
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            if root_bone:
                out[i] = target.matrix_world @ target.pose.bones[root_bone].head
            else:
                out[i] = target.matrix_world.translation
    finally:
        scene.frame_set(current)
    return out


def _key(channelbag, path: str, frames: np.ndarray, values: np.ndarray) -> None:
    for index in range(values.shape[1]):
        curve = ensure_fcurve(channelbag, path, index, "Follow")
        curve.keyframe_points.clear()
        curve.keyframe_points.add(len(frames))
        co = np.empty(2 * len(frames), dtype=np.float32)
        co[0::2], co[1::2] = frames, values[:, index]
        curve.keyframe_points.foreach_set("co", co)
        curve.keyframe_points.foreach_set("interpolation", np.full(len(frames), 2, dtype=np.int32))  # LINEAR
        curve.update()


def key_follow(scene: bpy.types.Scene, camera: bpy.types.Object) -> bpy.types.Action:
    """(Re)key `camera` over the scene's frame range from its obj.backflip.follow settings."""
    settings = camera.backflip.follow
    if settings.target is None:
        raise InvalidInputError(f"{camera.name} follows nothing", hint="Set the follow target (the character)")
    frames = range(scene.frame_start, scene.frame_end + 1)
    if len(frames) == 0:
        raise InvalidInputError("The scene's frame range is empty", hint="Set an end frame after the start frame")
    fps = scene.render.fps / scene.render.fps_base
    roots = sample_root(scene, settings.target, frames)
    location, orientation = camera_path(
        roots, fps, offset=np.array(settings.offset), aim_height=settings.aim_height,
        damping=settings.damping, shake_deg=settings.shake, seed=settings.seed,
    )
    camera.rotation_mode = "QUATERNION"
    animation = camera.animation_data or camera.animation_data_create()
    action = animation.action or bpy.data.actions.new(f"{camera.name} follow")
    slot = animation.action_slot if animation.action is action and animation.action_slot else None
    if slot is None:
        slot = action.slots.new(id_type="OBJECT", name=camera.name)
    channelbag = ensure_channelbag(action, slot)
    keyed = np.arange(frames.start, frames.stop, dtype=np.float64)
    _key(channelbag, "location", keyed, location)
    _key(channelbag, "rotation_quaternion", keyed, orientation)
    animation.action = action
    animation.action_slot = slot
    return action


def add_follow_camera(
    context: bpy.types.Context,
    target: bpy.types.Object,
    *,
    offset: tuple[float, float, float] = (0.0, -6.0, 0.6),
    damping: float = 0.4,
    shake: float = 0.0,
    seed: int = 0,
    lens: float = 35.0,
    make_active: bool = True,
) -> bpy.types.Object:
    """A new camera following `target`'s root, keyed over the scene's frame range."""
    data = bpy.data.cameras.new(f"Follow {target.name}")
    data.lens = lens
    camera = bpy.data.objects.new(data.name, data)
    context.collection.objects.link(camera)
    settings = camera.backflip.follow
    settings.target = target
    settings.offset = offset
    settings.damping = damping
    settings.shake = shake
    settings.seed = seed
    key_follow(context.scene, camera)
    if make_active:
        context.scene.camera = camera
    return camera
