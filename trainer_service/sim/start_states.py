"""Where training episodes start: reference state initialisation (RSI), drawn partly towards the phases the
policy still fails from.

DeepMimic's RSI starts an episode at a uniformly random time of the clip, so a flip's take-off and landing
are practised before the policy can reach them from the start. Uniform starts spend most episodes on what
is already learnt, though: a backflip clip stands still for a third of its length. SFV (Peng et al. 2018)
made the start distribution adaptive for references extracted from video; this is a simple form of it.
The RSI range is cut into bins; each bin keeps a running failure rate (an episode started there that ends
by failure within `horizon` seconds); a share of the starts is drawn in proportion to those rates, the
rest uniformly, so no phase is ever left out.
"""
from __future__ import annotations

import math

import numpy as np

BIN_SECONDS = 0.1
"""width of a start bin (s): three control steps, finer than any phase of a skill"""
RATE = 0.05
"""weight of the newest outcome in a bin's running failure rate (about the last 20 starts there)"""
FLOOR = 0.02
"""smallest failure rate a bin is drawn with: a bin that has stopped failing still comes up now and then"""


class StartSampler:
    """Start rows for RSI over `rows` reference rows of `dt` seconds; `adaptive` is the share of starts
    drawn by failure rate (0: DeepMimic's uniform RSI)."""

    def __init__(self, rows: int, dt: float, adaptive: float, horizon: float) -> None:
        self.rows = max(1, rows)
        self.adaptive = adaptive
        self.horizon = horizon
        self.rows_per_bin = max(1, int(round(BIN_SECONDS / dt)))
        self.failure = np.full(math.ceil(self.rows / self.rows_per_bin), 0.5)
        """running failure rate per bin; unknown bins start at even odds"""

    def draw(self, rng: np.random.Generator) -> int:
        """A start row in [0, rows)."""
        if self.adaptive <= 0.0 or rng.random() >= self.adaptive:
            return int(rng.integers(0, self.rows))
        weights = np.maximum(self.failure, FLOOR)
        first = int(rng.choice(len(weights), p=weights / weights.sum())) * self.rows_per_bin
        return int(rng.integers(first, min(first + self.rows_per_bin, self.rows)))

    def record(self, start_row: int, failed: bool) -> None:
        """The outcome of an episode started at `start_row`: it failed within `horizon` seconds, or it did not."""
        b = min(start_row // self.rows_per_bin, len(self.failure) - 1)
        self.failure[b] += RATE * (float(failed) - self.failure[b])
