"""Bad-input corpus, ops: each bad call fails at the public boundary with a ValueError or
TypeError naming the argument (never a deep XLA error), and array-likes are accepted."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cnnjax as cj
from tests.corpus._outcome import check, run_call

X = jnp.ones((2, 5, 5, 3), jnp.float32)
W = jnp.ones((3, 3, 3, 4), jnp.float32)
LOGITS = jnp.zeros((4, 3), jnp.float32)
LABELS = jnp.array([0, 1, 2, 0])
KEY = jax.random.key(0)
V, T = ValueError, TypeError
C3 = jnp.ones((3,), jnp.float32)
FLOAT_LABELS = jnp.asarray([0.0, 1.0, 2.0, 0.0], jnp.float32)
N32 = np.float32

CASES = [
    # conv2d
    ("conv-x-rank3", lambda: cj.conv2d(X[0], W), V, "`x` must have rank 4"),
    ("conv-w-rank3", lambda: cj.conv2d(X, W[0]), V, "`w`"),
    ("conv-channels", lambda: cj.conv2d(X, jnp.ones((3, 3, 2, 4), jnp.float32)), V, "C_in"),
    ("conv-padding-typo", lambda: cj.conv2d(X, W, padding="SAMEE"), V, "`padding`"),
    ("conv-padding-negative", lambda: cj.conv2d(X, W, padding=-1), V, "`padding`"),
    ("conv-padding-float", lambda: cj.conv2d(X, W, padding=1.5), T, "`padding`"),
    ("conv-padding-triple", lambda: cj.conv2d(X, W, padding=(1, 1, 1)), T, "`padding`"),
    ("conv-stride-0", lambda: cj.conv2d(X, W, stride=0), V, "`stride`"),
    ("conv-stride-negative", lambda: cj.conv2d(X, W, stride=-1), V, "`stride`"),
    ("conv-stride-float", lambda: cj.conv2d(X, W, stride=1.5), T, "`stride`"),
    ("conv-stride-bool", lambda: cj.conv2d(X, W, stride=True), T, "`stride`"),
    ("conv-dilation-0", lambda: cj.conv2d(X, W, dilation=0), V, "`dilation`"),
    ("conv-groups-0", lambda: cj.conv2d(X, W, groups=0), V, "`groups`"),
    ("conv-groups-indivisible", lambda: cj.conv2d(X, W, groups=2), V, "groups"),
    ("conv-bias-shape", lambda: cj.conv2d(X, W, C3), V, "`b`"),
    ("conv-kernel-too-big", lambda: cj.conv2d(X, jnp.ones((7, 7, 3, 4), jnp.float32)), V, "larger"),
    ("conv-int-x", lambda: cj.conv2d(X.astype(jnp.int32), W), T, "floating"),
    ("conv-dtype-mix", lambda: cj.conv2d(X, W.astype(jnp.float16)), T, "dtype"),
    (
        "conv-numpy",
        lambda: cj.conv2d(np.ones((1, 3, 3, 1), N32), np.ones((1, 1, 1, 1), N32)),
        None,
        "",
    ),
    # dense (array-like cases first)
    ("dense-lists", lambda: cj.dense([[1.0, 2.0]], [[1.0], [2.0]], [0.5]), None, ""),
    ("dense-ragged-list", lambda: cj.dense([[1.0, 2.0], [1.0]], [[1.0], [2.0]]), T, "`x` must be"),
    ("dense-b-string", lambda: cj.dense([[1.0, 2.0]], [[1.0], [2.0]], "b"), T, "`b` must be"),
    ("conv-lists", lambda: cj.conv2d([[[[1.0, 2.0]]]], [[[[1.0], [1.0]]]], [0.5]), None, ""),
    ("conv-ragged-list", lambda: cj.conv2d([[1.0], [1.0, 2.0]], W), T, "`x` must be an array"),
    ("conv-int-list", lambda: cj.conv2d([[[[1, 2]]]], [[[[1.0], [1.0]]]]), T, "`x` must be a floa"),
    ("conv-w-string", lambda: cj.conv2d(X, "w"), T, "`w` must be an array"),
    ("dense-w-rank1", lambda: cj.dense(jnp.ones((2, 3)), jnp.ones((3,))), V, "`w`"),
    ("dense-in-mismatch", lambda: cj.dense(jnp.ones((2, 3)), jnp.ones((4, 2))), V, "In"),
    ("dense-bias-shape", lambda: cj.dense(jnp.ones((2, 3)), jnp.ones((3, 2)), C3), V, "`b`"),
    ("dense-int", lambda: cj.dense(jnp.ones((2, 3), int), jnp.ones((3, 2), int)), T, "float"),
    ("dense-numpy", lambda: cj.dense(np.ones((1, 2), N32), np.ones((2, 1), N32)), None, ""),
    # pooling
    ("maxpool-window-0", lambda: cj.max_pool2d(X, 0), V, "`window`"),
    ("maxpool-window-big", lambda: cj.max_pool2d(X, 6), V, "larger"),
    ("maxpool-window-float", lambda: cj.max_pool2d(X, 2.0), T, "`window`"),
    ("maxpool-stride-0", lambda: cj.max_pool2d(X, 2, stride=0), V, "`stride`"),
    ("maxpool-list", lambda: cj.max_pool2d([[[[1.0], [2.0]], [[3.0], [4.0]]]], 2), None, ""),
    ("avgpool-list", lambda: cj.avg_pool2d([[[[1.0], [2.0]], [[3.0], [4.0]]]], 2), None, ""),
    ("gap-list", lambda: cj.global_avg_pool2d([[[[1.0], [2.0]]]]), None, ""),
    ("maxpool-ragged-list", lambda: cj.max_pool2d([[1.0], []], 2), T, "`x` must be an array"),
    ("maxpool-rank3", lambda: cj.max_pool2d(X[0], 2), V, "rank 4"),
    ("maxpool-padding-typo", lambda: cj.max_pool2d(X, 2, padding="FULL"), V, "`padding`"),
    ("maxpool-same-lowercase", lambda: cj.max_pool2d(X, 2, padding="same"), None, ""),
    ("avgpool-padding-negative", lambda: cj.avg_pool2d(X, 2, padding=-1), V, "`padding`"),
    ("avgpool-window-triple", lambda: cj.avg_pool2d(X, (2, 2, 2)), T, "`window`"),
    ("avgpool-int", lambda: cj.avg_pool2d(X.astype(jnp.int32), 2), T, "float"),
    ("gap-rank3", lambda: cj.global_avg_pool2d(X[0]), V, "rank 4"),
    ("gap-numpy", lambda: cj.global_avg_pool2d(np.ones((1, 2, 2, 1), N32)), None, ""),
    # losses
    ("xent-float-labels", lambda: cj.softmax_cross_entropy(LOGITS, FLOAT_LABELS), V, "labels"),
    ("xent-label-count", lambda: cj.softmax_cross_entropy(LOGITS, LABELS[:3]), V, "labels"),
    ("xent-logits-rank1", lambda: cj.softmax_cross_entropy(LOGITS[0], LABELS[:1]), V, "logits"),
    (
        "xent-smoothing-1.5",
        lambda: cj.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=1.5),
        V,
        "label_smoothing",
    ),
    (
        "xent-smoothing-neg",
        lambda: cj.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=-0.1),
        V,
        "label_smoothing",
    ),
    (
        "xent-numpy",
        lambda: cj.softmax_cross_entropy(np.zeros((1, 2), N32), np.array([1])),
        None,
        "",
    ),
    ("log-softmax-axis", lambda: cj.log_softmax(LOGITS, axis=5), V, "axis"),
    ("log-softmax-int", lambda: cj.log_softmax(jnp.ones((2, 3), int)), T, "float"),
    # norms
    ("bn-scale-shape", lambda: cj.batch_norm(X, jnp.ones((4,), X.dtype), C3), V, "`scale`"),
    ("bn-eps-negative", lambda: cj.batch_norm(X, C3, C3, eps=-1.0), V, "`eps`"),
    ("bn-int", lambda: cj.batch_norm(X.astype(jnp.int32), C3, C3), T, "float"),
    ("ln-bias-shape", lambda: cj.layer_norm(X, C3, jnp.ones((5,), X.dtype)), V, "`bias`"),
    ("ln-eps-zero", lambda: cj.layer_norm(X, C3, C3, eps=0.0), V, "`eps`"),
    # dropout, activations, shape
    ("dropout-rate-1.5", lambda: cj.dropout(X, KEY, rate=1.5), V, "`rate`"),
    ("dropout-rate-negative", lambda: cj.dropout(X, KEY, rate=-0.1), V, "`rate`"),
    ("dropout-no-key", lambda: cj.dropout(X, None, rate=0.5), T, "`key`"),
    ("leaky-slope-string", lambda: cj.leaky_relu(X, negative_slope="a"), T, "negative_slope"),
    ("elu-alpha-string", lambda: cj.elu(X, alpha="a"), T, "alpha"),
    ("relu-int", lambda: cj.relu(jnp.ones((2,), int)), T, "float"),
    ("sigmoid-string", lambda: cj.sigmoid("abc"), T, ""),
    ("relu-numpy", lambda: cj.relu(np.array([-1.0, 2.0], N32)), None, ""),
    ("flatten-scalar", lambda: cj.flatten(jnp.float32(3.0)), V, "rank"),
    ("flatten-list", lambda: cj.flatten([[[1.0, 2.0]], [[3.0, 4.0]]]), None, ""),
    ("flatten-rank1", lambda: cj.flatten(jnp.ones((4,), jnp.float32)), None, ""),
    ("flatten-string", lambda: cj.flatten("abc"), T, "`x` must be an array"),
]


@pytest.mark.parametrize("fn, error, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op(fn, error, fragment):
    check(run_call(fn, error, fragment))
