"""Render the sample video: an anny human doing humanoid3d_backflip.txt (needs the `bench` extra).

    .venv/bin/python bench/render_sample_video.py --out assets/video/backflip_side.mp4

Writes the video and, beside it, `<name>.truth.npz` with the ground-truth poses of every frame
and the camera. The command and its log that made the committed sample are in assets/video/.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backflip_addon.core.clip import load_clip  # noqa: E402
from backflip_addon.core.files import write_atomic  # noqa: E402
from bench.support import synth  # noqa: E402

DEFAULT_CACHE = Path.home() / ".cache" / "backflip" / "anny_humanoid3d.npz"


def backflip_clip_path() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath()) / "data" / "motions" / "humanoid3d_backflip.txt"


def render(out: Path, width: int, height: int, angle: float, blur: int, supersample: int, fps: float,
           cache: Path = DEFAULT_CACHE) -> dict:
    """Render one variant; returns a summary (and writes the ground truth beside the video)."""
    clip = load_clip(backflip_clip_path())
    body = synth.load_body(cache)
    cam = synth.orbit_camera(angle, width, height)
    start = time.perf_counter()
    truth = synth.render_video(body, clip, cam, out, fps=fps, blur_samples=blur, supersample=supersample)
    seconds = time.perf_counter() - start
    buffer = io.BytesIO()
    np.savez(buffer, poses=truth, fps=fps, camera_position=np.array(cam.position), camera_target=np.array(cam.target),
             hfov_deg=cam.hfov_deg, width=width, height=height)
    write_atomic(out.with_suffix(".truth.npz"), buffer.getvalue())
    return {"video": str(out), "frames": len(truth), "width": width, "height": height, "angle_deg": angle,
            "blur_samples": blur, "supersample": supersample, "render_s": round(seconds, 1),
            "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output .mp4")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--angle", type=float, default=0.0, help="camera azimuth from the side view (degrees)")
    parser.add_argument("--blur", type=int, default=1, help="poses averaged over a 1/fps shutter (1 = no blur)")
    parser.add_argument("--supersample", type=int, default=2)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--anny-cache", type=Path, default=DEFAULT_CACHE, help="bound-body cache (.npz)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = render(args.out, args.width, args.height, args.angle, args.blur, args.supersample, args.fps, args.anny_cache)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
