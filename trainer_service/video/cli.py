"""`python -m trainer_service extract VIDEO --out CLIP [--start S --end S]`: a video to a reference clip."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from trainer_service.arguments import finite_float, read_json_config

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="input video (any format OpenCV opens)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output clip NAME.txt; NAME.npz and NAME.preview.mp4 are written beside it")
    parser.add_argument("--start", type=finite_float, default=None, help="first time to use (seconds)")
    parser.add_argument("--end", type=finite_float, default=None, help="time to stop at (seconds)")
    parser.add_argument("--start-frame", type=int, default=None, help="first frame to use (0-based)")
    parser.add_argument("--end-frame", type=int, default=None, help="frame to stop before")
    parser.add_argument("--hfov", type=finite_float, default=None, help="camera horizontal field of view (degrees)")
    parser.add_argument("--config", type=Path, default=None, help="JSON file of ExtractConfig overrides")
    parser.add_argument("--no-preview", action="store_true", help="skip the preview video")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_config(args: argparse.Namespace):
    from .extract import ExtractConfig

    data = read_json_config(args.config) if args.config is not None else {}
    if args.hfov is not None:
        data.setdefault("fit", {})["hfov_deg"] = args.hfov
    if args.no_preview:
        data["preview"] = False
    return ExtractConfig.from_dict(data)


def run(args: argparse.Namespace) -> int:
    from backflip_addon.core.errors import InvalidInputError
    from backflip_addon.core.files import check_writable

    from .extract import extract, output_paths, write_outputs
    from .read import Trim

    for name in ("start", "end"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise InvalidInputError(f"--{name} must not be negative, got {value}", "pass seconds from the start")
    config = build_config(args)
    check_writable(output_paths(args.out, config).values())  # before minutes of work, not after
    trim = Trim(args.start, args.end, args.start_frame, args.end_frame)
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(total=total, desc=stage, unit="frame" if stage == "pose" else "step")
        bars[stage].total = total  # pose frames are counted as they are decoded
        bars[stage].update(done - bars[stage].n)

    try:
        result = extract(args.video, trim, config, None if args.quiet else progress)
    finally:
        for bar in bars.values():
            bar.close()
    paths = write_outputs(result, args.out, config)
    track = result.track
    summary = {
        "frames": result.clip.num_frames,
        "fps": round(result.video.fps, 3),
        "refilled": int(track.refilled.sum()),
        "mean_confidence": round(float(track.confidence.mean()), 3),
        "gravity_check_m_s2": None if result.fit.gravity != result.fit.gravity else round(result.fit.gravity, 2),
        "video_rotation_deg": result.video.rotation,
        "warnings": result.warnings,
        "seconds": {k: round(v, 2) for k, v in result.timings.items()},
        "outputs": {k: str(v) for k, v in paths.items()},
    }
    print(json.dumps(summary))
    return 0
