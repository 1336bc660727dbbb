"""PPO training with learning stages: see README.md in this folder."""
