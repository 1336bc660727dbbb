"""Backflip: learn a backflip from video, replay its learning stages in your set.

Only `register`/`unregister` live here. bpy modules are imported inside them so that the trainer
(another Python, no bpy) can import `backflip_addon.core` through this package.
"""


def register() -> None:
    from . import classes, polling, properties

    classes.register()
    properties.register()
    polling.register()


def unregister() -> None:
    from . import classes, polling, properties, service_link
    from .operators import service
    from .ui import previews

    polling.unregister()
    service.unregister()
    previews.clear()
    service_link.forget()
    properties.unregister()
    classes.unregister()
