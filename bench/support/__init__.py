"""Harnesses that benches and tests share and the shipped trainer never runs: the pybullet DeepMimic peer
and the synthetic-footage renderer."""
