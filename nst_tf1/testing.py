"""Synthetic MatConvNet VGG-19 files, for tests and benchmarks.

The real ``imagenet-vgg-verydeep-19.mat`` is a 510 MB download. :func:`make_vgg_file` writes a
file with the same structure (the 43 layers of :data:`nst_tf1.vgg.VGG19_FILE_LAYERS`, the same
field names, either published layout) holding He-initialised random weights. A
``width_divisor`` above 1 narrows every layer, so tests build a small, fast graph; at 1 the
convolutions have the real shapes, and ``fc="full"`` also writes full-size fully connected
layers so that the file's size and load time are those of the real one.

Command line::

    nst-tf1 make-vgg PATH [--layout new|old] [--width-divisor 8] [--fc tiny|full]
"""

from __future__ import annotations

import os

import numpy as np

from .config import CONFIG
from .vgg import VGG19_FILE_LAYERS

__all__ = ["synthetic_layer_shapes", "make_vgg_file"]

# Placeholder output width of fc6..fc8 in a "tiny" file.
_TINY_FC_CHANNELS = 4


def synthetic_layer_shapes(
    width_divisor: int = 1, fc: str = "tiny"
) -> dict[str, tuple[int, int, int, int]]:
    """Kernel shape of every conv/fc layer of a synthetic file.

    Args:
        width_divisor: divide every channel count (but the 3 input colours) by this.
        fc: ``"full"`` keeps fc6..fc8 at their real (divided) size; ``"tiny"`` makes them
            1x1 kernels with 4 outputs.

    Returns:
        dict: layer name -> (kh, kw, in, out), for the layers of type ``conv``.
    """
    if width_divisor < 1:
        raise ValueError(f"width_divisor must be at least 1, got {width_divisor}")
    if fc not in ("tiny", "full"):
        raise ValueError(f"fc must be 'tiny' or 'full', got {fc!r}")
    shapes, prev_out = {}, 3
    for layer in VGG19_FILE_LAYERS:
        if layer.type != "conv":
            continue
        kh, kw, _, out = layer.shape
        out = max(1, out // width_divisor)
        if layer.name.startswith("fc") and fc == "tiny":
            kh, kw, out = 1, 1, _TINY_FC_CHANNELS
        shapes[layer.name] = (kh, kw, prev_out, out)
        prev_out = out
    return shapes


def _cell(*items):
    """A 1xN MATLAB cell array."""
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _layer_fields(layer, shape, layout, rng, written):
    """The MatConvNet struct of one layer; a convolution's random (W, b) (He initialisation)
    is also put in ``written``."""
    if layer.type == "conv":
        kh, kw, cin, cout = shape
        # He initialisation keeps activations of the same order through 16 ReLU layers.
        W = rng.standard_normal((kh, kw, cin, cout), dtype=np.float32)
        W *= np.float32(np.sqrt(2.0 / (kh * kw * cin)))
        b = (0.01 * rng.standard_normal(cout)).astype(np.float32)
        written[layer.name] = (W, b)
        bias = b.reshape(cout, 1) if layout == "new" else b.reshape(1, cout)
        pad = 0 if layer.name.startswith("fc") else 1
        if layout == "new":
            fields = {
                "name": layer.name,
                "type": "conv",
                "weights": _cell(W, bias),
                "size": np.array([[kh, kw, cin, cout]], dtype=float),
                "pad": np.full((1, 4), pad, dtype=float),
                "stride": np.ones((1, 2)),
                "dilation": np.ones((1, 2)),
                "precious": False,
                "opts": _cell(),
            }
        else:
            fields = {
                "weights": _cell(W, bias),
                "pad": np.full((1, 4), pad, dtype=float),
                "type": "conv",
                "name": layer.name,
                "stride": np.ones((1, 2)),
            }
    elif layer.type == "pool":
        fields = {
            "name": layer.name,
            "type": "pool",
            "method": "max",
            "pool": np.array([[2.0, 2.0]]),
            "stride": np.array([[2.0, 2.0]]),
            "pad": np.zeros((1, 4)),
        }
    else:
        fields = {"name": layer.name, "type": layer.type}
    return fields


def _file_contents(cells, layout, rng, mean_pixel):
    """The .mat file's variables: the layers and the normalisation, in either layout."""
    normalization = {
        "imageSize": np.array([[224.0, 224.0, 3.0]]),
        "keepAspect": 1.0,
        "interpolation": "bilinear",
    }
    if layout == "new":
        normalization["averageImage"] = mean_pixel.reshape(1, 1, 3)
        contents = {
            "layers": _cell(*cells),
            "meta": {
                "normalization": normalization,
                "classes": {"name": _cell("n01440764"), "description": _cell("tench")},
            },
        }
    else:
        texture = rng.standard_normal((224, 224, 3)).astype(np.float32)
        texture -= texture.mean(axis=(0, 1))
        normalization["averageImage"] = mean_pixel + texture
        contents = {
            "layers": _cell(*cells),
            "normalization": normalization,
            "classes": {"name": _cell("n01440764"), "description": _cell("tench")},
        }
    return contents


def _write_atomically(path, contents):
    """savemat into memory, then :func:`nst_tf1.images.write_atomically` (a temporary file
    beside ``path``, fsync, rename)."""
    import io

    import scipy.io

    from .images import write_atomically

    encoded = io.BytesIO()
    scipy.io.savemat(encoded, contents, do_compression=False)
    write_atomically(path, encoded.getbuffer())


def make_vgg_file(
    path: str | os.PathLike[str],
    layout: str = "new",
    width_divisor: int = 8,
    fc: str = "tiny",
    seed: int = 0,
    overwrite: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a synthetic MatConvNet VGG-19 file.

    The file is written next to ``path`` under a temporary name and renamed into place, so
    ``path`` never holds half a file; an existing file is kept unless ``overwrite`` (a
    synthetic file at the default model path would silently replace the real network).

    Args:
        path: output ``.mat`` path.
        layout: ``"new"``: struct fields ``name, type, weights, ...``, b of shape (out, 1),
            mean in ``meta.normalization.averageImage`` (1, 1, 3). ``"old"``: ``weights``
            first, b of shape (1, out), top-level ``normalization.averageImage`` a 224x224x3
            image whose per-channel mean is the mean pixel.
        width_divisor: narrow every layer by this factor (1: real widths).
        fc: ``"tiny"`` or ``"full"`` fully connected layers, see :func:`synthetic_layer_shapes`.
        seed: seed of the random weights.
        overwrite: replace an existing file at ``path``.

    Returns:
        dict: layer name -> (W, b) as written (float32), for comparing against a reference.

    Raises:
        nst_tf1.errors.InputError: ``path`` is (or links to) a directory or a special file
            such as /dev/null (refused even with ``overwrite``), or it exists and
            ``overwrite`` is false.
        OSError: the file cannot be written.
    """
    from .preflight import check_output_file

    if layout not in ("new", "old"):
        raise ValueError(f"layout must be 'new' or 'old', got {layout!r}")
    path = os.fspath(path)
    check_output_file(path, "the output .mat file", "vgg19.mat")
    if os.path.lexists(path) and not overwrite:
        from .errors import InputError

        size = os.path.getsize(path) if os.path.isfile(path) else 0
        raise InputError(
            f"{path} exists ({size / 1e6:.1f} MB); not overwriting it with a "
            "synthetic network: pass --force to replace it, or choose another "
            "path"
        )
    rng = np.random.default_rng(seed)
    shapes = synthetic_layer_shapes(width_divisor, fc)
    mean_pixel = np.asarray(CONFIG.MEANS, dtype=np.float32).reshape(3)
    written = {}
    cells = [
        _layer_fields(layer, shapes.get(layer.name), layout, rng, written)
        for layer in VGG19_FILE_LAYERS
    ]
    contents = _file_contents(cells, layout, rng, mean_pixel)
    _write_atomically(path, contents)
    return written
