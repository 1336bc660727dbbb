"""Camera projection mapping: photos projected from cameras onto rough proxy geometry.

The projection is computed per shading point in the material (exact on any geometry), not per
vertex like the UV Project modifier. A projector is a camera plus a photo; each projector gets one
node group, shared by every prop it lights:

    p = point in the projector camera's space (Texture Coordinate -> Object = camera)
    u = ou + su * p.x / -p.z,  v = ov + sv * p.y / -p.z     (see `projection_coefficients`)

A prop's material blends all its projectors, weighting each by how squarely the surface faces it
(facing^sharpness), so a box lit from the front and from the side takes each face from the better
projector. Points outside every projector's frustum get the prop's fallback colour.
"""
from __future__ import annotations

import logging
from pathlib import Path

import bpy
from mathutils import Matrix, Vector

from ..core.errors import InvalidInputError, NotFoundError
from ..core.projection import Coefficients, projection_coefficients
from .compat import new_node_material

log = logging.getLogger(__name__)

GROUP_PREFIX = "BF Projector "
PHOTO_KEY = "backflip_photo"  # custom property on a projector camera object: its Image
GROUP_KEY = "backflip_projector_group"  # custom property on a projector camera object: its node group
PROP_KEY = "backflip_projected"  # custom property on a prop object: marks its material as ours
FALLBACK_COLOR = (0.18, 0.18, 0.18, 1.0)
_EPS = 1e-6
_FACING_FLOOR = 1e-4  # weight of a projector that sees the surface edge-on


def camera_coefficients(camera: bpy.types.Object, image: bpy.types.Image) -> Coefficients:
    data = camera.data
    if data.type != "PERSP":
        raise InvalidInputError(f"Projector {camera.name} is not a perspective camera", hint="Set its type to Perspective")
    width, height = image.size
    return projection_coefficients(
        data.lens, data.sensor_width, data.sensor_height, data.sensor_fit, data.shift_x, data.shift_y, width, height
    )


# ---------------------------------------------------------------------------------------------
# Projector cameras


def load_photo(path: str) -> bpy.types.Image:
    if not Path(bpy.path.abspath(path)).is_file():
        raise NotFoundError(f"Photo not found: {path}", hint="Pick an existing image file")
    image = bpy.data.images.load(bpy.path.abspath(path), check_existing=True)
    if image.size[0] == 0 or image.size[1] == 0:
        raise InvalidInputError(f"Could not read the photo {path}", hint="Use a PNG or JPEG image")
    return image


def projector_from_photo(
    context: bpy.types.Context,
    image: bpy.types.Image,
    *,
    lens: float = 35.0,
    sensor_size: float = 36.0,
    name: str | None = None,
    match_render: bool = True,
) -> bpy.types.Object:
    """A camera whose aspect, sensor fit and lens match `image`, at the scene's 3D cursor.

    The photo's longer side spans `sensor_size` mm (lens and sensor as a 35 mm equivalent). With
    `match_render` the scene's resolution is set to the photo's so the projector's view is the photo.
    """
    width, height = image.size
    data = bpy.data.cameras.new(name or f"Projector {image.name}")
    data.lens = lens
    data.sensor_fit = "HORIZONTAL" if width >= height else "VERTICAL"
    data.sensor_width = sensor_size
    data.sensor_height = sensor_size
    background = data.background_images.new()
    background.image = image
    data.show_background_images = True
    camera = bpy.data.objects.new(data.name, data)
    camera.location = context.scene.cursor.location
    context.collection.objects.link(camera)
    camera[PHOTO_KEY] = image
    if match_render:
        render = context.scene.render
        render.resolution_x, render.resolution_y = width, height
        render.resolution_percentage = 100
        render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    ensure_projector_group(camera)
    log.info("Projector %s: %dx%d photo, %s fit, lens %.1f mm", camera.name, width, height, data.sensor_fit, lens)
    return camera


def projector_photo(camera: bpy.types.Object) -> bpy.types.Image:
    image = camera.get(PHOTO_KEY) if camera is not None else None
    if camera is None or camera.type != "CAMERA" or not isinstance(image, bpy.types.Image):
        name = camera.name if camera is not None else "None"
        raise InvalidInputError(f"{name} is not a projector", hint="Make one with 'Projector from Photo'")
    return image


def frustum_plane_size(camera: bpy.types.Object, image: bpy.types.Image, distance: float) -> tuple[float, float, Vector]:
    """Width, height and centre (camera space) of the rectangle the photo covers at `distance`."""
    c = camera_coefficients(camera, image)
    # Invert u = ou + su * x / d at u = 0 and u = 1.
    width, height = distance / c.su, distance / c.sv
    centre = Vector(((0.5 - c.ou) * width, (0.5 - c.ov) * height, -distance))
    return width, height, centre


# ---------------------------------------------------------------------------------------------
# Shader node groups


def _math(tree, op: str, a, b=None, c=None, label: str = ""):
    node = tree.nodes.new("ShaderNodeMath")
    node.operation = op
    node.label = label
    for i, value in enumerate((a, b, c)):
        if value is None:
            continue
        if isinstance(value, bpy.types.NodeSocket):
            tree.links.new(value, node.inputs[i])
        else:
            node.inputs[i].default_value = value
    return node.outputs[0]


def _value(tree, name: str, value: float):
    node = tree.nodes.new("ShaderNodeValue")
    node.name = node.label = name
    node.outputs[0].default_value = value
    return node.outputs[0]


def ensure_projector_group(camera: bpy.types.Object) -> bpy.types.ShaderNodeTree:
    """The node group projecting `camera`'s photo; built once, refreshed by `sync_projector`.

    Outputs: Color (the photo at this point), Alpha (photo alpha x inside the frustum) and Facing
    (cosine between the surface normal and the direction to the projector, clamped at 0).
    """
    image = projector_photo(camera)
    tree = camera.get(GROUP_KEY)
    if not isinstance(tree, bpy.types.ShaderNodeTree):
        tree = bpy.data.node_groups.new(GROUP_PREFIX + camera.name, "ShaderNodeTree")
        _build_projector_group(tree, camera, image)
        camera[GROUP_KEY] = tree  # by reference, so renaming the camera keeps its group
    sync_projector(camera)
    return tree  # pyright: ignore[reportReturnType]  # node_groups.new(..., "ShaderNodeTree") makes one


def _build_projector_group(tree, camera: bpy.types.Object, image: bpy.types.Image) -> None:
    tree.interface.new_socket("Color", in_out="OUTPUT", socket_type="NodeSocketColor")
    tree.interface.new_socket("Alpha", in_out="OUTPUT", socket_type="NodeSocketFloat")
    tree.interface.new_socket("Facing", in_out="OUTPUT", socket_type="NodeSocketFloat")
    out = tree.nodes.new("NodeGroupOutput")
    coords = tree.nodes.new("ShaderNodeTexCoord")
    coords.name = "Projector Space"
    coords.object = camera
    xyz = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(coords.outputs["Object"], xyz.inputs[0])
    depth = _math(tree, "MULTIPLY", xyz.outputs["Z"], -1.0, label="depth")
    su, sv = _value(tree, "su", 1.0), _value(tree, "sv", 1.0)
    ou, ov = _value(tree, "ou", 0.5), _value(tree, "ov", 0.5)
    u = _math(tree, "MULTIPLY_ADD", _math(tree, "DIVIDE", xyz.outputs["X"], depth), su, ou, label="u")
    v = _math(tree, "MULTIPLY_ADD", _math(tree, "DIVIDE", xyz.outputs["Y"], depth), sv, ov, label="v")
    uv = tree.nodes.new("ShaderNodeCombineXYZ")
    tree.links.new(u, uv.inputs[0])
    tree.links.new(v, uv.inputs[1])
    tex = tree.nodes.new("ShaderNodeTexImage")
    tex.name = "Photo"
    tex.image = image
    tex.extension = "CLIP"  # outside the photo: alpha 0, never a repeated tile
    tex.interpolation = "Linear"
    tree.links.new(uv.outputs[0], tex.inputs["Vector"])
    in_front = _math(tree, "GREATER_THAN", depth, _EPS, label="in front")
    tree.links.new(tex.outputs["Color"], out.inputs["Color"])
    tree.links.new(_math(tree, "MULTIPLY", tex.outputs["Alpha"], in_front), out.inputs["Alpha"])
    tree.links.new(_facing(tree, camera), out.inputs["Facing"])


def _facing(tree, camera: bpy.types.Object):
    """max(0, N . normalize(projector position - P)), the projector position driven from the camera."""
    geometry = tree.nodes.new("ShaderNodeNewGeometry")
    position = tree.nodes.new("ShaderNodeCombineXYZ")
    position.name = "Projector Position"
    for axis, socket in zip("XYZ", position.inputs):
        driver = socket.driver_add("default_value").driver
        driver.type = "AVERAGE"  # a plain variable read: no Python, works with auto-run off
        var = driver.variables.new()
        var.type = "TRANSFORMS"
        var.targets[0].id = camera
        var.targets[0].transform_type = f"LOC_{axis}"
        var.targets[0].transform_space = "WORLD_SPACE"
    to_camera = tree.nodes.new("ShaderNodeVectorMath")
    to_camera.operation = "SUBTRACT"
    tree.links.new(position.outputs[0], to_camera.inputs[0])
    tree.links.new(geometry.outputs["Position"], to_camera.inputs[1])
    direction = tree.nodes.new("ShaderNodeVectorMath")
    direction.operation = "NORMALIZE"
    tree.links.new(to_camera.outputs[0], direction.inputs[0])
    dot = tree.nodes.new("ShaderNodeVectorMath")
    dot.operation = "DOT_PRODUCT"
    tree.links.new(geometry.outputs["Normal"], dot.inputs[0])
    tree.links.new(direction.outputs[0], dot.inputs[1])
    return _math(tree, "MAXIMUM", dot.outputs["Value"], 0.0, label="facing")


def sync_projector(camera: bpy.types.Object) -> None:
    """Write the camera's current lens, sensor and shift into its node group (after edits)."""
    tree = camera.get(GROUP_KEY)
    if not isinstance(tree, bpy.types.ShaderNodeTree):
        return
    image = projector_photo(camera)
    c = camera_coefficients(camera, image)
    for key in ("su", "sv", "ou", "ov"):
        tree.nodes[key].outputs[0].default_value = getattr(c, key)
    tree.nodes["Photo"].image = image


# ---------------------------------------------------------------------------------------------
# Projected props


def prop_projectors(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """Projector cameras feeding `obj`'s projected material, in blend order."""
    material = obj.active_material
    if material is None or not material.get(PROP_KEY) or material.node_tree is None:
        return []
    groups = [n for n in material.node_tree.nodes if n.type == "GROUP" and n.node_tree is not None]
    groups.sort(key=lambda n: n.name)
    return [n.node_tree.nodes["Projector Space"].object for n in groups if "Projector Space" in n.node_tree.nodes]


def build_prop_material(
    obj: bpy.types.Object,
    projectors: list[bpy.types.Object],
    *,
    unlit: bool = True,
    sharpness: float = 4.0,
    fallback: tuple[float, float, float, float] = FALLBACK_COLOR,
) -> bpy.types.Material:
    """(Re)build `obj`'s material: the facing-weighted blend of `projectors`.

    color = sum(w_i * c_i) / sum(w_i) with w_i = alpha_i * (facing_i^sharpness + floor); a single
    projector therefore gives its photo unchanged wherever it reaches. `unlit` shows the photo as emission (the photo already
    holds its lighting); otherwise it is the base colour of a Principled BSDF.
    """
    if not projectors:
        raise InvalidInputError(f"No projector for {obj.name}", hint="Select a projector camera first")
    material = obj.active_material if obj.active_material and obj.active_material.get(PROP_KEY) else None
    if material is None:
        material = new_node_material(f"{obj.name} projected")
        material[PROP_KEY] = True
        if obj.data.materials:
            obj.data.materials[obj.active_material_index] = material  # pyright: ignore[reportCallIssue]  # stubs: str keys only
        else:
            obj.data.materials.append(material)
    material["unlit"] = unlit
    material["sharpness"] = sharpness
    tree = material.node_tree
    tree.nodes.clear()
    weighted_sum, weight_sum = None, None
    for index, camera in enumerate(projectors):
        group = tree.nodes.new("ShaderNodeGroup")
        group.node_tree = ensure_projector_group(camera)
        group.name = f"Projector {index:02d}"
        # The floor keeps surfaces seen edge-on (or from behind) by every projector covered.
        facing = _math(tree, "ADD", _math(tree, "POWER", group.outputs["Facing"], sharpness), _FACING_FLOOR)
        weight = _math(tree, "MULTIPLY", group.outputs["Alpha"], facing)
        scaled = tree.nodes.new("ShaderNodeVectorMath")
        scaled.operation = "SCALE"
        tree.links.new(group.outputs["Color"], scaled.inputs[0])
        tree.links.new(weight, scaled.inputs["Scale"])
        weighted_sum = scaled.outputs[0] if weighted_sum is None else _vector_add(tree, weighted_sum, scaled.outputs[0])
        weight_sum = weight if weight_sum is None else _math(tree, "ADD", weight_sum, weight)
    inverse = _math(tree, "DIVIDE", 1.0, _math(tree, "MAXIMUM", weight_sum, _EPS))
    color = tree.nodes.new("ShaderNodeVectorMath")
    color.operation = "SCALE"
    tree.links.new(weighted_sum, color.inputs[0])
    tree.links.new(inverse, color.inputs["Scale"])
    covered = _math(tree, "GREATER_THAN", weight_sum, _FACING_FLOOR * 0.5, label="covered")
    mix = tree.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.inputs["A"].default_value = fallback
    tree.links.new(covered, mix.inputs["Factor"])
    tree.links.new(color.outputs[0], mix.inputs["B"])
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    if unlit:
        shader = tree.nodes.new("ShaderNodeEmission")
        shader.inputs["Strength"].default_value = 1.0
        tree.links.new(mix.outputs["Result"], shader.inputs["Color"])
    else:
        shader = tree.nodes.new("ShaderNodeBsdfPrincipled")
        tree.links.new(mix.outputs["Result"], shader.inputs["Base Color"])
    shader.name = "Shader"
    tree.links.new(shader.outputs[0], output.inputs["Surface"])
    return material


def _vector_add(tree, a, b):
    node = tree.nodes.new("ShaderNodeVectorMath")
    node.operation = "ADD"
    tree.links.new(a, node.inputs[0])
    tree.links.new(b, node.inputs[1])
    return node.outputs[0]


def add_projector_to_prop(obj: bpy.types.Object, camera: bpy.types.Object) -> bpy.types.Material:
    """Blend one more projector into a prop, keeping its unlit/sharpness settings."""
    projectors = prop_projectors(obj)
    if camera not in projectors:
        projectors.append(camera)
    material = obj.active_material
    kwargs = {}
    if material is not None and material.get(PROP_KEY):
        kwargs = {"unlit": bool(material["unlit"]), "sharpness": float(material["sharpness"])}
    return build_prop_material(obj, projectors, **kwargs)


def _mesh_object(context, name: str, verts, faces) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(v) for v in verts], [], faces)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    context.collection.objects.link(obj)
    return obj


def add_proxy(context: bpy.types.Context, shape: str, size: float = 1.0, name: str = "Prop") -> bpy.types.Object:
    """A 4-vertex plane (facing +Z) or an 8-vertex box of edge `size`, at the 3D cursor."""
    h = size / 2.0
    if shape == "PLANE":
        verts = [(-h, -h, 0), (h, -h, 0), (h, h, 0), (-h, h, 0)]
        faces = [(0, 1, 2, 3)]
    elif shape == "BOX":
        verts = [(x, y, z) for z in (-h, h) for y in (-h, h) for x in (-h, h)]
        faces = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    else:
        raise InvalidInputError(f"Unknown proxy shape {shape!r}", hint="Use PLANE or BOX")
    obj = _mesh_object(context, name, verts, faces)
    obj.location = context.scene.cursor.location
    return obj


def add_background_plane(
    context: bpy.types.Context, camera: bpy.types.Object, distance: float, *, unlit: bool = True
) -> bpy.types.Object:
    """A plane exactly filling the projector's view at `distance`, carrying its photo."""
    if distance <= 0:
        raise InvalidInputError(f"Background distance {distance} m", hint="Use a positive distance")
    image = projector_photo(camera)
    context.view_layer.update()  # the camera's matrix_world may be stale after a move
    width, height, centre = frustum_plane_size(camera, image, distance)
    w, h = width / 2.0, height / 2.0
    corners = [centre + Vector(d) for d in ((-w, -h, 0), (w, -h, 0), (w, h, 0), (-w, h, 0))]
    # Bake the camera pose into the vertices' frame: the plane object sits at the camera's pose
    # with identity scale, so moving the projector later does not drag the plane along.
    obj = _mesh_object(context, f"{camera.name} background", corners, [(0, 1, 2, 3)])
    obj.matrix_world = _rigid(camera.matrix_world)
    build_prop_material(obj, [camera], unlit=unlit)
    return obj


def _rigid(matrix: Matrix) -> Matrix:
    location, rotation, _ = matrix.decompose()
    return Matrix.Translation(location) @ rotation.to_matrix().to_4x4()


def add_projected_prop(
    context: bpy.types.Context,
    camera: bpy.types.Object,
    shape: str = "PLANE",
    *,
    target: bpy.types.Object | None = None,
    size: float = 1.0,
    unlit: bool = True,
    sharpness: float = 4.0,
) -> bpy.types.Object:
    """A proxy (PLANE, BOX, or `target` for SELECTED) textured by `camera`'s projection."""
    projector_photo(camera)
    if shape == "SELECTED":
        if target is None or target.type != "MESH":
            raise InvalidInputError("No mesh selected", hint="Select the mesh to project onto")
        obj = target
    else:
        obj = add_proxy(context, shape, size, name=f"Prop {camera.name}")
    build_prop_material(obj, [camera], unlit=unlit, sharpness=sharpness)
    return obj


def use_standard_view(scene: bpy.types.Scene) -> None:
    """Show photos as they are: the Standard view transform maps sRGB textures back unchanged."""
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
