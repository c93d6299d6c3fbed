"""The benchmark's outputs: plain-text tables for stdout and the JSON document.

The JSON (``SCHEMA``) holds ``environment``, ``ceiling``, ``ops``, ``conv_parts``, ``models``,
``flag_comparison`` and ``huge_pages_comparison`` (each a list of flat rows, or ``None`` when
skipped) and ``wall_s``. Version 2: the comparison rows' keys are ``with_ms`` and ``without_ms``
(version 1's flag rows had ``with_flag_ms`` and ``without_flag_ms``), and
``huge_pages_comparison`` and ``environment.huge_pages`` are new.
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import jax
import jaxlib

from cnnjax.runtime import fast_conv_status, huge_pages_status

__all__ = ["SCHEMA", "environment", "format_report", "write_json"]

SCHEMA = "cnnjax-bench/2"


def environment(*, quick: bool, batch: int, torch_version: str | None) -> dict:
    """Versions, device and flags the numbers were measured under."""
    dev = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)),
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "fast_conv": fast_conv_status(),
        "huge_pages": huge_pages_status(),
        "torch": torch_version,
        "quick": quick,
        "batch": batch,
    }


def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def _mib(v: int | None) -> str:
    return "-" if v is None else f"{v / 2**20:.1f}"


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    return "\n".join(
        [title, line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    )


def format_report(doc: dict) -> str:
    """The human-readable tables of a benchmark document."""
    env, parts = doc["environment"], []
    parts.append(
        f"cnnjax bench  jax {env['jax']}  {env['backend']} ({env['device']}, "
        f"{env['cpu_count']} cpus)  batch {env['batch']}  {env['fast_conv']}"
        + (f"  {env['huge_pages']}" if env.get("huge_pages") else "")
    )
    ceil = doc.get("ceiling")
    if ceil:
        parts.append(
            f"float32 matmul ceiling ({ceil['size']}^3): {ceil['gflops_best']:.1f} GFLOP/s best, "
            f"{ceil['gflops_median']:.1f} median"
        )
    if doc.get("ops"):
        rows = [
            [
                r["name"],
                _fmt(r["hand_ms"], ".2f"),
                _fmt(r["autodiff_ms"], ".2f"),
                _fmt(r["ratio"], ".2f"),
                _mib(r["hand_temp_bytes"]),
                _mib(r["autodiff_temp_bytes"]),
            ]
            for r in doc["ops"]
        ]
        parts.append(
            _table(
                "per op: jitted forward+backward, median ms (ratio = hand / autodiff)",
                ["op", "hand ms", "autodiff ms", "ratio", "hand temp MiB", "autodiff temp MiB"],
                rows,
            )
        )
    if doc.get("conv_parts"):
        rows = [
            [
                r["name"],
                _fmt(r["forward_gflops"], ".1f"),
                _fmt(r["grad_input_gflops"], ".1f"),
                _fmt(r["grad_weight_gflops"], ".1f"),
                _fmt(r["autodiff_grad_weight_gflops"], ".1f"),
                _fmt(r.get("torch_grad_weight_gflops"), ".1f"),
            ]
            for r in doc["conv_parts"]
        ]
        parts.append(
            _table(
                "conv2d parts, GFLOP/s (hand helpers; autodiff dL/dW alone; PyTorch dL/dW)",
                ["conv", "forward", "dL/dX", "dL/dW", "autodiff dL/dW", "torch dL/dW"],
                rows,
            )
        )
    if doc.get("models"):
        rows = []
        for r in doc["models"]:
            rows.append(
                [
                    r["name"],
                    _fmt(r.get("hand_images_per_s"), ".0f"),
                    _fmt(r.get("autodiff_images_per_s"), ".0f"),
                    _fmt(r.get("ratio"), ".2f"),
                    _mib(r.get("hand_temp_bytes")),
                    _mib(r.get("autodiff_temp_bytes")),
                    _fmt(r.get("temp_ratio"), ".2f"),
                    _fmt(r.get("hand_compile_s"), ".1f"),
                    _fmt(r.get("autodiff_compile_s"), ".1f"),
                    _fmt(r.get("gflop_per_step"), ".2f"),
                    _fmt(r.get("hand_gflops"), ".1f"),
                    _fmt(r.get("hand_ceiling_fraction"), ".0%"),
                    _fmt(r.get("torch_images_per_s"), ".0f"),
                    _fmt(r.get("torch_ratio"), ".2f"),
                ]
            )
        parts.append(
            _table(
                "train step (forward, backward, optax SGD-momentum update): images/s, medians "
                "(ratio = hand / autodiff step time; vs torch = hand images/s / torch images/s)",
                [
                    "model",
                    "hand img/s",
                    "autodiff img/s",
                    "ratio",
                    "hand temp MiB",
                    "autodiff temp MiB",
                    "temp ratio",
                    "hand compile s",
                    "autodiff compile s",
                    "GFLOP/step",
                    "hand GFLOP/s",
                    "of ceiling",
                    "torch img/s",
                    "vs torch",
                ],
                rows,
            )
        )
    for key, what in (
        ("flag_comparison", "the fast-convolution flag"),
        ("huge_pages_comparison", "host huge pages"),
    ):
        if doc.get(key):
            rows = [
                [
                    r["name"],
                    _fmt(r["with_ms"], ".1f"),
                    _fmt(r["without_ms"], ".1f"),
                    _fmt(r["speedup"], ".2f"),
                ]
                for r in doc[key]
            ]
            parts.append(
                _table(
                    f"hand step with / without {what}, median ms",
                    ["model", "with ms", "without ms", "speed-up"],
                    rows,
                )
            )
    parts.append(f"total {doc.get('wall_s', 0):.0f} s")
    return "\n\n".join(parts)


def write_json(doc: dict, path: str | os.PathLike) -> None:
    """Write ``doc`` as indented JSON (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
