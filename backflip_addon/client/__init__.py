"""The Blender-side client of the trainer service: standard library only (no bpy), so tests use it anywhere.

http.py: ServiceClient, one method per API action; service.py: start, find and stop the service process;
jobs.py: poll_step, the plain function Blender's timers call.
"""
