"""VCReg: VICReg's variance and covariance terms, invariance optional (Mialon et al.)."""

from __future__ import annotations

import math

import pytest
import torch

from sslctl.methods import build_loss
from sslctl.methods.vcreg import vcreg_loss
from tests.methods.helpers import paired_views
from tests.methods.test_vicreg import reference_vicreg


def test_vcreg_is_vicreg_without_invariance_by_default() -> None:
    """Default VCReg = 25 * variance + 1 * covariance of the reference VICReg terms."""
    z1, z2 = paired_views(seed=4)
    z1 = z1 * 0.5
    ref = reference_vicreg(z1.numpy(), z2.numpy(), 0.0, 25.0, 1.0)
    out = build_loss("vcreg")(z1, z2)
    assert math.isclose(float(out["loss"]), ref["loss"], rel_tol=1e-10)
    assert math.isclose(float(out["invariance"]), ref["invariance"], rel_tol=1e-10)


@pytest.mark.parametrize("sim", [5.0, 25.0])
def test_vcreg_with_sim_coeff_adds_the_invariance(sim: float) -> None:
    """sim_coeff > 0 adds sim_coeff * MSE; at 25 VCReg equals default VICReg."""
    z1, z2 = paired_views(seed=5)
    vc = vcreg_loss(z1, z2, sim_coeff=sim)
    vic = build_loss("vicreg", sim_coeff=sim)(z1, z2)
    assert torch.isclose(vc["loss"], vic["loss"], rtol=1e-12)


def test_vcreg_on_one_tensor_for_ica() -> None:
    """Passing the same tensor twice (ICA) gives its hinge plus twice its covariance term."""
    z, _ = paired_views(seed=6)
    z = z * 0.7
    ref = reference_vicreg(z.numpy(), z.numpy(), 0.0, 25.0, 1.0)
    out = vcreg_loss(z, z)
    assert math.isclose(float(out["loss"]), ref["loss"], rel_tol=1e-10)
    assert float(out["invariance"]) == 0.0
