"""The backprop walkthrough runs, and every gradient it prints equals ``jax.grad``'s."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np

SCRIPT = pathlib.Path(__file__).parents[1] / "experiments" / "backprop_walkthrough.py"


def _load():
    spec = importlib.util.spec_from_file_location("backprop_walkthrough", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_walkthrough_gradients_equal_autodiff_and_the_step_lowers_the_loss(tmp_path, capsys):
    walk = _load()
    result = walk.main(tmp_path)
    printed = capsys.readouterr().out
    for step in ("1. dL/dy", "2. through the dense layer", "3. through max pooling", "5. one"):
        assert step in printed
    hand, auto = result["hand"], result["autodiff"]
    assert set(auto) == {"dL/dx", "dL/dW1", "dL/db1", "dL/dW2", "dL/db2"}
    for name, want in auto.items():
        np.testing.assert_allclose(hand[name], want, rtol=1e-12, atol=1e-14, err_msg=name)
    assert max(result["errors"].values()) < 1e-13
    assert result["loss_after"] < float(hand["loss"])
    assert (tmp_path / "receptive_field.png").stat().st_size > 10_000
    # the docs page shows this output: it must be the script's, not a stale copy
    page = (SCRIPT.parents[1] / "docs" / "walkthrough.md").read_text()
    shown = page.split("## What the script prints\n\n```text\n", 1)[1].split("```", 1)[0]
    here = printed.replace(f"wrote {tmp_path}/", "wrote runs/walkthrough/")

    def values(text):  # the rounding-level error figures depend on XLA's compile options
        return re.sub(r"(dL/d\w+\s+)\S+e[-+]\d+", r"\1<error>", text).strip()

    assert values(shown) == values(here), "docs/walkthrough.md's output is stale: rerun the script"


def test_textbook_formulas_hold_for_the_printed_quantities():
    walk = _load()
    with jax.enable_x64(True):
        a = walk.inputs()
        hand = walk.backprop(a)
        assert hand["dL/dy"].dtype == jnp.float64
        probs = jnp.exp(hand["y"] - jnp.max(hand["y"]))
        probs = probs / jnp.sum(probs)
        onehot = jnp.zeros(3).at[walk.LABEL].set(1.0)
        np.testing.assert_allclose(hand["dL/dy"][0], probs[0] - onehot, rtol=1e-13)
        # dL/dz_j = sum_i dL/dy_i w_ji, and dL/dW2 = z^T dL/dy
        np.testing.assert_allclose(
            hand["dL/dz(dense input)"], hand["dL/dy"] @ a["w2"].T, rtol=1e-13
        )
        assert hand["dL/dW2"].shape == a["w2"].shape


def test_receptive_field_is_the_3x3_window_under_the_pooled_maximum():
    walk = _load()
    with jax.enable_x64(True):
        a = walk.inputs()
        field = walk.receptive_field(a, (0, 1, 0))
    rows, cols = np.nonzero(field)
    # pooled cell (0, 1) reads conv cells rows 0-1, cols 2-3; its maximum's 3x3 input window
    # lies inside rows 0-3, cols 2-5, and is exactly 3x3 since every kernel entry is non-zero
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (3, 3)
    assert rows.min() in (0, 1) and cols.min() in (2, 3)
    assert np.count_nonzero(field) == 9
    np.testing.assert_array_equal(
        field[rows.min() : rows.min() + 3, cols.min() : cols.min() + 3],
        np.asarray(a["w1"])[:, :, 0, 0],
    )
