"""The DeepMimic humanoid in a pybullet world: loading, stable PD, state reads and writes.

Link i of the URDF (loaded with URDF_MAINTAIN_LINK_ORDER and globalScaling 0.25) is body i of
`core.skeleton.humanoid3d()`. Gains and torque limits are DeepMimic's humanoid3d controller as
shipped in pybullet_envs/deep_mimic (humanoid_stable_pd.py `_kpOrg`/`_kdOrg`, and the maxForces
list in pybullet_deep_mimic_env.py). pybullet quaternions are (x, y, z, w); conversion happens here.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np

# ACTION_SIZE is re-exported: the simulator's users take the action layout from here.
from backflip_addon.core.skeleton import (ACTION_SIZE, END_EFFECTORS, FEET, IS_BALL, JOINT_LINKS, JOINTS, URDF_SCALE,
                                          humanoid3d)

URDF_PATH = "humanoid/humanoid.urdf"
NUM_LINKS = 15

# Controlled joints in clip order: see core.skeleton.JOINTS (ball joints take 3 PD numbers, hinges 1).
SPHERICAL = IS_BALL
# DeepMimic humanoid3d PD gains (N*m/rad, N*m*s/rad) and torque limits (N*m), per joint.
KP = (1000.0, 100.0, 500.0, 500.0, 400.0, 400.0, 300.0, 500.0, 500.0, 400.0, 400.0, 300.0)
KD = (100.0, 10.0, 50.0, 50.0, 40.0, 40.0, 30.0, 50.0, 50.0, 40.0, 40.0, 30.0)
MAX_FORCE = (200.0, 50.0, 200.0, 150.0, 90.0, 100.0, 60.0, 200.0, 150.0, 90.0, 100.0, 60.0)
FRICTION = 0.9
END_EFFECTOR_LINKS = tuple(humanoid3d().index(n) for n in END_EFFECTORS)
FOOT_LINKS = frozenset(humanoid3d().index(n) for n in FEET)
LINK_NAMES = tuple(humanoid3d().names)
LINK_MASSES = np.array([b.mass for b in humanoid3d().bodies])


@contextlib.contextmanager
def quiet_stdout():
    """Silence pybullet's C-level chatter (URDF warnings, 'argv[0]=') so CLIs keep a clean stdout."""
    try:
        fd = os.dup(1)
    except OSError:  # no stdout to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


@dataclass
class BodyState:
    """One read of the simulated character; quaternions (w, x, y, z) like the rest of the project."""

    root_pos: np.ndarray  # (3,)
    root_rot: np.ndarray  # (4,) wxyz
    root_vel: np.ndarray  # (3,)
    root_ang_vel: np.ndarray  # (3,)
    link_pos: np.ndarray  # (15, 3) centre of mass of each link
    link_rot: np.ndarray  # (15, 4) wxyz, orientation of each link
    link_vel: np.ndarray  # (15, 3)
    link_ang_vel: np.ndarray  # (15, 3)
    joint_rot: np.ndarray  # (8, 4) wxyz, spherical joints in clip order
    joint_angle: np.ndarray  # (4,) revolute joints in clip order
    joint_vel: np.ndarray  # (8, 3) spherical joint velocities (joint frame)
    joint_ang_vel: np.ndarray  # (4,) revolute joint velocities


class Character:
    """The humanoid body in one pybullet client, with array-based control and reads."""

    def __init__(self, client, self_collision: bool = True) -> None:
        import pybullet
        import pybullet_data

        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        flags = client.URDF_MAINTAIN_LINK_ORDER
        if self_collision:
            flags |= client.URDF_USE_SELF_COLLISION | client.URDF_USE_SELF_COLLISION_EXCLUDE_ALL_PARENTS
        with quiet_stdout():
            self.body = client.loadURDF(URDF_PATH, [0.0, 1.0, 0.0], globalScaling=URDF_SCALE, flags=flags)
        for link in range(-1, NUM_LINKS):
            client.changeDynamics(self.body, link, lateralFriction=FRICTION)
        client.changeDynamics(self.body, -1, linearDamping=0.0, angularDamping=0.0)
        for j in JOINTS:
            # Switch off pybullet's default velocity motors so only our PD torques act.
            link, n = j.link, j.action_size
            client.setJointMotorControlMultiDof(
                self.body, link, client.POSITION_CONTROL, targetPosition=[0, 0, 0, 1] if n == 3 else [0],
                targetVelocity=[0.0] * n, positionGain=0, velocityGain=1, force=[0.0] * n,
            )
        self._links = list(range(NUM_LINKS))
        self._joints = list(JOINT_LINKS)
        self._kp = list(KP)
        self._kd = list(KD)
        self._forces = [[f] * j.action_size for f, j in zip(MAX_FORCE, JOINTS)]
        self._zero_vel = [[0.0] * j.action_size for j in JOINTS]
        # Calls go to the pybullet module directly: BulletClient wraps every call in a partial.
        self._pb = pybullet
        self._cid = client._client
        self._targets = [[0.0, 0.0, 0.0, 1.0] if j.ball else [0.0] for j in JOINTS]

    def set_pd_targets(self, targets: list[list[float]]) -> None:
        """Hold per-joint PD targets ([x, y, z, w] / [angle]) for the following `step` calls.

        `targets` must be lists: pybullet 3.2.7 crashes on tuples there.
        """
        self._targets = targets

    def step(self, substeps: int) -> None:
        """Advance the physics `substeps` steps under stable PD towards the held targets.

        pybullet computes the stable-PD torques when the command arrives and drops them after one
        physics step, so the command is re-sent before every step (as DeepMimic's port does).
        """
        pb, body, cid, joints, targets = self._pb, self.body, self._cid, self._joints, self._targets
        mode, velocities, forces, kp, kd = pb.STABLE_PD_CONTROL, self._zero_vel, self._forces, self._kp, self._kd
        control, step = pb.setJointMotorControlMultiDofArray, pb.stepSimulation
        for _ in range(substeps):
            control(body, joints, mode, targetPositions=targets, targetVelocities=velocities, forces=forces,
                    positionGains=kp, velocityGains=kd, physicsClientId=cid)
            step(physicsClientId=cid)

    def set_state(self, root_pos, root_rot_xyzw, root_vel, root_ang_vel, joint_positions, joint_velocities) -> None:
        """Teleport the character (root quaternion must be unit length: pybullet does not normalise it)."""
        pb, body, cid = self._pb, self.body, self._cid
        pb.resetBasePositionAndOrientation(body, list(root_pos), list(root_rot_xyzw), physicsClientId=cid)
        pb.resetBaseVelocity(body, list(root_vel), list(root_ang_vel), physicsClientId=cid)
        pb.resetJointStatesMultiDof(body, self._joints, joint_positions, joint_velocities, physicsClientId=cid)

    def read(self) -> BodyState:
        pb, body, cid = self._pb, self.body, self._cid
        links = pb.getLinkStates(body, self._links, 1, 1, physicsClientId=cid)
        # Reorder each quaternion to (w, x, y, z) while flattening the tuples.
        link = np.array([s[0] + s[1][3:] + s[1][:3] + s[6] + s[7] for s in links])
        base_pos, base_rot = pb.getBasePositionAndOrientation(body, physicsClientId=cid)
        base_vel, base_ang = pb.getBaseVelocity(body, physicsClientId=cid)
        joints = pb.getJointStatesMultiDof(body, self._joints, physicsClientId=cid)
        sph = np.array([joints[i][0][3:] + joints[i][0][:3] + joints[i][1] for i in _SPH_INDEX])
        rev = np.array([joints[i][0] + joints[i][1] for i in _REV_INDEX])
        return BodyState(
            root_pos=np.array(base_pos), root_rot=np.array(base_rot[3:] + base_rot[:3]), root_vel=np.array(base_vel),
            root_ang_vel=np.array(base_ang), link_pos=link[:, 0:3], link_rot=link[:, 3:7],
            link_vel=link[:, 7:10], link_ang_vel=link[:, 10:13], joint_rot=sph[:, 0:4], joint_angle=rev[:, 0],
            joint_vel=sph[:, 4:7], joint_ang_vel=rev[:, 1],
        )

    def contacts(self) -> list[tuple[int, int]]:
        """(link index of ours, other body id) for every contact with something else than ourselves."""
        body = self.body
        return [(c[3], c[2]) for c in self._pb.getContactPoints(bodyA=body, physicsClientId=self._cid) if c[2] != body]


_SPH_INDEX = tuple(i for i, j in enumerate(JOINTS) if j.ball)
_REV_INDEX = tuple(i for i, j in enumerate(JOINTS) if not j.ball)
