"""Our reward and observation against pybullet's DeepMimic port on the same simulated states.

The peer (run in-process) drives its character with noisy reference targets; before each of its
steps we copy its character's state into our env and compare our numbers with what it computes.
Three of the peer's own defects are kept out of the comparison, and counted:
- it reads its kinematic twin's joint velocities, which pybullet leaves at zero, so its velocity
  term compares against zero: our reference velocities are zeroed here to match;
- its root-rotation error takes the long way round when the two root quaternions lie in opposite
  hemispheres (angle > pi);
- right after a reset its twin's root still sits where it was, and on a keyframe boundary its
  accumulated float time can fall into the previous keyframe interval.
"""
from __future__ import annotations

import numpy as np

from backflip_addon.core.clip import load_clip
from trainer_service.sim.env import ImitationEnv
from trainer_service.sim.config import RewardConfig, SimConfig
from trainer_service.sim.fastmath import multiply_rows, rotvec_rows
from trainer_service.sim.observation import observe
from bench.support.peer import PeerEnv, peer_action
from trainer_service.sim.rewards import reward_terms

JOINTS = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13]


def _peer_state(peer: PeerEnv):
    c, m = peer.client, peer.humanoid._sim_model
    pos, orn = c.getBasePositionAndOrientation(m)
    lin, ang = c.getBaseVelocity(m)
    joints = c.getJointStatesMultiDof(m, JOINTS)
    return pos, orn, lin, ang, [list(j[0]) for j in joints], [list(j[1]) for j in joints]


def _peer_root_takes_long_way(peer: PeerEnv) -> bool:
    c, h = peer.client, peer.humanoid
    sim = c.getBasePositionAndOrientation(h._sim_model)[1]
    kin = c.getBasePositionAndOrientation(h._kin_model)[1]
    return h.quatMul(kin, [-sim[0], -sim[1], -sim[2], sim[3]])[3] < 0.0


def test_reward_and_observation_match_peer(unit_backflip_path) -> None:
    clip = load_clip(unit_backflip_path)
    env = ImitationEnv(clip, SimConfig(reward=RewardConfig.pybullet_deepmimic()))
    env.reference.joint_vel[:] = 0.0
    env.reference.joint_ang_vel[:] = 0.0
    keyframe = clip.frames[0, 0]
    peer = PeerEnv(240, motion_file=unit_backflip_path, rsi=False)
    peer.reset()
    rng = np.random.default_rng(0)
    compared, skipped, worst_reward, worst_obs = 0, 0, 0.0, 0.0
    for k in range(45):
        state = _peer_state(peer)
        t = peer.env.t
        long_way = _peer_root_takes_long_way(peer)
        peer_obs = np.array(peer.env.record_state(-1))
        sph, rev = peer.reference_targets()
        target = multiply_rows(np.array(sph)[:, [3, 0, 1, 2]], rotvec_rows(rng.normal(0.0, 0.1, (8, 3))))
        _, peer_reward, done = peer.step(peer_action(target[:, [1, 2, 3, 0]], np.array(rev) + rng.normal(0.0, 0.1, 4)))

        env._char.set_state(*state)
        sim = env._char.read()
        row = int(round(t / env.reference.dt))
        worst_obs = max(worst_obs, float(np.abs(observe(sim, env.reference.phase(row)) - peer_obs).max()))
        on_boundary = abs(t / keyframe - round(t / keyframe)) < 1e-6
        if k == 0 or long_way or on_boundary:
            skipped += 1
        else:
            ours = reward_terms(sim, env.reference, row, env.config.reward).reward
            worst_reward = max(worst_reward, abs(ours - peer_reward))
            compared += 1
        if done:
            break
    env.close()
    peer.client.disconnect()
    assert compared >= 25 and skipped <= compared // 2, (compared, skipped)
    assert worst_reward < 1e-3
    assert worst_obs < 1e-4
