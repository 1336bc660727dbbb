"""The imitation simulator: the DeepMimic humanoid in pybullet, reference tables, rewards, vectorised envs."""
