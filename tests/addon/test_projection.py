"""Camera projection mapping: the shader reproduces the photo from the projector's view, exactly.

Renders are Cycles on the CPU with the pixel filter narrowed to a point (filter_width 0.01) and no
denoiser, so a pixel shows the surface under its centre: what is measured is the projection, not
the anti-aliasing blur of a grainy photo (with the default 1.5 px filter the same renders differ
from the photo by 0.012-0.034 on average, all of it blur; point-sampled it is ~0.0007).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import projection as core_projection
from tests.conftest import read_png

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "set"


def render_array(scene, path: Path) -> np.ndarray:
    """Render the scene camera's view to `path` and return it as (H, W, 4) floats, rows bottom-up."""
    import bpy

    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return read_png(path)


def photo_array(image) -> np.ndarray:
    pixels = np.empty(image.size[0] * image.size[1] * image.channels, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    return pixels.reshape(image.size[1], image.size[0], image.channels)[..., :3]


def point_sampled_cycles(scene, samples: int = 4) -> None:
    from backflip_addon.blender import projection

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01
    scene.render.film_transparent = True
    projection.use_standard_view(scene)


def projector(context, photo: str, **pose):
    from backflip_addon.blender import projection

    camera = projection.projector_from_photo(context, projection.load_photo(str(ASSETS / photo)), lens=30.0)
    camera.location = pose.get("location", (0.2, -3.0, 1.4))
    camera.rotation_euler = pose.get("rotation", (math.radians(80), 0.0, math.radians(10)))
    camera.data.shift_x = pose.get("shift_x", 0.05)
    camera.data.shift_y = pose.get("shift_y", -0.03)
    projection.sync_projector(camera)
    context.scene.camera = camera
    return camera


def covered_error(render: np.ndarray, photo: np.ndarray) -> tuple[float, int]:
    """Mean absolute error over pixels fully covered by geometry, and how many there are."""
    mask = render[..., 3] > 0.999
    return float(np.abs(render[..., :3] - photo)[mask].mean()), int(mask.sum())


def test_coefficients_match_blenders_camera(empty_scene) -> None:
    """The shader's formula equals Blender's own projection for every sensor fit, aspect and shift."""
    import bpy
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    from backflip_addon.blender import projection

    scene = empty_scene
    data = bpy.data.cameras.new("probe")
    camera = bpy.data.objects.new("probe", data)
    scene.collection.objects.link(camera)
    camera.location, camera.rotation_euler = (0.3, -2.0, 1.0), (1.2, 0.1, 0.3)
    data.lens, data.sensor_width, data.sensor_height = 40.0, 36.0, 20.0
    data.shift_x, data.shift_y = 0.1, -0.07
    rng = np.random.default_rng(0)
    local = np.stack([rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20), -rng.uniform(1, 5, 20)], axis=1)
    for fit in ("AUTO", "HORIZONTAL", "VERTICAL"):
        for width, height in ((160, 90), (90, 160), (100, 100)):
            data.sensor_fit = fit
            scene.render.resolution_x, scene.render.resolution_y = width, height
            bpy.context.view_layer.update()
            expected = np.array([world_to_camera_view(scene, camera, camera.matrix_world @ Vector(p))[:2] for p in local])
            c = core_projection.projection_coefficients(40.0, 36.0, 20.0, fit, 0.1, -0.07, width, height)
            np.testing.assert_allclose(core_projection.project_points(local, c), expected, atol=1e-5, err_msg=f"{fit} {width}x{height}")


@pytest.mark.parametrize("photo", ["street.png", "wall.png"])
@pytest.mark.parametrize("shape", ["PLANE", "BOX"])
def test_projected_prop_reproduces_photo(empty_scene, tmp_path: Path, photo: str, shape: str) -> None:
    """A tilted 4-vertex plane or an 8-vertex box, seen from its projector, shows the photo (MAE < 0.01)."""
    import bpy

    from backflip_addon.blender import projection

    context = bpy.context
    camera = projector(context, photo)
    point_sampled_cycles(empty_scene)
    if shape == "PLANE":
        prop = projection.add_projected_prop(context, camera, "PLANE", size=1.6)
        prop.location, prop.rotation_euler = (0.5, 0.0, 1.2), (math.radians(70), math.radians(15), 0.3)
        assert len(prop.data.vertices) == 4
    else:
        prop = projection.add_projected_prop(context, camera, "BOX", size=0.8)
        prop.location, prop.rotation_euler = (-0.3, -0.5, 1.1), (0.3, 0.5, 0.7)
        assert len(prop.data.vertices) == 8
    render = render_array(empty_scene, tmp_path / "render.png")
    image = projection.projector_photo(camera)
    assert render.shape[:2] == (image.size[1], image.size[0])  # the render took the photo's size
    mae, covered = covered_error(render, photo_array(image))
    assert covered > 0.1 * image.size[0] * image.size[1], "the prop should fill a good part of the view"
    assert mae < 0.01, f"{shape} from {photo}: MAE {mae:.4f} over {covered} px"
    # Sanity: the same render against a photo shifted by one pixel is clearly worse.
    shifted = np.roll(photo_array(image), 1, axis=1)
    assert covered_error(render, shifted)[0] > 2 * mae


def test_background_plane_fills_the_view(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender import projection

    camera = projector(bpy.context, "wall.png", shift_x=0.0, shift_y=0.1)
    point_sampled_cycles(empty_scene, samples=1)
    projection.add_background_plane(bpy.context, camera, distance=7.0)
    render = render_array(empty_scene, tmp_path / "background.png")
    # Every pixel is covered, up to the outermost rows/columns that touch the plane's edges.
    assert render[1:-1, 1:-1, 3].min() > 0.999
    mae, _ = covered_error(render, photo_array(projection.projector_photo(camera)))
    assert mae < 0.01


def solid_photo(name: str, rgb: tuple[float, float, float], size: int = 16):
    import bpy

    image = bpy.data.images.new(name, size, size, alpha=True)
    image.pixels.foreach_set(np.tile(np.array([*rgb, 1.0], dtype=np.float32), size * size))
    return image


def test_two_projectors_blend_by_facing_angle(empty_scene, tmp_path: Path) -> None:
    """A box lit red from the front (-Y) and blue from the side (+X): each face takes the projector it faces."""
    import bpy

    from backflip_addon.blender import projection

    context = bpy.context
    front = projection.projector_from_photo(context, solid_photo("red", (1.0, 0.0, 0.0)), match_render=False)
    front.location, front.rotation_euler = (0.0, -5.0, 0.0), (math.radians(90), 0.0, 0.0)
    side = projection.projector_from_photo(context, solid_photo("blue", (0.0, 0.0, 1.0)), match_render=False)
    side.location, side.rotation_euler = (5.0, 0.0, 0.0), (math.radians(90), 0.0, math.radians(90))
    context.view_layer.update()
    box = projection.add_projected_prop(context, front, "BOX", size=1.0)
    projection.add_projector_to_prop(box, side)
    assert projection.prop_projectors(box) == [front, side]
    assert box.active_material["unlit"]

    viewer = bpy.data.objects.new("viewer", bpy.data.cameras.new("viewer"))
    context.collection.objects.link(viewer)
    viewer.location = (3.0, -3.0, 0.0)  # 45 degrees between both projectors: sees both faces
    viewer.rotation_euler = (math.radians(90), 0.0, math.radians(45))
    empty_scene.camera = viewer
    point_sampled_cycles(empty_scene, samples=1)
    empty_scene.render.resolution_x = empty_scene.render.resolution_y = 32
    render = render_array(empty_scene, tmp_path / "blend.png")
    row = render[16]  # bottom-up rows; the middle row crosses the -Y face (left) and the +X face (right)
    left, right = row[10], row[21]
    assert left[3] > 0.99 and right[3] > 0.99
    assert left[0] > 0.95 and left[2] < 0.05, f"front face should be red, got {left}"
    assert right[2] > 0.95 and right[0] < 0.05, f"side face should be blue, got {right}"


def test_bake_to_uvs_keeps_the_projection(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender import bake, projection

    context = bpy.context
    camera = projector(context, "street.png")
    prop = projection.add_projected_prop(context, camera, "PLANE", size=1.6)
    prop.location, prop.rotation_euler = (0.5, 0.0, 1.2), (math.radians(70), math.radians(15), 0.3)
    projected = prop.active_material
    image = bake.bake_to_uvs(context, prop, resolution=256)
    assert prop.active_material is not projected and prop["backflip_projected_material"] == projected
    assert image.packed_file is not None and prop.data.uv_layers
    point_sampled_cycles(empty_scene)
    render = render_array(empty_scene, tmp_path / "baked.png")
    mae, covered = covered_error(render, photo_array(projection.projector_photo(camera)))
    assert covered > 1000
    assert mae < 0.03, f"baked MAE {mae:.4f}"  # resampled twice (photo -> UV image -> render)


def test_operators_build_a_set(empty_scene) -> None:
    import bpy

    size = (empty_scene.render.resolution_x, empty_scene.render.resolution_y)
    assert bpy.ops.backflip.projector_from_photo(filepath=str(ASSETS / "wall.png"), background_distance=5.0) == {"FINISHED"}
    camera = bpy.context.scene.camera
    assert camera is not None and camera.data.sensor_fit == "VERTICAL"  # portrait photo
    # A small photo does not silently shrink the shot; matching is asked for.
    assert (empty_scene.render.resolution_x, empty_scene.render.resolution_y) == size
    assert bpy.ops.backflip.add_projected_prop(shape="BOX") == {"FINISHED"}
    assert bpy.context.active_object.active_material.node_tree.nodes["Projector 00"].node_tree.name.endswith(camera.name)
    with pytest.raises(RuntimeError, match="not found"):
        bpy.ops.backflip.projector_from_photo(filepath=str(ASSETS / "missing.png"))
    assert bpy.ops.backflip.projector_from_photo(filepath=str(ASSETS / "wall.png"), match_render=True) == {"FINISHED"}
    assert (empty_scene.render.resolution_x, empty_scene.render.resolution_y) == (96, 128)


def test_sync_follows_lens_changes_and_renames(empty_scene) -> None:
    import bpy

    from backflip_addon.blender import projection

    camera = projector(bpy.context, "street.png")
    group = projection.ensure_projector_group(camera)
    camera.name = "Renamed"
    camera.data.lens = 50.0
    bpy.context.view_layer.objects.active = camera
    assert bpy.ops.backflip.sync_projector() == {"FINISHED"}
    assert projection.ensure_projector_group(camera) == group
    expected = projection.camera_coefficients(camera, projection.projector_photo(camera))
    assert group.nodes["su"].outputs[0].default_value == pytest.approx(expected.su)
    assert expected.su == pytest.approx(50.0 / 36.0)


def test_keyed_humanoid_shows_in_projected_set(empty_scene, tmp_path: Path, backflip_clip_path: Path) -> None:
    """At 64x64 the keyed character is visible in front of a projected set."""
    import bpy

    from backflip_addon.blender import projection, rig
    from backflip_addon.blender.retarget import key_clip
    from backflip_addon.core.clip import load_clip

    context = bpy.context
    camera = projector(context, "street.png", location=(0.0, -8.0, 1.5), rotation=(math.radians(88), 0.0, 0.0))
    projection.add_background_plane(context, camera, 14.0)
    projection.add_projected_prop(context, camera, "PLANE", size=20.0)  # the ground, at the cursor
    armature, body = rig.build_humanoid(context)
    key_clip(armature, load_clip(backflip_clip_path), fps=30, start_frame=1)
    scene = empty_scene
    scene.frame_set(20)
    point_sampled_cycles(scene, samples=4)
    scene.render.film_transparent = False
    scene.cycles.filter_width = 1.5
    scene.render.resolution_x = scene.render.resolution_y = 64
    viewer = bpy.data.objects.new("viewer", bpy.data.cameras.new("viewer"))
    context.collection.objects.link(viewer)
    viewer.location, viewer.rotation_euler = (0.0, -5.0, 1.0), (math.radians(85), 0.0, 0.0)
    scene.camera = viewer
    with_character = render_array(scene, tmp_path / "with.png")
    body.hide_render = True
    without = render_array(scene, tmp_path / "without.png")
    changed = np.abs(with_character[..., :3] - without[..., :3]).max(axis=-1) > 0.05
    assert changed.sum() >= 20, f"only {changed.sum()} pixels show the character"
    # The set itself is there: the frame without the character is the photo's colours, not empty.
    assert without[..., :3].std() > 0.05
