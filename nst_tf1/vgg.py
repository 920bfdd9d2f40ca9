"""VGG-19 from MatConvNet's ``imagenet-vgg-verydeep-19.mat``, built as TF1 graph ops.

The file holds 43 layers (:data:`VGG19_FILE_LAYERS`). Style transfer uses the 16 convolutions
and the 5 poolings before the classifier; the loader reads the convolution weights by field
name, drops everything else, and :func:`load_vgg_model` builds::

    input (Variable) -> conv1_1 -> conv1_2 -> avgpool1 -> conv2_1 -> ... -> conv5_4 -> avgpool5

where every ``convX_Y`` entry is ``relu(conv2d(prev, W, stride 1, SAME) + b)`` and every
``avgpoolX`` is a 2x2 average pooling with stride 2 and SAME padding (the course replaces
VGG's max pooling with average pooling). ``build_vgg_model(..., pooling="max")`` restores VGG's
own 2x2 max pooling; the dict keys stay ``avgpoolX`` (the course's names) whatever the pooling,
so code written against the course's keys runs unchanged.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .config import CONFIG
from .errors import InputError
from .tf1 import graph_mode

__all__ = [
    "Layer",
    "ModelFileError",
    "VGG19_FILE_LAYERS",
    "VGG19_CONV_LAYERS",
    "MODEL_KEYS",
    "MIN_IMAGE_SIDE",
    "activation_shapes",
    "activation_bytes",
    "VGGWeights",
    "POOLING_MODES",
    "check_conv_layer",
    "MAX_ABS_WEIGHT",
    "check_model_file",
    "read_vgg_weights",
    "build_vgg_model",
    "initialize_vgg_weights",
    "load_vgg_model",
    "evaluate_on_image",
    "describe_model",
]

# Graph collection of (initializer op, placeholder, layer name, 0 for W / 1 for b) entries
# that build_vgg_model(..., weights_as="variables") leaves for initialize_vgg_weights.
_WEIGHT_FEEDS = "nst_tf1_vgg_weight_feeds"

Layer = collections.namedtuple("Layer", "name type shape")
Layer.__doc__ = """One layer of the MatConvNet file.

Attributes:
    name: MatConvNet's name, e.g. ``conv4_2``, ``relu4_2``, ``pool4``, ``fc6``.
    type: MatConvNet's type string: ``conv``, ``relu``, ``pool`` or ``softmax``.
    shape: kernel shape (height, width, in_channels, out_channels) for ``conv`` layers
        (the fully connected layers are stored as convolutions too), else ``None``.
"""


def _vgg19_file_layers() -> tuple[Layer, ...]:
    # (block, convolutions in the block, output channels) of VGG-19 ("configuration E").
    blocks = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
    layers, in_channels = [], 3
    for block, count, channels in blocks:
        for i in range(1, count + 1):
            layers.append(Layer(f"conv{block}_{i}", "conv", (3, 3, in_channels, channels)))
            layers.append(Layer(f"relu{block}_{i}", "relu", None))
            in_channels = channels
        layers.append(Layer(f"pool{block}", "pool", None))
    layers += [
        Layer("fc6", "conv", (7, 7, 512, 4096)),
        Layer("relu6", "relu", None),
        Layer("fc7", "conv", (1, 1, 4096, 4096)),
        Layer("relu7", "relu", None),
        Layer("fc8", "conv", (1, 1, 4096, 1000)),
        Layer("prob", "softmax", None),
    ]
    return tuple(layers)


#: The 43 layers of ``imagenet-vgg-verydeep-19.mat`` in file order, with full-size shapes.
#: The one table of the network: the loader, the synthetic-file generator and the docs use it.
VGG19_FILE_LAYERS = _vgg19_file_layers()

#: The 16 convolution layers style transfer uses (``conv1_1`` .. ``conv5_4``).
VGG19_CONV_LAYERS = tuple(
    layer for layer in VGG19_FILE_LAYERS if layer.type == "conv" and layer.name.startswith("conv")
)


def _model_keys() -> tuple[str, ...]:
    keys = ["input"]
    for layer in VGG19_FILE_LAYERS:
        if layer.name.startswith("conv"):
            keys.append(layer.name)
        elif layer.name.startswith("pool"):
            keys.append("avg" + layer.name)
    return tuple(keys)


#: Keys of the dict :func:`load_vgg_model` returns, in network order.
MODEL_KEYS = _model_keys()


#: Pooling operations :func:`build_vgg_model` can put between the blocks ("avg": the course's).
POOLING_MODES = ("avg", "max")


#: Smallest height or width (pixels) of an image this package accepts: 2 ** 5 = 32.
#: The network has five 2x2, stride-2 poolings. With SAME padding they round up, so no side
#: ever shrinks to zero (1 stays 1); but each position of avgpool5 stands for a 32x32 block of
#: the input, and below 32 pixels the conv5_x layers (conv5_1 is a style layer) see a 1-pixel
#: (or half-padding) map: their 3x3 kernels read mostly zero padding and the Gram matrix
#: averages a single position. 32 is also the side under which VALID pooling (VGG's own)
#: would collapse to zero. The same minimum applies to the input files and to --height/--width.
MIN_IMAGE_SIDE = 2 ** sum(1 for layer in VGG19_FILE_LAYERS if layer.type == "pool")


def activation_shapes(
    height: int,
    width: int,
    layers: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, tuple[int, int, int, int]]:
    """Shape of every tensor of the :func:`build_vgg_model` dict, without building it.

    Args:
        height, width: input size.
        layers: :class:`VGGWeights` or dict ``conv name -> (W, b)`` giving the channel widths;
            ``None``: the real VGG-19 widths of :data:`VGG19_CONV_LAYERS`.

    Returns:
        dict: key of :data:`MODEL_KEYS` -> (1, h, w, channels). Convolutions keep h and w;
        each 2x2 stride-2 SAME pooling maps a side n to ceil(n / 2).
    """
    layers = getattr(layers, "layers", layers)
    if layers is None:
        widths = {layer.name: layer.shape[3] for layer in VGG19_CONV_LAYERS}
    else:
        widths = {name: np.shape(W)[3] for name, (W, _) in layers.items()}
    shapes = {"input": (1, height, width, CONFIG.COLOR_CHANNELS)}
    h, w, c = height, width, CONFIG.COLOR_CHANNELS
    for key in MODEL_KEYS[1:]:
        if key.startswith("conv"):
            c = widths[key]
        else:
            h, w = -(-h // 2), -(-w // 2)
        shapes[key] = (1, h, w, c)
    return shapes


def activation_bytes(
    height: int,
    width: int,
    layers: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> int:
    """Bytes of float32 the forward pass's tensors take: the sum over :func:`activation_shapes`.

    For 300x400 at the real widths this is about 157 MB; the optimisation needs several times
    that (see ``nst_tf1.preflight``).
    """
    shapes = activation_shapes(height, width, layers)
    return 4 * sum(int(np.prod(shape)) for shape in shapes.values())


class ModelFileError(InputError):
    """The VGG-19 file is missing, unreadable, or not the network this package expects."""


def check_conv_layer(name: str) -> str:
    """Return ``name`` if it is one of the 16 convolution layers, else raise ValueError.

    Content and style costs may use any of :data:`VGG19_CONV_LAYERS` (``conv1_1`` ..
    ``conv5_4``); the message lists them.
    """
    names = [layer.name for layer in VGG19_CONV_LAYERS]
    if name not in names:
        raise ValueError(f"unknown layer {name!r}; choose from {', '.join(names)}")
    return name


VGGWeights = collections.namedtuple("VGGWeights", "path layout layers mean_pixel")
VGGWeights.__doc__ = """The convolution weights read from a MatConvNet VGG-19 file.

Attributes:
    path: the file read.
    layout: ``"new"`` (``meta.normalization``) or ``"old"`` (top-level ``normalization``).
    layers: dict ``conv name -> (W, b)``; W float32 (3, 3, in, out), C-contiguous;
        b float32 (out,).
    mean_pixel: float32 (3,) RGB mean of the training images, as stored in the file. The
        course (and this package) subtracts ``CONFIG.MEANS`` instead; the two agree for the
        published files.
"""


def _unwrap(value):
    """Strip the 1x1 object and struct wrappers ``loadmat`` puts around MATLAB values."""
    while (
        isinstance(value, np.ndarray)
        and value.size == 1
        and (value.dtype == object or value.dtype.names is not None)
    ):
        value = value.reshape(-1)[0]
    return value


def _field(struct, name, path, where):
    """Return field ``name`` of a MATLAB struct read by ``loadmat``, by name."""
    struct = _unwrap(struct)
    names = getattr(getattr(struct, "dtype", None), "names", None) or ()
    if name not in names:
        raise ModelFileError(f"{path}: {where} has no field '{name}' (fields: {', '.join(names)})")
    return struct[name]


def _string(value):
    value = _unwrap(value)
    if isinstance(value, np.ndarray):
        return "".join(str(v) for v in value.reshape(-1))
    return str(value)


def _cells(value):
    """The elements of a MATLAB cell array or struct array, flattened in order."""
    value = np.asarray(value)
    return list(value.reshape(-1, order="F"))


# Leading bytes of files people pass by mistake -> what they are.
_MAGIC = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89HDF", "an HDF5 file (a Keras .h5?)"),
    (b"\x80", "a Python pickle (a PyTorch/NumPy file?)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
)


def _check_mat_header(path, header):
    """Refuse files that are not MATLAB v5/v7 .mat files, saying what they look like."""
    if header.startswith(b"MATLAB 5.0 MAT-file"):
        return
    if header.startswith(b"MATLAB 7.3 MAT-file") or header[512:516] == b"\x89HDF":
        raise ModelFileError(
            f"{path}: a MATLAB v7.3 (HDF5) .mat file, which scipy cannot read; MatConvNet's "
            "imagenet-vgg-verydeep-19.mat is a v5 file: download it again"
        )
    if not header:
        raise ModelFileError(f"{path}: not a readable MATLAB .mat file: empty (0 bytes)")
    kind = next((what for magic, what in _MAGIC if header.startswith(magic)), None)
    if kind is None:
        text = header.lstrip().lower()
        if text.startswith((b"<!doctype html", b"<html")):
            kind = "an HTML page (a failed download?)"
        elif all(32 <= c < 127 or c in b"\t\r\n" for c in header[:256]):
            kind = "a text file"
        else:
            kind = "of an unknown type"
    raise ModelFileError(
        f"{path}: not a readable MATLAB .mat file: it is {kind}; expected MatConvNet's "
        "imagenet-vgg-verydeep-19.mat"
    )


#: Largest magnitude of a weight or bias accepted in a model file. A trained VGG-19's weights
#: are of order 1 (it was trained with weight decay) and He-initialised synthetic files stay
#: below 1; a file with weights beyond this bound was damaged or converted (or is not
#: VGG-19), and its activations would overflow float32 whatever the learning rate.
MAX_ABS_WEIGHT = 1e4


def check_model_file(path: str | os.PathLike[str]) -> str:
    """Refuse at once a model path that is not a regular file (missing, a directory, a
    device such as ``/dev/zero``, a FIFO), before anything reads it.

    Returns:
        str: the path.

    Raises:
        ModelFileError: one line naming the path.
    """
    import stat

    path = os.fspath(path)
    if not path:
        raise ModelFileError("--model: empty path")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise ModelFileError(f"{path}: is a directory, not a .mat file")
    if not stat.S_ISREG(mode):
        kind = (
            "a character device"
            if stat.S_ISCHR(mode)
            else "a block device"
            if stat.S_ISBLK(mode)
            else "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a special file"
        )
        raise ModelFileError(f"{path}: is {kind}, not a regular .mat file")
    return path


def read_vgg_weights(path: str | os.PathLike[str]) -> VGGWeights:
    """Read the 16 convolution layers of a MatConvNet VGG-19 file, by field name.

    Both published layouts are accepted: the current one (``layers{i}`` structs with fields
    ``name``, ``type``, ``weights`` = {W, b}, ...; mean in ``meta.normalization.averageImage``,
    shape (1, 1, 3)) and the older one (``weights`` is the first field; top-level
    ``normalization.averageImage`` is a 224x224x3 image). The fully connected layers are
    dropped as soon as the file is read.

    Channel counts come from the file: a narrow synthetic file gives narrow layers, as long
    as each layer's input channels equal the previous layer's outputs and conv1_1 takes RGB.

    Args:
        path: path of the ``.mat`` file.

    Returns:
        VGGWeights: the convolution weights and the file's mean pixel.

    Raises:
        ModelFileError: the file is missing, not a MATLAB file, truncated, or lacks a
            convolution layer or has one of the wrong shape, type (integers) or values (NaN,
            all zero, above :data:`MAX_ABS_WEIGHT`); the message names the file and the layer.
    """
    path, mat = _load_mat(path)
    layout, mean_pixel = _layout_and_mean(mat, path)
    found = {}
    for index, cell in enumerate(_cells(mat["layers"])):
        where = f"layer {index + 1}"
        name = _string(_field(cell, "name", path, where))
        found[name] = cell
    del mat  # drops the fully connected layers: only the conv cells are referenced now
    layers = {}
    in_channels = 3
    for expected in VGG19_CONV_LAYERS:
        if expected.name not in found:
            convs = sum(1 for name in found if name.startswith("conv"))
            raise ModelFileError(
                f"{path}: not VGG-19: layer '{expected.name}' is missing (the file has "
                f"{convs} convolution layers named convX_Y, VGG-19 has 16)"
            )
        layers[expected.name] = _conv_pair(path, expected.name, found[expected.name], in_channels)
        out_channels = layers[expected.name][0].shape[3]
        _check_values(path, expected.name, *layers[expected.name])
        in_channels = out_channels
    return VGGWeights(path, layout, layers, mean_pixel)


def _load_mat(path):
    """The checked path and its ``layers``, ``meta``/``normalization`` variables (scipy)."""
    import scipy.io

    path = check_model_file(path)
    try:
        with open(path, "rb") as f:
            header = f.read(1024)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    _check_mat_header(path, header)
    try:
        mat = scipy.io.loadmat(path, variable_names=("layers", "meta", "normalization"))
    except MemoryError:
        raise
    except Exception as exc:  # scipy raises many types on bad bytes; all mean "not readable"
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise ModelFileError(
            f"{path}: not a readable MATLAB .mat file: truncated or corrupt ({detail}); "
            "download it again"
        ) from None
    if "layers" not in mat:
        try:  # loadmat read only the variables asked for; list what the file holds
            others = sorted(name for name, _, _ in scipy.io.whosmat(path))
        except Exception:
            others = []
        raise ModelFileError(
            f"{path}: not a MatConvNet network file (no 'layers' variable; "
            f"it holds: {', '.join(others) or 'nothing'})"
        )
    return path, mat


def _layout_and_mean(mat, path):
    """("new" or "old", the file's mean pixel, float32 RGB)."""
    if "meta" in mat:
        layout = "new"
        normalization = _field(mat["meta"], "normalization", path, "meta")
    elif "normalization" in mat:
        layout = "old"
        normalization = mat["normalization"]
    else:
        raise ModelFileError(f"{path}: neither 'meta' nor 'normalization'; not a MatConvNet file")
    average = np.asarray(_field(normalization, "averageImage", path, "normalization"), np.float64)
    if average.size < 3 or average.size % 3:
        raise ModelFileError(f"{path}: averageImage of shape {average.shape} is not RGB")
    # averageImage is (1, 1, 3) in the new layout, (224, 224, 3) in the old; RGB last.
    mean_pixel = average.reshape(-1, 3).mean(axis=0).astype(np.float32)
    return layout, mean_pixel


def _conv_pair(path, name, cell, in_channels):
    """(W, b) of one convolution cell, checked: numeric floats, W (3, 3, in_channels, out),
    b of out values; W as the file stores it, b flattened, both float32."""
    kind = _string(_field(cell, "type", path, name))
    if kind != "conv":
        raise ModelFileError(f"{path}: layer '{name}' has type '{kind}', not 'conv'")
    pair = _cells(_field(cell, "weights", path, name))
    pair = [_unwrap(p) for p in _cells(_unwrap(pair[0]))] if len(pair) == 1 else pair
    if len(pair) != 2:
        raise ModelFileError(f"{path}: layer '{name}' weights hold {len(pair)} arrays, not W and b")
    W, b = (np.asarray(p) for p in pair)
    if W.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
        raise ModelFileError(
            f"{path}: layer '{name}' weights are not numeric arrays (W {W.dtype}, b {b.dtype})"
        )
    if W.dtype.kind != "f" or b.dtype.kind != "f":
        raise ModelFileError(
            f"{path}: layer '{name}' holds integer weights (W {W.dtype}, b "
            f"{b.dtype}); VGG-19's are floating point (single): the file was converted "
            "or quantised, download it again"
        )
    if W.ndim != 4 or W.shape[:2] != (3, 3) or W.shape[2] != in_channels:
        raise ModelFileError(
            f"{path}: layer '{name}' has W of shape {W.shape}, expected (3, 3, {in_channels}, out)"
        )
    out_channels = W.shape[3]
    if b.size != out_channels:
        raise ModelFileError(
            f"{path}: layer '{name}' has b of shape {b.shape}, "
            f"expected ({out_channels}, 1) or (1, {out_channels})"
        )
    # W is (kernel height, kernel width, in, out), used as the file stores it (the course
    # does the same); b is (out, 1) or (1, out) in the file, (out,) here.
    return (
        np.ascontiguousarray(W, dtype=np.float32),
        np.ascontiguousarray(b.reshape(-1), dtype=np.float32),
    )


def _check_values(path, name, W, b):
    """Refuse weights no trained or synthetic VGG-19 has: NaN/Inf, all zero, absurdly large.
    Two passes over each array (30 ms for 20 million float32 weights, the real file's
    convolutions, on 2 cores)."""
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        raise ModelFileError(f"{path}: layer '{name}' holds NaN or infinite weights")
    largest = float(np.abs(W).max(initial=0.0))
    if largest == 0.0:
        raise ModelFileError(
            f"{path}: layer '{name}' has all-zero weights: the network would output zeros "
            "and no image would change; the file is blank or damaged, download it again"
        )
    largest = max(largest, float(np.abs(b).max(initial=0.0)))
    if largest > MAX_ABS_WEIGHT:
        raise ModelFileError(
            f"{path}: layer '{name}' has weights as large as {largest:.3g} (a trained "
            f"VGG-19's are of order 1; at most {MAX_ABS_WEIGHT:g} is accepted): the costs "
            "would overflow; the file is damaged or not VGG-19, download it again"
        )


def build_vgg_model(
    weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]],
    height: int = CONFIG.IMAGE_HEIGHT,
    width: int = CONFIG.IMAGE_WIDTH,
    *,
    pooling: str = "avg",
    weights_as: str = "constants",
) -> dict[str, Any]:
    """Build the VGG-19 layer dict around a new input Variable in the default graph.

    Args:
        weights: :class:`VGGWeights` (or a dict ``conv name -> (W, b)``).
        height, width: size of the images the graph takes.
        pooling: ``"avg"`` (the course's average pooling) or ``"max"`` (VGG's own max
            pooling); both 2x2, stride 2, SAME padding.
        weights_as: ``"constants"`` (the course's way): W and b are ``tf.constant`` ops, so
            the model runs as soon as ``model['input']`` holds an image. ``"variables"``:
            W and b are non-trainable Variables outside ``GLOBAL_VARIABLES``, filled from
            placeholders by :func:`initialize_vgg_weights`. The GraphDef then holds no
            weights, so the session keeps one copy of them (80 MB at full width) instead of
            one per graph copy, grappler pass and executor; the pipeline
            (:func:`nst_tf1.transfer.style_transfer`, :class:`nst_tf1.graph.TransferGraph`)
            uses this.

    Returns:
        dict: ``input`` is a float32 ``tf.Variable`` of shape (1, height, width, 3); each
        ``convX_Y`` is a (1, h, w, out) ReLU output; each ``avgpoolX`` halves h and w
        (rounding up). Keys are :data:`MODEL_KEYS`: the pooling entries keep the course's
        ``avgpoolX`` names with ``pooling="max"`` too.

    Raises:
        ValueError: ``pooling`` is not one of :data:`POOLING_MODES`, or ``weights_as`` is
            neither ``"constants"`` nor ``"variables"``.
    """
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {', '.join(POOLING_MODES)}, got {pooling!r}")
    if weights_as not in ("constants", "variables"):
        raise ValueError(f"weights_as must be 'constants' or 'variables', got {weights_as!r}")
    tf = graph_mode()
    pool = tf.nn.avg_pool if pooling == "avg" else tf.nn.max_pool
    layers = getattr(weights, "layers", weights)

    def parameter(value, name, key, index):
        if weights_as == "constants":
            return tf.constant(value, name=name)
        feed = tf.placeholder(tf.float32, np.shape(value), name=name + "_value")
        variable = tf.Variable(feed, trainable=False, collections=[], name=name)
        tf.add_to_collection(_WEIGHT_FEEDS, (variable.initializer, feed, key, index))
        return variable

    graph = {}
    with tf.name_scope("vgg19"):
        graph["input"] = tf.Variable(
            np.zeros((1, height, width, CONFIG.COLOR_CHANNELS), dtype=np.float32),
            dtype=tf.float32,
            name="input",
        )
        prev = graph["input"]
        for key in MODEL_KEYS[1:]:
            with tf.name_scope(key):
                if key.startswith("conv"):
                    W, b = layers[key]
                    conv = tf.nn.conv2d(
                        prev, parameter(W, "W", key, 0), strides=[1, 1, 1, 1], padding="SAME"
                    )
                    prev = tf.nn.relu(conv + parameter(b, "b", key, 1))
                else:
                    prev = pool(prev, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
            graph[key] = prev
    return graph


def initialize_vgg_weights(
    sess: Any, weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Fill the weight Variables of ``build_vgg_model(..., weights_as="variables")``.

    One ``sess.run`` feeds every W and b from ``weights``; after it the caller may drop
    ``weights``: the session's Variables hold the only copy. Does nothing for a model
    built with constants.

    Args:
        sess: session of the graph the model was built in.
        weights: the :class:`VGGWeights` (or dict) the model was built from.
    """
    entries = sess.graph.get_collection(_WEIGHT_FEEDS)
    if not entries:
        return
    layers = getattr(weights, "layers", weights)
    sess.run(
        [op for op, _, _, _ in entries],
        {feed: layers[key][index] for _, feed, key, index in entries},
    )


def evaluate_on_image(
    weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]],
    image: np.ndarray,
    fetch: Callable[[dict[str, Any]], Any],
    pooling: str = "avg",
) -> Any:
    """Evaluate VGG-19 once on one image, in a graph and session of their own.

    The course's pattern: build the model at the image's size, run
    ``model['input'].assign(image)``, then ``sess.run`` what is asked for.

    Args:
        weights: :class:`VGGWeights` (or dict ``name -> (W, b)``).
        image: (1, n_H, n_W, 3) normalised image
            (:func:`nst_tf1.images.reshape_and_normalize_image`).
        fetch: model dict -> the tensors to evaluate (built in the new graph).
        pooling: as in :func:`build_vgg_model`.

    Returns:
        ``sess.run(fetch(model))``.
    """
    tf = graph_mode()
    _, height, width, _ = np.shape(image)
    with tf.Graph().as_default(), tf.Session() as sess:
        model = build_vgg_model(weights, height, width, pooling=pooling)
        tensors = fetch(model)
        sess.run(model["input"].assign(image))
        return sess.run(tensors)


def load_vgg_model(
    path: str | os.PathLike[str], height: int = CONFIG.IMAGE_HEIGHT, width: int = CONFIG.IMAGE_WIDTH
) -> dict[str, Any]:
    """The course's ``load_vgg_model``: read the .mat file and build the layer dict.

    Builds into the current default graph; call it inside
    ``with tf.Graph().as_default(), tf.Session() as sess:``.

    Args:
        path: MatConvNet ``imagenet-vgg-verydeep-19.mat`` (or a synthetic file of the same
            structure).
        height, width: image size; for 300x400, ``conv4_2`` is (1, 38, 50, 512) and
            ``avgpool5`` is (1, 10, 13, 512).

    Returns:
        dict: layer name -> tensor, see :func:`build_vgg_model`.

    Raises:
        ModelFileError: see :func:`read_vgg_weights`.
    """
    return build_vgg_model(read_vgg_weights(path), height, width)


def describe_model(
    weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]],
    height: int = CONFIG.IMAGE_HEIGHT,
    width: int = CONFIG.IMAGE_WIDTH,
    pooling: str = "avg",
) -> str:
    """The course's ``pprint(model)``: the layer dict built from ``weights``, as text.

    Builds the model in a graph of its own; each entry reads ``layer -> tensor`` with the
    tensor's name, shape and dtype, keys sorted as ``pprint`` sorts them.

    Returns:
        str
    """
    import pprint

    tf = graph_mode()
    with tf.Graph().as_default():
        return pprint.pformat(build_vgg_model(weights, height, width, pooling=pooling))
