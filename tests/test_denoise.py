"""The denoising experiment: the U-Net trains on hand VJPs exactly as on autodiff."""

from __future__ import annotations

import importlib.util
import pathlib

SCRIPT = pathlib.Path(__file__).parents[1] / "experiments" / "digits_denoise.py"


def _load():
    spec = importlib.util.spec_from_file_location("digits_denoise", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_epoch_learns_and_hand_losses_equal_autodiff_losses(tmp_path):
    denoise = _load()
    result = denoise.train(epochs=1, check_steps=4)
    assert len(result["agreement"]) == 4
    for hand, auto in result["agreement"]:
        assert abs(hand - auto) <= 1e-5 * abs(auto), result["agreement"]
    losses = result["losses"]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert result["test_mse"] < result["noisy_mse"], (result["test_mse"], result["noisy_mse"])
    denoise.plot(result, tmp_path / "denoise.png")
    assert (tmp_path / "denoise.png").stat().st_size > 10_000
