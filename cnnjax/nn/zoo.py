"""The model zoo: small CNNs by name, each a ``Layer`` built from ``cnnjax.nn``.

``get_model(name, num_classes=10)`` builds one; ``INPUT_SHAPES[name]`` is the per-example
input shape it expects (NHWC without N). Every model ends in logits ``(num_classes,)``.

>>> import jax
>>> params, state, out_shape = get_model("digits_cnn").init(jax.random.key(0), (8, 8, 1))
>>> out_shape
(10,)
"""

from __future__ import annotations

from collections.abc import Callable

from cnnjax.nn.activations import Hardswish, Relu, Relu6
from cnnjax.nn.combinators import Residual, Sequential, Skip
from cnnjax.nn.core import Layer, positive_int
from cnnjax.nn.layers import (
    BatchNorm,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    MaxPool2d,
)
from cnnjax.nn.norms import GroupNorm
from cnnjax.nn.resample import AdaptiveAvgPool2d, ConvTranspose2d

__all__ = [
    "AUTOENCODERS",
    "AUTOENCODER_SHAPES",
    "INPUT_SHAPES",
    "MODELS",
    "digits_autoencoder",
    "digits_cnn",
    "digits_mobilenet",
    "get_model",
    "lenet5",
    "resnet20",
    "vgg_small",
]


def _conv_bn_relu(features: int, kernel_size: int = 3, stride: int = 1) -> list[Layer]:
    """Conv (no bias: BatchNorm's shift replaces it) + BatchNorm + ReLU."""
    return [
        Conv2d(features, kernel_size, stride=stride, use_bias=False),
        BatchNorm(),
        Relu(),
    ]


def digits_cnn(num_classes: int = 10) -> Layer:
    """A small CNN for scikit-learn's 8x8x1 digits (about 0.1M parameters).

    conv 32 3x3 SAME + BN + relu, conv 64 + BN + relu, max pool 2 (-> 4x4), conv 128 + BN +
    relu, global average pool, dropout 0.3, dense ``num_classes``.
    """
    return Sequential(
        [
            *_conv_bn_relu(32),
            *_conv_bn_relu(64),
            MaxPool2d(2),
            *_conv_bn_relu(128),
            GlobalAvgPool2d(),
            Dropout(0.3),
            Dense(num_classes),
        ]
    )


def lenet5(num_classes: int = 10) -> Layer:
    """LeNet-5 for 28x28x1 with ReLU and max pooling (LeCun et al. 1998, modernised).

    conv 6 5x5 SAME (28x28) + relu, max pool 2 (14x14), conv 16 5x5 VALID (10x10) + relu,
    max pool 2 (5x5), flatten (400), dense 120 + relu, dense 84 + relu, dense ``num_classes``.
    """
    return Sequential(
        [
            Conv2d(6, 5, padding="SAME"),
            Relu(),
            MaxPool2d(2),
            Conv2d(16, 5, padding="VALID"),
            Relu(),
            MaxPool2d(2),
            Flatten(),
            Dense(120),
            Relu(),
            Dense(84),
            Relu(),
            Dense(num_classes),
        ]
    )


def vgg_small(num_classes: int = 10) -> Layer:
    """A small VGG for 32x32x3: [2x conv64, pool, 2x conv128, pool, 2x conv256, pool] with
    batch norm after each conv, then flatten (4*4*256), dense 256 + relu, dropout 0.5, dense
    ``num_classes``."""
    layers: list[Layer] = []
    for features in (64, 128, 256):
        layers += [*_conv_bn_relu(features), *_conv_bn_relu(features), MaxPool2d(2)]
    layers += [Flatten(), Dense(256), Relu(), Dropout(0.5), Dense(num_classes)]
    return Sequential(layers)


def _basic_block(features: int, stride: int, project: bool) -> Layer:
    """ResNet basic block: conv3x3-BN-relu-conv3x3-BN, plus shortcut, then relu.

    The shortcut is the identity, or, when the shape changes, a projection (option B of
    He et al. 2016): a strided 1x1 conv + BN.
    """
    main = Sequential(
        [
            *_conv_bn_relu(features, 3, stride),
            Conv2d(features, 3, use_bias=False),
            BatchNorm(),
        ]
    )
    shortcut = None
    if project:
        shortcut = Sequential([Conv2d(features, 1, stride=stride, use_bias=False), BatchNorm()])
    return Residual(main, shortcut)


def resnet20(num_classes: int = 10) -> Layer:
    """ResNet-20 for 32x32x3 (He et al. 2016, section 4.2): conv 16 + BN + relu, then three
    stages of 3 basic blocks with 16, 32, 64 channels (the first block of stages 2 and 3
    strides by 2), global average pool, dense ``num_classes``.

    Shortcuts are **projections** (option B: strided 1x1 conv + BN) where the shape changes,
    identities elsewhere, so every differentiable step is a hand-VJP op (the paper's CIFAR
    net used option A, zero-padded identity; B adds 2 small convs, about 2.7k parameters).
    """
    layers: list[Layer] = list(_conv_bn_relu(16))
    in_features = 16
    for stage, features in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            project = stride != 1 or features != in_features
            layers.append(_basic_block(features, stride, project))
            in_features = features
    layers += [GlobalAvgPool2d(), Dense(num_classes)]
    return Sequential(layers)


def _separable(c_in: int, c_out: int, stride: int, act: Callable[[], Layer]) -> list[Layer]:
    """MobileNet's depthwise-separable conv: a 3x3 depthwise conv (one group per channel) +
    BN + act, then a 1x1 pointwise conv + BN + act (Howard et al. 2017)."""
    return [
        Conv2d(c_in, 3, stride=stride, groups=c_in, use_bias=False),
        BatchNorm(),
        act(),
        Conv2d(c_out, 1, use_bias=False),
        BatchNorm(),
        act(),
    ]


def digits_mobilenet(num_classes: int = 10) -> Layer:
    """A MobileNet-style classifier for the 8x8x1 digits (9,034 parameters).

    conv 16 3x3 + BN + hardswish, depthwise-separable blocks 16 -> 32 (relu6), 32 -> 64
    stride 2 (relu6, -> 4x4), 64 -> 64 (hardswish), adaptive average pool to 1x1, flatten,
    dropout 0.2, dense ``num_classes``.
    """
    return Sequential(
        [
            Conv2d(16, 3, use_bias=False),
            BatchNorm(),
            Hardswish(),
            *_separable(16, 32, 1, Relu6),
            *_separable(32, 64, 2, Relu6),
            *_separable(64, 64, 1, Hardswish),
            AdaptiveAvgPool2d(1),
            Flatten(),
            Dropout(0.2),
            Dense(num_classes),
        ]
    )


def _conv_gn_relu(features: int, groups: int = 4) -> list[Layer]:
    return [Conv2d(features, 3, use_bias=False), GroupNorm(groups), Relu()]


def digits_autoencoder() -> Layer:
    """A small U-Net for 8x8x1 images, image in, image out (a denoiser; 20,849 parameters).

    conv 16 + GN + relu (8x8), then a skip connection around [max pool 2 (4x4), 2x (conv 32 +
    GN + relu), transposed conv 16 2x2 stride 2 (back to 8x8)], concatenated with its input
    (32 channels), conv 16 + GN + relu, and a 1x1 conv to one channel.
    """
    return Sequential(
        [
            *_conv_gn_relu(16),
            Skip(
                Sequential(
                    [
                        MaxPool2d(2),
                        *_conv_gn_relu(32),
                        *_conv_gn_relu(32),
                        ConvTranspose2d(16, 2, stride=2),
                    ]
                )
            ),
            *_conv_gn_relu(16),
            Conv2d(1, 1),
        ]
    )


# Image-to-image models (output shaped like the input), trained by `cnnjax train` with
# `[task] kind = "denoise"` (cnnjax.tasks); fully convolutional, so any H, W divisible by 2
# fits; AUTOENCODER_SHAPES is the input shape their configs, the bench and the audit use.
AUTOENCODERS: dict[str, Callable[[], Layer]] = {"digits_autoencoder": digits_autoencoder}
AUTOENCODER_SHAPES: dict[str, tuple[int, int, int]] = {"digits_autoencoder": (8, 8, 1)}

MODELS: dict[str, Callable[..., Layer]] = {
    "digits_cnn": digits_cnn,
    "digits_mobilenet": digits_mobilenet,
    "lenet5": lenet5,
    "vgg_small": vgg_small,
    "resnet20": resnet20,
}

INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits_cnn": (8, 8, 1),
    "digits_mobilenet": (8, 8, 1),
    "lenet5": (28, 28, 1),
    "vgg_small": (32, 32, 3),
    "resnet20": (32, 32, 3),
}


def get_model(name: str, *, num_classes: int = 10) -> Layer:
    """Build the zoo model ``name`` with a ``num_classes``-way output.

    Raises:
      ValueError: for an unknown name (the message lists the known ones).
    """
    if name not in MODELS:
        raise ValueError(f"get_model: unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](num_classes=positive_int("get_model", "num_classes", num_classes))
