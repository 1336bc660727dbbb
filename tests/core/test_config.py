"""Configs from plain data: nested, round-trippable through JSON, unknown keys rejected at every level."""
from __future__ import annotations

import dataclasses
import json

import pytest

from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError


@dataclasses.dataclass
class Inner:
    rate: float = 1.0
    size: tuple[int, int] = (2, 3)


@dataclasses.dataclass
class Outer:
    name: str = "x"
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_roundtrip_through_json() -> None:
    config = Outer(name="run", inner=Inner(rate=0.5, size=(7, 8)))
    again = from_dict(Outer, json.loads(json.dumps(dataclasses.asdict(config))))
    assert again == config and isinstance(again.inner.size, tuple)


def test_partial_data_keeps_defaults() -> None:
    assert from_dict(Outer, {"inner": {"rate": 2.0}}) == Outer(inner=Inner(rate=2.0))


@pytest.mark.parametrize("data, message", [({"nmae": "y"}, "unknown Outer key(s): nmae"), ({"inner": {"rte": 1}}, "unknown Inner key(s): rte"), ({"inner": 3}, "Inner expects a mapping")])
def test_bad_data_is_named(data, message) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_dict(Outer, data)


def test_a_partial_nested_dict_keeps_the_other_values_of_the_fields_default():
    from trainer_service.rl.config import TrainConfig

    config = from_dict(TrainConfig, {"sim": {"episode_seconds": 2.0}, "ppo": {"num_steps": 32}})
    assert config.sim.episode_seconds == 2.0 and config.ppo.num_steps == 32
    assert config.sim.target_obs, "training's own simulator default survives a partial override"
    assert config.ppo.hidden_sizes == (1024, 512)
