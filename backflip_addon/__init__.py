"""Backflip: learn a backflip from video, replay its learning stages in your set.

Only `register`/`unregister` live here. bpy modules are imported inside them so that the trainer
(another Python, no bpy) can import `backflip_addon.core` through this package.
"""


def register() -> None:
    from . import classes, properties

    classes.register()
    properties.register()


def unregister() -> None:
    from . import classes, properties

    properties.unregister()
    classes.unregister()
