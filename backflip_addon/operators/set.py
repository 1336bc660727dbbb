"""Set operators: projectors from photos, projected props, colliders, follow camera, bake to UVs.

Each operator validates, calls one function of blender/, and reports; BackflipErrors become an
error report and CANCELLED.
"""
from __future__ import annotations

import bpy
from bpy_extras.io_utils import ImportHelper

from ..properties_set import COLLIDER_SHAPES
from .report import run_reporting as _run

_PROXY_SHAPES = (
    ("PLANE", "Plane", "A 4-vertex plane at the 3D cursor"),
    ("BOX", "Box", "An 8-vertex box at the 3D cursor"),
    ("SELECTED", "Selected Mesh", "The active mesh object"),
)


def _projector(context: bpy.types.Context) -> bpy.types.Object | None:
    """The active object if it is a projector, else the scene camera if that is one."""
    from ..blender.projection import PHOTO_KEY

    for obj in (context.active_object, context.scene.camera):
        if obj is not None and obj.type == "CAMERA" and obj.get(PHOTO_KEY) is not None:
            return obj
    return None


class BACKFLIP_OT_projector_from_photo(bpy.types.Operator, ImportHelper):
    """Add a camera matching a photo (aspect, sensor fit, lens) that projects it onto props"""

    bl_idname = "backflip.projector_from_photo"
    bl_label = "Projector from Photo"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.png;*.jpg;*.jpeg;*.tif;*.tiff;*.exr;*.webp", options={"HIDDEN"})
    lens: bpy.props.FloatProperty(name="Focal Length", description="35 mm equivalent (mm)", default=35.0, min=1.0)
    sensor_size: bpy.props.FloatProperty(
        name="Sensor Size", description="Sensor size along the photo's longer side (mm)", default=36.0, min=1.0
    )
    match_render: bpy.props.BoolProperty(
        name="Match Render Size", description="Set the scene resolution to the photo's (off: the shot keeps its size)", default=False
    )
    standard_view: bpy.props.BoolProperty(
        name="Standard View", description="Use the Standard view transform so photos keep their colours", default=True
    )
    background_distance: bpy.props.FloatProperty(
        name="Background Plane", description="Add a plane filling the view at this distance (m, 0 = none)",
        default=0.0, min=0.0, unit="LENGTH",
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import projection

        def action() -> str:
            image = projection.load_photo(self.filepath)
            camera = projection.projector_from_photo(
                context, image, lens=self.lens, sensor_size=self.sensor_size, match_render=self.match_render
            )
            if self.standard_view:
                projection.use_standard_view(context.scene)
            if self.background_distance > 0.0:
                projection.add_background_plane(context, camera, self.background_distance)
            context.scene.camera = context.scene.camera or camera
            _select_only(context, camera)
            return f"Projector {camera.name}: {image.size[0]}x{image.size[1]} photo"

        return _run(self, action)


class BACKFLIP_OT_add_projected_prop(bpy.types.Operator):
    """Add proxy geometry (or use the selected mesh) textured by the active projector's photo"""

    bl_idname = "backflip.add_projected_prop"
    bl_label = "Add Projected Prop"
    bl_options = {"REGISTER", "UNDO"}

    shape: bpy.props.EnumProperty(name="Shape", items=_PROXY_SHAPES, default="PLANE")
    size: bpy.props.FloatProperty(name="Size", description="Edge length of a new proxy (m)", default=1.0, min=0.01, unit="LENGTH")
    unlit: bpy.props.BoolProperty(name="Unlit", description="Show the photo as emission (it holds its own lighting)", default=True)
    sharpness: bpy.props.FloatProperty(
        name="Blend Sharpness", description="How strongly the projector facing a surface most wins (exponent)",
        default=4.0, min=0.0, soft_max=16.0,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _projector(context) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import projection

        camera = _projector(context)
        target = context.active_object if self.shape == "SELECTED" else None

        def action() -> str:
            obj = projection.add_projected_prop(
                context, camera, self.shape, target=target, size=self.size, unlit=self.unlit, sharpness=self.sharpness
            )
            _select_only(context, obj)
            return f"{obj.name} projected from {camera.name}"

        return _run(self, action)


class BACKFLIP_OT_add_projector_to_prop(bpy.types.Operator):
    """Blend the scene camera's projection into the selected props too (weighted by facing angle)"""

    bl_idname = "backflip.add_projector_to_prop"
    bl_label = "Add Projector to Props"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _projector(context) is not None and any(o.type == "MESH" for o in context.selected_objects)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import projection

        camera = _projector(context)
        props = [o for o in context.selected_objects if o.type == "MESH"]

        def action() -> str:
            for obj in props:
                projection.add_projector_to_prop(obj, camera)
            return f"{camera.name} now projects onto {len(props)} prop(s)"

        return _run(self, action)


class BACKFLIP_OT_sync_projector(bpy.types.Operator):
    """Update the projection after changing the projector's lens, sensor or shift"""

    bl_idname = "backflip.sync_projector"
    bl_label = "Update Projection"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _projector(context) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import projection

        camera = _projector(context)
        return _run(self, lambda: projection.sync_projector(camera))


class BACKFLIP_OT_bake_projection_to_uvs(bpy.types.Operator):
    """Bake the active prop's projection into an image on its UVs (for export)"""

    bl_idname = "backflip.bake_projection_to_uvs"
    bl_label = "Bake Projection to UVs"
    bl_options = {"REGISTER", "UNDO"}

    resolution: bpy.props.IntProperty(name="Resolution", description="Baked image size (px)", default=1024, min=16, max=8192)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "MESH" and bool(obj.active_material)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import bake

        obj = context.active_object

        def action() -> str:
            image = bake.bake_to_uvs(context, obj, self.resolution)
            return f"Baked {obj.name} into {image.name}"

        return _run(self, action)


class BACKFLIP_OT_mark_collider(bpy.types.Operator):
    """Mark the selected objects as colliders for the simulator's rollouts"""

    bl_idname = "backflip.mark_collider"
    bl_label = "Mark as Collider"
    bl_options = {"REGISTER", "UNDO"}

    shape: bpy.props.EnumProperty(
        name="Shape",
        items=COLLIDER_SHAPES,
        default="BOX",
    )
    friction: bpy.props.FloatProperty(name="Friction", default=0.9, min=0.0, soft_max=2.0)
    soft: bpy.props.BoolProperty(name="Soft", description="A springy surface (a mattress)", default=False)
    stiffness: bpy.props.FloatProperty(name="Stiffness", description="N/m, soft only", default=3000.0, min=1.0)
    damping: bpy.props.FloatProperty(name="Damping", description="N*s/m, soft only", default=300.0, min=0.0)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return bool(context.selected_objects)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import colliders

        objects = list(context.selected_objects)

        def action() -> str:
            for obj in objects:
                colliders.mark_collider(
                    obj, self.shape, friction=self.friction, soft=self.soft, stiffness=self.stiffness, damping=self.damping
                )
            return f"{len(objects)} collider(s) marked"

        return _run(self, action)


class BACKFLIP_OT_clear_collider(bpy.types.Operator):
    """The selected objects no longer collide in rollouts"""

    bl_idname = "backflip.clear_collider"
    bl_label = "Clear Collider"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        for obj in context.selected_objects:
            obj.backflip.collider.enabled = False
        return {"FINISHED"}


class BACKFLIP_OT_add_follow_camera(bpy.types.Operator):
    """Add a camera that follows the character's root with damping and optional hand-held wobble"""

    bl_idname = "backflip.add_follow_camera"
    bl_label = "Add Follow Camera"
    bl_options = {"REGISTER", "UNDO"}

    offset: bpy.props.FloatVectorProperty(name="Offset", default=(0.0, -6.0, 0.6), subtype="TRANSLATION", unit="LENGTH")
    damping: bpy.props.FloatProperty(name="Damping", description="Lag behind the root (s)", default=0.4, min=0.0, soft_max=3.0)
    shake: bpy.props.FloatProperty(name="Hand-held", description="Wobble amplitude (degrees)", default=0.0, min=0.0, soft_max=5.0)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _character(context) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import follow_camera

        target = _character(context)

        def action() -> str:
            camera = follow_camera.add_follow_camera(
                context, target, offset=tuple(self.offset), damping=self.damping, shake=self.shake, seed=self.seed
            )
            return f"{camera.name} follows {target.name} (frames {context.scene.frame_start}-{context.scene.frame_end})"

        return _run(self, action)


class BACKFLIP_OT_rekey_follow_camera(bpy.types.Operator):
    """Re-key the active follow camera from its settings (after the character's motion changed)"""

    bl_idname = "backflip.rekey_follow_camera"
    bl_label = "Re-key Follow Camera"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "CAMERA" and obj.backflip.follow.target is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender import follow_camera

        camera = context.active_object

        def action() -> str:
            follow_camera.key_follow(context.scene, camera)
            return f"Re-keyed {camera.name}"

        return _run(self, action)


def _character(context: bpy.types.Context) -> bpy.types.Object | None:
    """The scene's Backflip character, else the active armature."""
    settings = getattr(context.scene, "backflip", None)
    armature = settings.reference.armature if settings is not None else None
    if armature is None and context.active_object is not None and context.active_object.type == "ARMATURE":
        armature = context.active_object
    return armature


def _select_only(context: bpy.types.Context, obj: bpy.types.Object) -> None:
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


CLASSES = (
    BACKFLIP_OT_projector_from_photo,
    BACKFLIP_OT_add_projected_prop,
    BACKFLIP_OT_add_projector_to_prop,
    BACKFLIP_OT_sync_projector,
    BACKFLIP_OT_bake_projection_to_uvs,
    BACKFLIP_OT_mark_collider,
    BACKFLIP_OT_clear_collider,
    BACKFLIP_OT_add_follow_camera,
    BACKFLIP_OT_rekey_follow_camera,
)
