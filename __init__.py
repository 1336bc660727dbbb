# Extension root shim: Blender loads this package; the add-on itself lives in backflip_addon/.
from .backflip_addon import register, unregister  # noqa: F401
