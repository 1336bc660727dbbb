"""The trainer service: jobs (extract, import, train, rollout) in SQLite plus one folder each, run by worker
processes and served over an authenticated HTTP API (see app.py for the routes, workers.py for the jobs)."""
