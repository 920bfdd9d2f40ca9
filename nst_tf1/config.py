"""The course's settings, in one place.

Every default the command line shows comes from :class:`CONFIG`; change a value here (or pass
the matching flag) rather than editing the functions that use it.
"""

from __future__ import annotations

import os
from typing import NamedTuple

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
    "ENV_HOME",
    "APP_NAME",
    "MODEL_FILE",
    "ModelLocation",
    "cache_dir",
    "model_location",
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
        VGG_MODEL: the course's path of MatConvNet's ``imagenet-vgg-verydeep-19.mat``, used
            when that file exists; else the default is in the per-user cache
            (:func:`model_location`).
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


# Environment variables: the default model path, a mirror of the VGG-19 file, and the root of
# the per-user cache (as $TORCH_HOME and $KERAS_HOME are for torch.hub and Keras).
ENV_MODEL, ENV_URL, ENV_SHA256 = "NST_VGG_MODEL", "NST_VGG_URL", "NST_VGG_SHA256"
ENV_HOME = "NST_HOME"

#: The name of the per-user cache folder (``~/.cache/nst-tf1`` on Linux).
APP_NAME = "nst-tf1"
#: The file name MatConvNet publishes the network under.
MODEL_FILE = os.path.basename(CONFIG.VGG_MODEL)


def _env(name: str, default: str) -> str:
    """The environment variable ``name`` if set and not empty, else ``default``."""
    return os.environ.get(name) or default


def cache_dir() -> str:
    """The per-user cache of nst-tf1, shared by every folder it runs in: ``$NST_HOME`` if set
    (made absolute from the folder the command starts in),
    else the platform's user cache folder (``~/.cache/nst-tf1`` on Linux, honouring
    ``$XDG_CACHE_HOME``; ``~/Library/Caches/nst-tf1`` on macOS; ``%LOCALAPPDATA%\\nst-tf1\\Cache``
    on Windows)."""
    home = os.environ.get(ENV_HOME)
    if home:  # absolute, so that a relative one names one folder, not one per working folder
        return os.path.abspath(os.path.expanduser(home))
    import platformdirs

    return platformdirs.user_cache_dir(APP_NAME, appauthor=False)


class ModelLocation(NamedTuple):
    """Where the VGG-19 file is looked for, and why there.

    Attributes:
        path: the file's path (it may not exist yet).
        source: ``"env"`` (``$NST_VGG_MODEL``), ``"local"`` (an existing
            ``models/imagenet-vgg-verydeep-19.mat`` under the folder searched) or ``"cache"``
            (the per-user cache, :func:`cache_dir`).
    """

    path: str
    source: str


def model_location(directory: str | os.PathLike[str] = ".") -> ModelLocation:
    """Resolve the default VGG-19 path; ``--model`` (when given) wins over all of this.

    In order: ``$NST_VGG_MODEL``; ``DIRECTORY/models/imagenet-vgg-verydeep-19.mat`` if that file
    exists (where the course, and earlier versions, kept it); else
    ``CACHE/models/imagenet-vgg-verydeep-19.mat`` in the per-user cache (:func:`cache_dir`),
    where a missing file is downloaded, once for every folder.

    Args:
        directory: the folder whose ``models/`` is searched (default: the current one).
    """
    env = os.environ.get(ENV_MODEL)
    if env:
        return ModelLocation(env, "env")
    local = os.path.normpath(os.path.join(os.fspath(directory), CONFIG.VGG_MODEL))
    if os.path.isfile(local):
        return ModelLocation(local, "local")
    return ModelLocation(os.path.join(cache_dir(), "models", MODEL_FILE), "cache")


def default_model_path(directory: str | os.PathLike[str] = ".") -> str:
    """The default ``--model``: the path of :func:`model_location`."""
    return model_location(directory).path


def model_source() -> tuple[str, str]:
    """(url, sha256) of the VGG-19 file: MatConvNet's, or the mirror in the environment
    (``$NST_VGG_URL``, ``$NST_VGG_SHA256``)."""
    return _env(ENV_URL, VGG_URL), _env(ENV_SHA256, VGG_SHA256)
