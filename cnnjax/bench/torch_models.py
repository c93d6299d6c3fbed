"""The optional PyTorch comparator: the zoo models in PyTorch eager on CPU.

Imported only when ``torch`` is importable (``available()``); PyTorch is never a dependency of
cnnjax. Each model mirrors its ``cnnjax.nn.zoo`` namesake layer for layer (NCHW, the flatten
order differs, which changes nothing in the cost); the step is forward, cross-entropy,
backward and an SGD-with-momentum update, as the JAX benchmark's step.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from typing import Any

__all__ = ["available", "build_model", "run_torch_model"]


def available() -> bool:
    """True when ``import torch`` would succeed (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def _conv_bn_relu(nn, c_in: int, c_out: int, k: int = 3, stride: int = 1) -> list[Any]:
    return [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def _resnet20(torch, nn) -> Any:
    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.main = nn.Sequential(
                *_conv_bn_relu(nn, c_in, c_out, 3, stride),
                nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
                nn.BatchNorm2d(c_out),
            )
            self.short = nn.Identity()
            if stride != 1 or c_in != c_out:
                self.short = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
                )

        def forward(self, x):
            return torch.relu(self.main(x) + self.short(x))

    layers, c_in = _conv_bn_relu(nn, 3, 16), 16
    for stage, c in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(Block(c_in, c, 2 if stage > 0 and block == 0 else 1))
            c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def _digits_mobilenet(nn) -> Any:
    def separable(c_in, c_out, stride, act):
        return [
            nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
            nn.BatchNorm2d(c_in),
            act(),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            act(),
        ]

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.Hardswish(),
        *separable(16, 32, 1, nn.ReLU6),
        *separable(32, 64, 2, nn.ReLU6),
        *separable(64, 64, 1, nn.Hardswish),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(64, 10),
    )


def build_model(name: str) -> Any:
    """The PyTorch twin of ``cnnjax.nn.zoo.get_model(name)`` (10 classes)."""
    import torch
    from torch import nn

    if name == "digits_cnn":
        return nn.Sequential(
            *_conv_bn_relu(nn, 1, 32),
            *_conv_bn_relu(nn, 32, 64),
            nn.MaxPool2d(2),
            *_conv_bn_relu(nn, 64, 128),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(128, 10),
        )
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        )
    if name == "vgg_small":
        layers, c_in = [], 3
        for c in (64, 128, 256):
            layers += [*_conv_bn_relu(nn, c_in, c), *_conv_bn_relu(nn, c, c), nn.MaxPool2d(2)]
            c_in = c
        layers += [
            nn.Flatten(),
            nn.Linear(4 * 4 * 256, 256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(256, 10),
        ]
        return nn.Sequential(*layers)
    if name == "resnet20":
        return _resnet20(torch, nn)
    if name == "digits_mobilenet":
        return _digits_mobilenet(nn)
    raise ValueError(f"build_model: no PyTorch twin for {name!r}")


def run_torch_model(
    name: str,
    input_shape: tuple[int, int, int],
    *,
    batch: int = 128,
    repeats: int = 10,
    channels_last: bool = True,
) -> dict:
    """Median step time and images/s of ``name`` in PyTorch eager (``input_shape`` is HWC)."""
    import torch

    torch.manual_seed(0)
    model = build_model(name)
    h, w, c = input_shape
    x = torch.randn(batch, c, h, w)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median_s = statistics.median(times)
    return {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "memory_format": "channels_last" if channels_last else "contiguous",
        "step_ms": median_s * 1e3,
        "images_per_s": batch / median_s,
    }


def torch_conv_grad_weight_gflops(
    x_shape, w_shape, *, stride: int = 1, padding: Any = "SAME", repeats: int = 7
) -> float:
    """GFLOP/s of PyTorch's ∂L/∂W alone (``convolution_backward`` with only the weight mask),
    channels-last, for an NHWC ``x_shape`` and HWIO ``w_shape`` as in :mod:`cnnjax.bench.ops`."""
    import torch

    n, h, w, c_in = x_shape
    kh, kw, _, c_out = w_shape
    pad = [kh // 2, kw // 2] if padding == "SAME" else [0, 0]
    cl = torch.channels_last
    x = torch.randn(n, c_in, h, w).contiguous(memory_format=cl)
    wt = torch.randn(c_out, c_in, kh, kw).contiguous(memory_format=cl)
    out = torch.nn.functional.conv2d(x, wt, stride=stride, padding=pad)
    ct = torch.randn_like(out).contiguous(memory_format=cl)
    args = (ct, x, wt, None, [stride, stride], pad, [1, 1], False, [0, 0], 1, [False, True, False])
    times = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        torch.ops.aten.convolution_backward(*args)
        if i >= 2:
            times.append(time.perf_counter() - start)
    ho, wo = out.shape[2], out.shape[3]
    flops = 2.0 * n * ho * wo * c_out * kh * kw * c_in
    return flops / statistics.median(times) / 1e9
