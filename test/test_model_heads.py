"""The 3D heads' parameterisation: the vertex head's starting mesh and the camera depth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_fixtures import tiny_topology

from handos_model.hand.hand_model import load_hand_model
from handos_model.hand.handedness import RIGHT, side_from_normals
from handos_model.hand.template_view import palm_to_camera_rotation, wrist_relative_template
from handos_model.models.camera import DZ_LIMIT, decode_camera_translation


@pytest.mark.parametrize("topology", [load_hand_model("open").topology, tiny_topology()], ids=["open", "tiny"])
def test_template_faces_the_camera_fingers_up(topology) -> None:
    """palm_to_camera: wrist at 0, fingers up in the image (-y), palm normal towards the camera
    (-z), still a right hand (a rotation, not a reflection); "rest" is the model's own frame."""
    rest = wrist_relative_template(topology, "rest")
    view = wrist_relative_template(topology, "palm_to_camera")
    reg = np.asarray(topology.joint_regressor, np.float32)
    jr, jv = reg @ rest, reg @ view
    np.testing.assert_allclose(jr[0], 0, atol=1e-6)
    np.testing.assert_allclose(jv[0], 0, atol=1e-6)
    R = palm_to_camera_rotation(reg @ np.asarray(topology.template, np.float32))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(view, rest @ R.T, atol=1e-5)
    finger = jv[9] / np.linalg.norm(jv[9])  # wrist -> middle MCP: in the y-z plane, pointing up
    assert abs(finger[0]) < 1e-5 and finger[1] < 0
    palm = np.cross(jv[5], jv[17])
    assert palm[2] / np.linalg.norm(palm) == pytest.approx(-1.0, abs=1e-5)
    side, _ = side_from_normals(view, np.asarray(topology.faces))
    assert int(side) == RIGHT
    with pytest.raises(ValueError, match="template view"):
        wrist_relative_template(topology, "sideways")


def test_built_decoder_starts_from_the_configured_view() -> None:
    from model_fixtures import tiny_cfg

    from handos_model.models.build import build_model

    topo = tiny_topology()
    m_view = build_model(tiny_cfg(template_view="palm_to_camera"), topology=topo)
    m_rest = build_model(tiny_cfg(), topology=topo)  # the code default: weights exported before the option
    np.testing.assert_allclose(m_view.decoder.template.numpy(), wrist_relative_template(topo, "palm_to_camera"), atol=1e-6)
    np.testing.assert_allclose(m_rest.decoder.template.numpy(), wrist_relative_template(topo, "rest"), atol=1e-6)


def test_camera_depth_is_soft_limited_and_keeps_a_gradient() -> None:
    """z = f s / size * exp(5 tanh(dz / 5)): dz = 0 is the prior depth, the range is exp(+-5) of it,
    and a head pushed far beyond the limit still gets a gradient back (a hard clamp gave none)."""
    K = torch.tensor([[[300.0, 0, 160], [0, 300.0, 160], [0, 0, 1]]]).repeat(3, 1, 1)
    boxes = torch.tensor([[0.5, 0.5, 0.25, 0.25]]).repeat(3, 1)
    centre = torch.tensor([[0.5, 0.5]]).repeat(3, 1)
    raw = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 12.0], [0.0, 0.0, -12.0]], requires_grad=True)
    t = decode_camera_translation(raw, centre, boxes, K, 320.0, hand_size_m=0.15)
    prior = 300.0 * 0.15 / (0.25 * 320.0)
    assert float(t[0, 2]) == pytest.approx(prior, rel=1e-5)
    assert prior < float(t[1, 2]) < prior * np.exp(DZ_LIMIT) + 1e-3
    assert prior * np.exp(-DZ_LIMIT) - 1e-6 < float(t[2, 2]) < prior
    t[1, 2].backward()
    assert float(raw.grad[1, 2]) > 0
