"""The main job, end to end, the way a user runs it: video → reference → training → stages in a set → shot.

This module only orchestrates: it talks to the trainer service through the add-on's own client
(`backflip_addon/client`) and runs the Blender half (`demo_shot.py`, `render_shot.py`) as processes
with the bpy wheel. It never imports bpy. Steps, each skipped when its output is already there:

  1 service    start the service (state in OUT/state; allowed roots: the repo's assets and OUT)
  2 reference  extract a reference clip from assets/video/backflip_side.mp4
  3 train      train on it for a short budget (its own early stages; OUT/learning_curve.png)
  4 set        demo_shot.py: projected set, colliders, the run's latest stage, the shipped near miss and
               first landing that holds, two attempts each, simulated by the service, baked as takes
  5 render     render_shot.py: OUT/shot/shot.mp4, contact_sheet.png, frames/ (1.85:1, 25 fps)

Progress is one line per step; the processes' own output goes to OUT/logs/. Every output is written
atomically, and Ctrl-C stops the service (a training keeps its checkpoint and resumes at the next run).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from backflip_addon.client.http import ServiceClient
from backflip_addon.client.service import start_service, stop_service
from backflip_addon.core.errors import BackflipError, InvalidInputError
from backflip_addon.core.protocol import FINISHED_STATES, ReferenceRequest, TrainingRequest

from .arguments import check_output_folder
from .rl.stages import StageEntry, first_hold, first_landing, read_index

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "assets" / "video" / "backflip_side.mp4"
SHIPPED_STAGES = REPO / "assets" / "stages" / "backflip"
STEPS = ("service", "reference", "train", "set", "render")
POLL_SECONDS = 1.0
SIZE, QUICK_SIZE = "480x260", "96x52"  # the film's 1.85:1


@dataclass(frozen=True)
class Budget:
    minutes: float
    """training wall-clock budget (0: `samples` decides)"""
    samples: int | None
    size: str
    samples_per_pixel: int
    seconds: float
    """simulated seconds past each clip's end in the set"""
    config: dict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    parser.add_argument("--video", type=Path, default=VIDEO, help="video to extract the reference from")
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget in minutes")
    parser.add_argument("--quick", action="store_true", help="tiny budgets and a tiny render (the test run)")
    parser.add_argument("--size", help=f"render size WxH (default {SIZE}, quick {QUICK_SIZE})")
    parser.add_argument("--stages", type=Path, default=SHIPPED_STAGES,
                        help="the trained run whose near miss and first landing are shown")
    parser.add_argument("--only", choices=STEPS[1:], action="append",
                        help="run only this step (and the service); repeatable")
    parser.add_argument("--readme", type=Path, help="also copy a shot frame and the learning curve here")


def budget(args: argparse.Namespace) -> Budget:
    stages = {"perturbed_rollouts": 0, "preview_frames": 4}
    if args.quick:
        config = {"checkpoint_seconds": 0.0, "hold_seconds": 0.5,
                  "ppo": {"num_envs": 2, "num_steps": 64, "hidden_sizes": [64, 32], "minibatch_size": 64,
                          "update_epochs": 2},
                  "stages": {**stages, "first_stage_samples": 256, "eval_every_samples": 256, "extra_seconds": 0.5}}
        return Budget(0.0, 1500, args.size or QUICK_SIZE, 1, 0.3, config)
    if args.minutes <= 0:
        raise InvalidInputError(f"--minutes {args.minutes}", "give a training budget above 0 minutes")
    config = {"stages": {**stages, "first_stage_samples": 20_000, "eval_every_samples": 20_000}}
    return Budget(args.minutes, None, args.size or SIZE, 8, 1.0, config)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = args.out.resolve()
        self.state_dir = self.out / "state"
        self.logs = self.out / "logs"
        self.record_path = self.out / "demo.json"
        self.record: dict = json.loads(self.record_path.read_text()) if self.record_path.exists() else {}
        self.budget = budget(args)
        self.client: ServiceClient | None = None

    def save(self, key: str, value: Any) -> None:
        self.record[key] = value
        write_json(self.record_path, self.record)

    def wait(self, read: Callable[[], Any], what: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while (item := read()).state not in FINISHED_STATES:
            if time.monotonic() > deadline:
                raise BackflipError(f"{what} not finished after {timeout:.0f} s", f"see {self.state_dir}/service.log")
            time.sleep(POLL_SECONDS)
        if item.state != "done":
            job = item.job
            error = job.error if job else None
            raise BackflipError(f"{what} {item.state}: {error.message if error else ''}",
                                error.hint if error and error.hint else f"see {self.state_dir}/service.log")
        return item

    # -- steps: each returns its one-line summary ----------------------------------------------------

    def service(self) -> str:
        self.client = start_service(sys.executable, self.state_dir, extra_roots=(REPO / "assets", self.out),
                                    timeout=120)
        return f"running, state in {self.state_dir}"

    def reference(self) -> str:
        done = self.record.get("reference")
        if done and Path(done["clip"]).is_file():
            return f"done before: {done['clip']}"
        reference = self.client.create_reference(ReferenceRequest(video=str(self.args.video.resolve()), name="demo"))
        reference = self.wait(lambda: self.client.reference(reference.id), "the extraction", 1800)
        self.save("reference", {"id": reference.id, "clip": reference.clip})
        self.record.pop("training", None)  # a new reference makes the training stale
        return f"{self.args.video.name} → {reference.clip}"

    def train(self) -> str:
        done = self.record.get("training")
        training = None
        if done:
            training = next((t for t in self.client.trainings() if t.id == done["id"]), None)
            if training is not None and training.state == "paused":
                training = self.client.resume_training(training.id)
            if training is not None and training.state in ("failed", "cancelled"):
                training = None
        reused = bool(training is not None and training.state == "done" and "early_stage" in done)
        if training is None:
            b = self.budget
            training = self.client.create_training(TrainingRequest(
                reference=self.record["reference"]["id"], minutes=b.minutes or None, samples=b.samples,
                config=b.config))
            self.save("training", {"id": training.id})
        timeout = 600 + 60 * self.budget.minutes
        training = self.wait(lambda: self.client.training(training.id), "the training", timeout)
        stages = self.client.stages(training.id)
        curve = self.out / "learning_curve.png"
        tmp = curve.with_name("learning_curve.tmp.png")
        tmp.write_bytes(self.client.learning_curve(training.id))
        tmp.replace(curve)
        self.save("training", {"id": training.id, "run_dir": training.run_dir, "early_stage": stages[-1].path})
        p = training.progress
        rate = f", {p.samples_per_second:.0f} samples/s" if p.samples_per_second else ""
        return (f"{'done before: ' if reused else ''}{p.samples:,} samples{rate}; stages {', '.join(str(s.index) for s in stages)} "
                f"(latest: {stages[-1].label}); {curve}")

    def shown_stages(self) -> list[Path]:
        """This run's latest stage, the shipped run's near miss and its first landing (that holds)."""
        entries = read_index(self.args.stages)
        landing = shown_stage(entries)
        if landing is None:
            raise InvalidInputError(f"no landing in {self.args.stages}/stages.json", "give --stages a run that lands")
        near = near_miss(entries, landing)
        return [Path(self.record["training"]["early_stage"]), near.path(self.args.stages),
                landing.path(self.args.stages)]

    def set(self) -> str:
        blend = self.out / "demo.blend"
        stages = [str(p) for p in self.shown_stages()]
        done = self.record.get("set")
        if done and done == {"blend": str(blend), "stages": stages, "size": self.budget.size} and blend.is_file():
            return f"done before: {blend}"
        command = [sys.executable, str(REPO / "demo_shot.py"), "--state-dir", str(self.state_dir), "--out",
                   str(blend), "--size", self.budget.size, "--samples", str(self.budget.samples_per_pixel),
                   "--seconds", str(self.budget.seconds)]
        for stage in stages:
            command += ["--stage", stage]
        last = self.run_logged("set", command)
        self.save("set", {"blend": str(blend), "stages": stages, "size": self.budget.size})
        self.record.pop("render", None)
        return f"{last.removeprefix('demo_shot: ')}"

    def render(self) -> str:
        shot = self.out / "shot"
        blend = self.out / "demo.blend"
        key = {"blend_mtime": blend.stat().st_mtime, "size": self.budget.size}
        if self.record.get("render") == key and (shot / "contact_sheet.png").is_file():
            return f"done before: {shot}"
        tmp = self.out / "shot.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.run_logged("render", [sys.executable, str(REPO / "render_shot.py"), "--blend", str(blend), "--out",
                                   str(tmp), "--size", self.budget.size, "--fps", "25",
                                   "--samples", str(self.budget.samples_per_pixel)])
        shutil.rmtree(shot, ignore_errors=True)
        tmp.replace(shot)  # the shot folder appears only once complete
        self.save("render", key)
        frames = len(list((shot / "frames").glob("*.png")))
        return f"{frames} frames {self.budget.size} → {shot / 'shot.mp4'}, {shot / 'contact_sheet.png'}"

    def run_logged(self, step: str, command: list[str]) -> str:
        """Run a step's process with its output in OUT/logs/STEP.log; its last line of output."""
        self.logs.mkdir(exist_ok=True)
        log = self.logs / f"{step}.log"
        with open(log, "w") as handle:
            done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO, check=False)
        text = log.read_text(errors="replace").replace("\r", "\n").strip().splitlines()
        if done.returncode != 0:
            errors = [line for line in text if "error" in line.lower()]
            raise BackflipError(f"the {step} step failed (exit {done.returncode}): {(errors or text or [''])[-1]}",
                                f"see {log}")
        return text[-1] if text else ""

    def readme_images(self, folder: Path) -> None:
        frames = sorted((self.out / "shot" / "frames").glob("*.png"))
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(frames[len(frames) * 2 // 3], folder / "demo_frame.png")
        shutil.copyfile(self.out / "learning_curve.png", folder / "learning_curve.png")


def shown_stage(entries: list[StageEntry]) -> StageEntry | None:
    """The landing the demo shows: the first landing that holds, else the first landing."""
    return first_hold(entries) or first_landing(entries)


def near_miss(entries: list[StageEntry], landing: StageEntry) -> StageEntry:
    """The stage before `landing` that rotated most (the shipped run's "first full rotation, on hands")."""
    before = [e for e in entries if e.index < landing.index and not e.landed]
    return max(before, key=lambda e: e.rotation_deg) if before else landing


def run(args: argparse.Namespace) -> int:
    if not args.video.is_file():
        raise InvalidInputError(f"video not found: {args.video}", "give --video a video file")
    check_output_folder(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    demo = Demo(args)
    steps = ["service"] + [s for s in STEPS[1:] if not args.only or s in args.only]
    started = time.monotonic()
    try:
        for number, name in enumerate(steps, start=1):
            tic = time.monotonic()
            print(f"[{number}/{len(steps)}] {name}: ", end="", flush=True)
            summary = getattr(demo, name)()
            print(f"{summary} ({time.monotonic() - tic:.0f} s)", flush=True)
        if args.readme:
            demo.readme_images(args.readme)
    except KeyboardInterrupt:
        print("\ninterrupted: outputs so far are complete; run the same command again to go on", flush=True)
        return 130
    finally:
        stop_service(demo.state_dir)
    print(f"demo done in {time.monotonic() - started:.0f} s: {demo.out} (shot/, demo.blend, learning_curve.png,"
          f" logs/)")
    return 0

