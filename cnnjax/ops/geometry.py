"""The static geometry of a sliding 2-D window: one type for convolution and pooling.

A :class:`WindowGeometry` records what an output cell reads: the window (or kernel) size, the
stride, the dilation, the explicit ``((top, bottom), (left, right))`` padding and, for
``ceil_mode`` pooling, the *overhang*: bottom/right cells past that padding which the last
window reaches. It is frozen and hashable, so it travels as a ``nondiff_argnums`` entry of a
``custom_vjp``. :func:`window_geometry` builds it from the public arguments and validates them.

One axis (H shown; W is identical): with ``k_eff = d (K - 1) + 1`` the output length is

    ``H_out = (H + p_top + p_bottom + overhang - k_eff) // s + 1``

where ``overhang`` is 0 unless ``ceil_mode`` rounds the division up (PyTorch's rule: the last
window must start inside the input or the top padding).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "Padding2D",
    "Pair",
    "WindowGeometry",
    "check_window_fits",
    "explicit_padding",
    "is_int",
    "out_size",
    "padding_2d",
    "pair",
    "window_geometry",
]

Pair = tuple[int, int]
Padding2D = tuple[tuple[int, int], tuple[int, int]]


@dataclasses.dataclass(frozen=True)
class WindowGeometry:
    """Static geometry of one sliding-window call over NHWC input.

    Attributes:
      in_hw: ``(H, W)`` of the unpadded input.
      window: ``(KH, KW)``, the window or kernel size before dilation.
      stride: ``(SH, SW)``.
      dilation: ``(DH, DW)``; the effective window is ``d * (k - 1) + 1``.
      padding: explicit ``((top, bottom), (left, right))``; negative entries crop (the
        transposed convolutions of conv's gradients use that).
      overhang: ``(bottom, right)`` cells past ``padding`` that ``ceil_mode``'s last window
        reads (``(0, 0)`` otherwise). They hold the padding value, but an average's divisor
        does not count them.
    """

    in_hw: Pair
    window: Pair
    stride: Pair = (1, 1)
    dilation: Pair = (1, 1)
    padding: Padding2D = ((0, 0), (0, 0))
    overhang: Pair = (0, 0)

    @property
    def effective(self) -> Pair:
        """The dilated window ``d * (k - 1) + 1`` per axis."""
        return tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.window, strict=True))

    @property
    def pads(self) -> Padding2D:
        """The padding the windows slide over: ``padding`` plus the overhang at the end."""
        (t, b), (l, r) = self.padding
        return ((t, b + self.overhang[0]), (l, r + self.overhang[1]))

    @property
    def out_hw(self) -> Pair:
        """``(H_out, W_out)``: ``(H + p_top + p_bottom + overhang - k_eff) // s + 1``."""
        return tuple(
            out_size(*axis)
            for axis in zip(self.in_hw, self.pads, self.effective, self.stride, strict=True)
        )

    @property
    def unpadded(self) -> bool:
        """True when no window reads padding (nor overhang)."""
        return self.pads == ((0, 0), (0, 0))


def window_geometry(
    op: str,
    in_hw: Pair,
    window: Any,
    *,
    stride: Any = 1,
    padding: Any = "VALID",
    dilation: Any = 1,
    ceil_mode: bool = False,
    what: str = "window",
) -> WindowGeometry:
    """Validate and normalise the public window arguments of ``op`` into a geometry.

    Args:
      op: the op's name, for error messages.
      in_hw: ``(H, W)`` of the input.
      window: an int or ``(KH, KW)`` pair, each >= 1.
      stride, dilation: an int or a pair, each >= 1.
      padding: ``"VALID"``, ``"SAME"``, an int, an ``(h, w)`` pair or
        ``((top, bottom), (left, right))``, all >= 0.
      ceil_mode: round the output length up (PyTorch), as long as the last window starts
        inside the input or the top/left padding.
      what: how messages name the window (``"window"``, ``"effective kernel"``).

    Raises:
      ValueError: a non-positive window, stride or dilation, negative or unknown padding, or
        an effective window larger than the padded input.
      TypeError: malformed arguments or a non-bool ``ceil_mode``.

    >>> g = window_geometry("max_pool2d", (5, 5), 2, stride=2, ceil_mode=True)
    >>> g.out_hw, g.overhang
    ((3, 3), (1, 1))
    """
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{op}: `ceil_mode` must be a bool, got {ceil_mode!r}")
    in_hw = (int(in_hw[0]), int(in_hw[1]))
    window = pair(window, "window", op)
    stride = pair(stride, "stride", op)
    dilation = pair(dilation, "dilation", op)
    base = WindowGeometry(in_hw, window, stride, dilation)
    pads = padding_2d(padding, op, in_hw=in_hw, window_hw=base.effective, stride=stride)
    check_window_fits(op, in_hw, pads, base.effective, what)
    geo = dataclasses.replace(base, padding=pads)
    if ceil_mode:
        geo = dataclasses.replace(geo, overhang=_overhang(geo))
    return geo


def _overhang(geo: WindowGeometry) -> Pair:
    """Cells past the bottom/right padding that PyTorch's ``ceil_mode`` last window reads.

    ``H_out = ceil((H + p_top + p_bottom - k_eff) / s) + 1``, less one when that last window
    would start at or past ``H + p_top`` (inside the bottom padding).
    """
    extra = []
    for size, (top, bottom), k, s in zip(
        geo.in_hw, geo.padding, geo.effective, geo.stride, strict=True
    ):
        span = size + top + bottom - k
        out = -(-span // s) + 1
        if (out - 1) * s >= size + top:
            out -= 1
        extra.append(max((out - 1) * s + k - (size + top + bottom), 0))
    return (extra[0], extra[1])


def pair(value: Any, name: str, op: str, *, minimum: int = 1) -> Pair:
    """Normalise an int or an ``(h, w)`` pair of ints to a pair, each ``>= minimum``.

    >>> pair(2, "stride", "conv2d")
    (2, 2)
    >>> pair((1, 3), "dilation", "conv2d")
    (1, 3)
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: `{name}` must be an int or a pair of ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        result = (int(value), int(value))
    elif (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: `{name}` must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        raise ValueError(f"{op}: `{name}` must be >= {minimum} in each dimension, got {value!r}")
    return result


def is_int(v: Any) -> bool:
    """A Python or NumPy integer that is not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


_EXPLICIT_FORMS = "an int, an (h, w) pair or ((top, bottom), (left, right))"


def explicit_padding(
    padding: Any, op: str, *, allow_negative: bool = False, forms: str = _EXPLICIT_FORMS
) -> Padding2D:
    """Normalise an int, an ``(h, w)`` pair or ``((t, b), (l, r))`` to ``((t, b), (l, r))``.

    Negative entries (cropping) only with ``allow_negative``; ``forms`` is what the
    ``TypeError`` says ``padding`` must be.

    >>> explicit_padding((1, 2), "pad2d")
    ((1, 1), (2, 2))
    """
    if is_int(padding):
        result = ((int(padding),) * 2, (int(padding),) * 2)
    elif isinstance(padding, Sequence) and len(padding) == 2 and all(is_int(v) for v in padding):
        result = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
    elif (
        isinstance(padding, Sequence)
        and len(padding) == 2
        and all(isinstance(v, Sequence) and len(v) == 2 and all(map(is_int, v)) for v in padding)
    ):
        result = (
            (int(padding[0][0]), int(padding[0][1])),
            (int(padding[1][0]), int(padding[1][1])),
        )
    else:
        raise TypeError(f"{op}: `padding` must be {forms}, got {padding!r}")
    if not allow_negative and min(min(result[0]), min(result[1])) < 0:
        raise ValueError(f"{op}: `padding` must be non-negative, got {padding!r}")
    return result


def padding_2d(
    padding: Any,
    op: str,
    *,
    in_hw: Pair,
    window_hw: Pair,
    stride: Pair,
) -> Padding2D:
    """Normalise any of the five padding forms to explicit ``((top, bottom), (left, right))``.

    Forms: ``"VALID"``; ``"SAME"`` (output ``ceil(H / s)``, the odd extra pad at the end, as in
    ``lax``); an int (all sides); an ``(h, w)`` pair (symmetric); ``((t, b), (l, r))``.
    ``window_hw`` is the *effective* window (dilation applied), ``d * (k - 1) + 1``.

    >>> padding_2d("SAME", "conv2d", in_hw=(5, 6), window_hw=(2, 3), stride=(2, 2))
    ((0, 1), (0, 1))
    >>> padding_2d((1, 2), "conv2d", in_hw=(5, 6), window_hw=(3, 3), stride=(1, 1))
    ((1, 1), (2, 2))
    """
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode == "SAME":
            pads = []
            for size, k, s in zip(in_hw, window_hw, stride, strict=True):
                out = -(-size // s)
                total = max((out - 1) * s + k - size, 0)
                pads.append((total // 2, total - total // 2))
            return (pads[0], pads[1])
        raise ValueError(
            f"{op}: unknown `padding` {padding!r}; expected 'VALID', 'SAME', an int, "
            "an (h, w) pair or ((top, bottom), (left, right))"
        )
    return explicit_padding(padding, op, forms=f"'VALID', 'SAME', {_EXPLICIT_FORMS}")


def out_size(size: int, pad: tuple[int, int], window: int, stride: int) -> int:
    """``(size + pad_lo + pad_hi - window) // stride + 1`` for an effective ``window``."""
    return (size + pad[0] + pad[1] - window) // stride + 1


def check_window_fits(op: str, in_hw: Pair, pads: Padding2D, window_hw: Pair, what: str) -> None:
    """Raise when the (effective) window is larger than the padded input."""
    for axis, size, pad, k in zip("HW", in_hw, pads, window_hw, strict=True):
        padded = size + pad[0] + pad[1]
        if k > padded:
            raise ValueError(
                f"{op}: {what} {window_hw} is larger than the padded input "
                f"({axis}: {size} + padding {pad} = {padded} < {k})"
            )
