"""Backflip Blender extension."""
