"""The course's settings, in one place.

Every default the command line shows comes from :class:`CONFIG`; change a value here (or pass
the matching flag) rather than editing the functions that use it.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = [
    "CONFIG",
    "VGG_URL",
    "VGG_SHA256",
    "VGG_MD5",
    "VGG_MD5_OLD",
    "ENV_MODEL",
    "ENV_URL",
    "ENV_SHA256",
    "default_model_path",
    "model_source",
]

# Where MatConvNet publishes the 510 MB ImageNet VGG-19 file the course uses.
VGG_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
# Checksums of the file at VGG_URL (the current MatConvNet layout), hex digests.
VGG_SHA256 = "abdb57167f82a2a1fbab1e1c16ad9373411883f262a1a37ee5db2e6fb0044695"
VGG_MD5 = "106118b7cf60435e6d8e04f6a6dc3657"
# MD5 of the file in the older MatConvNet layout, which also loads (see vgg.py).
VGG_MD5_OLD = "8ee3263992981a1d26e73b3ca028a123"


class CONFIG:
    """The deeplearning.ai assignment's ``CONFIG``, with its names and values.

    Attributes:
        IMAGE_WIDTH, IMAGE_HEIGHT: size every image is resized to; (1, 300, 400, 3) tensors.
        COLOR_CHANNELS: 3 (RGB).
        NOISE_RATIO: weight of the uniform(-20, 20) noise in the initial generated image.
        MEANS: ImageNet per-channel RGB pixel mean, shape (1, 1, 1, 3), subtracted before VGG.
        VGG_MODEL: path of MatConvNet's ``imagenet-vgg-verydeep-19.mat``.
        STYLE_LAYERS: (layer name, coefficient) pairs of the style cost.
        CONTENT_LAYER: layer whose activations define the content cost.
        ALPHA, BETA: weights of J_content and J_style in J.
        LEARNING_RATE, NUM_ITERATIONS: Adam's step size and the number of steps.
        SAVE_EVERY: print the costs and save an image every this many iterations.
        OUTPUT_DIR: where the images are written.
    """

    IMAGE_WIDTH = 400
    IMAGE_HEIGHT = 300
    COLOR_CHANNELS = 3
    NOISE_RATIO = 0.6
    MEANS = np.array([123.68, 116.779, 103.939]).reshape((1, 1, 1, 3))
    VGG_MODEL = "models/imagenet-vgg-verydeep-19.mat"
    STYLE_LAYERS = [
        ("conv1_1", 0.2),
        ("conv2_1", 0.2),
        ("conv3_1", 0.2),
        ("conv4_1", 0.2),
        ("conv5_1", 0.2),
    ]
    CONTENT_LAYER = "conv4_2"
    ALPHA = 10
    BETA = 40
    LEARNING_RATE = 2.0
    NUM_ITERATIONS = 200
    SAVE_EVERY = 20
    OUTPUT_DIR = "output/"


# Environment variables: the default model path, and a mirror of the VGG-19 file.
ENV_MODEL, ENV_URL, ENV_SHA256 = "NST_VGG_MODEL", "NST_VGG_URL", "NST_VGG_SHA256"


def _env(name: str, default: str) -> str:
    """The environment variable ``name`` if set and not empty, else ``default``."""
    return os.environ.get(name) or default


def default_model_path() -> str:
    """Where the VGG-19 file is looked for: ``$NST_VGG_MODEL``, else ``CONFIG.VGG_MODEL``."""
    return _env(ENV_MODEL, CONFIG.VGG_MODEL)


def model_source() -> tuple[str, str]:
    """(url, sha256) of the VGG-19 file: MatConvNet's, or the mirror in the environment
    (``$NST_VGG_URL``, ``$NST_VGG_SHA256``)."""
    return _env(ENV_URL, VGG_URL), _env(ENV_SHA256, VGG_SHA256)
