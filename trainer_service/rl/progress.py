"""How a run reports itself: a command-line bar, JSON lines for the service, TensorBoard scalars and a
learning-curve PNG, all from the same per-iteration record.

`progress.jsonl` holds one JSON object per iteration (and one per evaluation, with "event": "eval").
Beside the per-iteration `charts/samples_per_second`, `charts/jumps_per_hour` is the run's jumps tried
(`attempts`, see attempts.py) per hour of training so far: one iteration holds only a handful of them.
On resume, lines past the checkpoint are dropped so the file always describes one timeline.
"""
from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

from backflip_addon.core.files import atomic_write_text, write_atomic

log = logging.getLogger(__name__)

PROGRESS_NAME = "progress.jsonl"
CURVE_NAME = "learning_curve.png"


def truncate_progress(run_dir: Path, samples: int) -> None:
    """Keep only records at or before `samples` (the checkpoint a resumed run continues from)."""
    path = run_dir / PROGRESS_NAME
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if record.get("samples", 0) <= samples:
            kept.append(line)
    atomic_write_text(path, "".join(k + "\n" for k in kept))


def read_progress(run_dir: Path) -> list[dict]:
    path = run_dir / PROGRESS_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class Progress:
    """Writes each record to the bar, the JSON-lines file and TensorBoard."""

    def __init__(self, run_dir: Path, total_samples: int, start_samples: int, show_bar: bool = True) -> None:
        self.run_dir = run_dir
        self._file = open(run_dir / PROGRESS_NAME, "a", encoding="utf-8")
        self._writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed session wrote past the checkpoint we resume from.
            self._writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_samples or None)
        except ImportError as exc:  # tensorboard is pinned, but progress must not depend on it
            log.warning("TensorBoard disabled: %s", exc)
        self._bar = None
        if show_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total_samples, initial=start_samples, unit="sample", unit_scale=True,
                             dynamic_ncols=True, file=sys.stderr, smoothing=0.05)
        self._samples = start_samples
        self._postfix: dict[str, str] = {}

    def record(self, record: dict) -> None:
        """One iteration's record: counters plus `losses/…` and `charts/…` scalars."""
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in record.items():
                if "/" in key and isinstance(value, (int, float)) and value == value:
                    self._writer.add_scalar(key, value, record["samples"])
        if "charts/episode_return" in record:
            self._postfix["return"] = f"return {record['charts/episode_return']:.1f}"
        if "eval/normalised_return" in record:
            self._postfix["eval"] = f"eval {record['eval/normalised_return']:.2f} ({record['eval/label']})"
        if self._bar is not None:
            self._bar.update(record["samples"] - self._samples)
            if "charts/jumps_per_hour" in record:  # an iteration's record (not an evaluation's)
                self._postfix["speed"] = (f"{record['charts/samples_per_second']:,.0f} samples/s · jumps "
                                          f"{record['attempts']:,} ({record['charts/jumps_per_hour']:,.0f}/h)")
            text = " · ".join([f"it {record['iterations']}", *self._postfix.values()])
            self._bar.set_postfix_str(text, refresh=False)
        self._samples = record["samples"]

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()
        if self._bar is not None:
            self._bar.close()


def draw_learning_curve(run_dir: Path, stages: list, control_hz: float = 30.0, skill_kind: str = "backflip") -> None:
    """learning_curve.png vs samples: the evaluated normalised return, the training reward per step and
    episode length (how long the character stays up), with the kept stages marked (green: landed) and,
    for a backflip (`skill_kind`), DeepMimic's own return on it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_progress(run_dir)
    train = [r for r in records if r.get("event") != "eval" and "charts/episode_length" in r]
    evals = [r for r in records if r.get("event") == "eval"]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=90)
    if train:
        x = [r["samples"] / 1e6 for r in train]
        ax.plot(x, [r["charts/reward_per_step"] for r in train], color="#1f77b4", lw=1, alpha=0.7,
                label="training: mean reward per step")
        seconds = ax.twinx()
        seconds.plot(x, [r["charts/episode_length"] / control_hz for r in train], color="#9467bd", lw=1, alpha=0.6)
        seconds.set_ylabel("training episode length (s)", color="#9467bd", fontsize=8)
        seconds.set_ylim(bottom=0)
    if evals:
        ax.plot([r["samples"] / 1e6 for r in evals], [r["eval/normalised_return"] for r in evals], "o-",
                color="#ff7f0e", ms=3, label="check from clip start: median normalised return")
    for s in stages:
        ax.axvline(s.samples / 1e6, color="#2ca02c" if s.landed else "#999999", lw=0.6, ls=":")
    if skill_kind == "backflip":  # the paper's figure is for its backflip; other clips are not comparable
        ax.axhline(0.729, color="#d62728", lw=0.8, ls="--", label="DeepMimic backflip 0.729")
    ax.set_xlabel("samples (millions)")
    ax.set_ylabel("normalised return")
    ax.set_ylim(0, 1)
    if train and "charts/jumps_per_hour" in train[-1]:
        last = train[-1]
        ax.set_title(f"{last['samples'] / max(last['wall_seconds'], 1e-9):,.0f} samples/s · "
                     f"{last['charts/jumps_per_hour']:,.0f} jumps tried per hour ({last['attempts']:,} in "
                     f"{last['wall_seconds'] / 60:.0f} min)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(run_dir / CURVE_NAME, buffer.getvalue())
