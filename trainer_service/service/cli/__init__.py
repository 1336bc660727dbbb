"""Command-line parity with the HTTP API: `python -m trainer_service jobs|references|trainings|rollouts ...`
talk to the service running for a state folder (and `jobs list|show|log` read the folder when none runs)."""
