"""The camera projection maths without Blender (Blender's own view plane is checked in tests/addon)."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.projection import project_points, projection_coefficients


def test_the_optical_axis_hits_the_centre_and_the_fitted_side_spans_lens_over_sensor():
    c = projection_coefficients(50.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.0, 1920, 1080)
    assert (c.ou, c.ov) == (0.5, 0.5)
    assert c.su == pytest.approx(50.0 / 36.0) and c.sv == pytest.approx(50.0 / 36.0 * 1920 / 1080)
    # A point at half the sensor width per lens length off the axis lies on the frame's right edge.
    edge = project_points(np.array([[18.0 / 50.0 * 3.0, 0.0, -3.0], [0.0, 0.0, -7.0]]), c)
    np.testing.assert_allclose(edge, [[1.0, 0.5], [0.5, 0.5]])


def test_auto_fits_the_longer_side_with_the_sensor_width_and_vertical_the_height():
    portrait = projection_coefficients(50.0, 36.0, 24.0, "AUTO", 0.0, 0.0, 1080, 1920)
    assert portrait.sv == pytest.approx(50.0 / 36.0) and portrait.su == pytest.approx(50.0 / 36.0 * 1920 / 1080)
    vertical = projection_coefficients(50.0, 36.0, 24.0, "VERTICAL", 0.0, 0.0, 1920, 1080)
    assert vertical.sv == pytest.approx(50.0 / 24.0) and vertical.su == pytest.approx(50.0 / 24.0 * 1080 / 1920)


def test_shift_moves_the_image_the_other_way_in_units_of_the_fitted_side():
    c = projection_coefficients(50.0, 36.0, 24.0, "HORIZONTAL", 0.1, -0.2, 200, 100)
    assert c.ou == pytest.approx(0.4) and c.ov == pytest.approx(0.5 + 0.2 * 2.0)


@pytest.mark.parametrize("args", [(0.0, 36.0, 24.0, "AUTO"), (50.0, -1.0, 24.0, "AUTO"), (50.0, 36.0, 24.0, "SIDEWAYS")])
def test_impossible_cameras_are_clear_errors(args):
    with pytest.raises(InvalidInputError) as caught:
        projection_coefficients(*args, 0.0, 0.0, 640, 480)
    assert caught.value.hint
