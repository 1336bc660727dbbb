"""Benchmark result lines: printed and appended to a JSONL file under bench/results/ as each is measured,
so a later case that crashes or is stopped keeps the earlier ones."""
from __future__ import annotations

import json
from pathlib import Path


def emit(line: dict, results: Path | None) -> None:
    """Print `line` as JSON and append it to `results` (None: print only)."""
    text = json.dumps(line)
    print(text, flush=True)
    if results is None:
        return
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
