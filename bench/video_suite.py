"""Video fidelity suite: every humanoid3d mocap clip x camera views, rendered on an anny human, extracted, compared.

    .venv/bin/python bench/video_suite.py [--width 640 --height 360] [--motions backflip,walk] [--views side,high]
        [--extras] [--cases backflip_side,walk_side_pan] [--cached-only] [--render-only]
        [--out FILE (append) | --merge bench/results/video_suite.jsonl (replace those cases, re-summarise)]

Views: side (level, looking along -z), 45 (level, 45 degrees round), front (level, facing the
humanoid's front, +x), high (side azimuth, raised so that it looks down 20 degrees). Extras
(--extras): motion blur (1/30 s shutter) on the side view of each motion; a slow 20 degree pan and
a hand-held camera (smooth wobble of 1.5 degrees and 2 cm) on the side view of the backflip and the
walk. Renders are cached in $BACKFLIP_VIDEO_CACHE, or out/bench/video_suite/ without it (a re-run only
re-extracts; needs the `bench` extra: anny); point the variable outside the worktree so the renders outlive it. Writes one JSON line per case and a summary line (median PA-MPJPE, cases worse than
raw mediapipe, median root path ratio over the static-camera cases) to --out and stdout. The
figures per case are bench/video_fidelity.py's `evaluate` (PA-MPJPE, raw mediapipe, root path...),
plus the camera the extraction estimated against the one that filmed.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backflip_addon.core.clip import load_clip  # noqa: E402
from backflip_addon.core.files import write_atomic  # noqa: E402
from bench.support.results import emit  # noqa: E402

MOTIONS = ("backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup", "jump", "kick",
           "punch", "roll", "run", "spin", "spinkick", "walk")
REPRESENTATIVE = ("backflip", "walk", "roll", "cartwheel", "jump", "spinkick", "run")
VIEWS = {"side": (0.0, 0.0), "45": (45.0, 0.0), "front": (90.0, 0.0), "high": (0.0, 20.0)}
"""view -> (azimuth from the side view, elevation looking down), degrees"""
CACHE_ENV = "BACKFLIP_VIDEO_CACHE"
FPS = 30.0


def cache_dir() -> Path:
    """Where rendered cases are kept: $BACKFLIP_VIDEO_CACHE, else out/bench/video_suite in the checkout."""
    return Path(os.environ.get(CACHE_ENV) or ROOT / "out" / "bench" / "video_suite")


@dataclass(frozen=True)
class Case:
    motion: str
    view: str
    blur: int = 1
    camera: str = "static"  # static, pan, handheld

    @property
    def name(self) -> str:
        extra = "" if self.blur == 1 else "_blur"
        extra += "" if self.camera == "static" else f"_{self.camera}"
        return f"{self.motion}_{self.view}{extra}"


def cases(motions: list[str], views: list[str], extras: bool) -> list[Case]:
    out = [Case(m, v) for m in motions for v in views]
    if extras:
        out += [Case(m, "side", blur=5) for m in motions]
        out += [Case(m, "side", camera=c) for m in motions if m in ("backflip", "walk") for c in ("pan", "handheld")]
    return out


def clip_path(motion: str) -> Path:
    from trainer_service.paths import pybullet_data_dir

    return pybullet_data_dir() / "data" / "motions" / f"humanoid3d_{motion}.txt"


def render_case(case: Case, width: int, height: int) -> Path:
    """The case's video (rendered once, then cached) with its ground truth beside it (.truth.npz)."""
    from bench.render_sample_video import DEFAULT_CACHE
    from bench.support import synth

    path = cache_dir() / f"{case.name}_{width}x{height}.mp4"
    if path.exists() and path.with_suffix(".truth.npz").exists():
        return path
    clip = load_clip(clip_path(case.motion))
    roots = clip.frames[:, 1:4]
    mid = 0.5 * (roots.min(0) + roots.max(0))
    extent = float(np.ptp(roots[:, [0, 2]], axis=0).max())
    # Far enough for the whole path to stay in a 50 degree field of view with a body's margin.
    distance = max(5.0, (0.5 * extent + 0.8) / math.tan(math.radians(25.0)))
    azimuth, elevation = VIEWS[case.view]
    cam = synth.orbit_camera(azimuth, width, height, distance=distance, target=(float(mid[0]), 1.0, float(mid[2])),
                             elevation_deg=elevation)
    count = synth.frame_count(clip, FPS)
    cams = {"static": [cam] * count, "pan": synth.moving_cameras(cam, count, pan_deg=20.0),
            "handheld": synth.moving_cameras(cam, count, shake_deg=1.5, shake_m=0.02, seed=1)}[case.camera]
    body = synth.load_body(DEFAULT_CACHE)
    logging.warning("rendering %s (%d frames)", path.name, count)
    start = time.perf_counter()
    truth = synth.render_video(body, clip, cams, path, fps=FPS, blur_samples=case.blur, supersample=1)
    buffer = io.BytesIO()
    np.savez(buffer, poses=truth, fps=FPS, camera_position=np.array([c.position for c in cams]),
             camera_target=np.array([c.target for c in cams]), hfov_deg=cam.hfov_deg, width=width, height=height,
             render_s=time.perf_counter() - start)
    write_atomic(path.with_suffix(".truth.npz"), buffer.getvalue())
    return path


def camera_truth(video: Path) -> dict:
    """Height above the ground (m), downward tilt (degrees) and horizontal field of view of the first frame's camera."""
    with np.load(video.with_suffix(".truth.npz")) as t:
        pos, target, hfov = t["camera_position"], t["camera_target"], float(t["hfov_deg"])
    pos, target = np.atleast_2d(pos)[0], np.atleast_2d(target)[0]
    forward = (target - pos) / np.linalg.norm(target - pos)
    return {"height_m": round(float(pos[1]), 3), "tilt_down_deg": round(float(-np.degrees(np.arcsin(forward[1]))), 1),
            "hfov_deg": round(hfov, 1)}


def case_line(case: Case, video: Path, figures: dict) -> dict:
    pa, raw = figures["pa_mpjpe_mm"], figures["peer_raw_mediapipe_pa_mpjpe_mm"]
    line = {"bench": "video_suite", "case": case.name, "motion": case.motion, "view": case.view,
            "blur": case.blur > 1, "camera": case.camera, "video": video.name,
            "ours_pa_mpjpe_mm": pa["all"], "ours_inverted_mm": pa["inverted"],
            "raw_mediapipe_pa_mpjpe_mm": raw["all"], "raw_mediapipe_inverted_mm": raw["inverted"],
            "worse_than_raw": pa["all"] > raw["all"],
            "root_path_length_ratio": figures["root_path_length_ratio"],
            "root_trajectory_error_mm": figures["root_trajectory_error_mm"],
            "camera_truth": camera_truth(video), "camera_estimate": figures.get("camera_estimate"),
            "frames": figures["frames"], "pose_rate": figures["pose_rate"], "detection_rate": figures["detection_rate"],
            "refilled_frames": figures["refilled_frames"], "joint_angle_error_deg": figures["joint_angle_error_deg"],
            "frames_per_s": figures["frames_per_s"]}
    return line


def summary(lines: list[dict], resolution: str, missing: list[str]) -> dict:
    static = [x for x in lines if x["camera"] == "static"]
    ratios = [x["root_path_length_ratio"] for x in static]
    inverted = [x["ours_inverted_mm"] for x in lines if x["ours_inverted_mm"] is not None and x["motion"] == "backflip"]
    return {
        "bench": "video_suite_summary", "resolution": resolution, "cases": len(lines),
        "machine": f"{os.cpu_count()} cores visible, {len(os.sched_getaffinity(0))} usable",
        "median_pa_mpjpe_mm": round(float(np.median([x["ours_pa_mpjpe_mm"] for x in lines])), 1),
        "median_raw_mediapipe_mm": round(float(np.median([x["raw_mediapipe_pa_mpjpe_mm"] for x in lines])), 1),
        "worse_than_raw": [x["case"] for x in lines if x["worse_than_raw"]],
        "median_root_path_ratio_static": round(float(np.median(ratios)), 3) if ratios else None,
        "static_ratio_within_0_9_1_1": sum(0.9 <= r <= 1.1 for r in ratios), "static_cases": len(ratios),
        "median_root_trajectory_error_mm": round(float(np.median([x["root_trajectory_error_mm"] for x in lines])), 1),
        "backflip_inverted_mm_max": max(inverted) if inverted else None,
        "all_frames_posed": all(x["pose_rate"] == 1.0 for x in lines),
        "missing_cases": missing,
    }


def merge_results(path: Path, lines: list[dict], resolution: str, everything: list[Case]) -> dict:
    """Replace `path`'s lines of the same cases and resolution by `lines`, keep the others, and end the
    file with one summary over all its cases at that resolution; returns that summary."""
    kept = []
    if path.exists():
        fresh = {x["case"] for x in lines}
        for text in path.read_text().splitlines():
            row = json.loads(text)
            same_run = row.get("video", "").endswith(f"_{resolution}.mp4") or row.get("resolution") == resolution
            if same_run and (row["bench"] == "video_suite_summary" or row["case"] in fresh):
                continue
            kept.append(row)
    cases_now = [x for x in kept if x["bench"] == "video_suite" and x["video"].endswith(f"_{resolution}.mp4")] + lines
    order = {c.name: i for i, c in enumerate(everything)}
    cases_now.sort(key=lambda x: order.get(x["case"], len(order)))
    others = [x for x in kept if x not in cases_now]
    done = {x["case"] for x in cases_now}
    total = summary(cases_now, resolution, [c.name for c in everything if c.name not in done])
    write_atomic(path, "".join(json.dumps(x) + "\n" for x in [*others, *cases_now, total]).encode())
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--motions", default=",".join(REPRESENTATIVE), help="comma list, or 'all'")
    parser.add_argument("--views", default=",".join(VIEWS))
    parser.add_argument("--extras", action="store_true", help="side blur per motion, pan and hand-held on backflip and walk")
    parser.add_argument("--cases", default=None, help="comma list of case names (e.g. backflip_side_blur): only these")
    parser.add_argument("--cached-only", action="store_true", help="evaluate only cases already rendered")
    parser.add_argument("--render-only", action="store_true", help="render (and cache) the videos, then stop")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON lines to this file")
    parser.add_argument("--merge", type=Path, default=None,
                        help="replace this file's lines of the same cases, and its summary by one over all its cases")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    motions = list(MOTIONS) if args.motions == "all" else args.motions.split(",")
    everything = cases(list(MOTIONS), list(VIEWS), True)
    if args.cases:
        names = set(args.cases.split(","))
        wanted = [c for c in everything if c.name in names]
    else:
        wanted = cases(motions, args.views.split(","), args.extras)
    todo = []
    for case in wanted:
        path = cache_dir() / f"{case.name}_{args.width}x{args.height}.mp4"
        if args.cached_only and not path.with_suffix(".truth.npz").exists():
            continue
        todo.append((case, render_case(case, args.width, args.height)))
    if args.render_only:
        return 0
    import mediapipe  # noqa: F401  imported before timing, as in the trainer service
    import torch  # noqa: F401

    from bench.video_fidelity import evaluate

    lines = []
    for case, video in todo:
        line = case_line(case, video, evaluate(video))
        lines.append(line)
        emit(line, args.out)  # as measured: a later case that crashes or is stopped keeps this one
    done = {c.name for c, _ in todo}
    resolution = f"{args.width}x{args.height}"
    emit(summary(lines, resolution, [c.name for c in everything if c.name not in done]), args.out)
    if args.merge is not None:
        print(json.dumps(merge_results(args.merge, lines, resolution, everything)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
