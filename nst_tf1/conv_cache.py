"""The run's copy of the model's convolutions: read the 510 MB .mat once, its 80 MB of
convolution weights ever after.

MatConvNet's ``imagenet-vgg-verydeep-19.mat`` (534,904,783 bytes) is a MATLAB v7 file: its
``layers`` variable is one zlib stream holding 575 MB of float32 weights, 86% of them the
fully connected layers that style transfer never uses. ``scipy.io.loadmat`` inflates all of
it: 2.2 s on the benchmark machine for a synthetic file of that layout and compression
(533,258,166 bytes), against 0.4 s for the same file uncompressed and under 0.1 s for its
convolutions alone (benchmarks/README.md, round 19). The course's run and ``--fast`` pay it
on every run.

So a run reads the .mat with :func:`nst_tf1.vgg.read_vgg_weights` (``loadmat``, every check)
the first time, and keeps its convolutions as an uncompressed ``.npz`` in the per-user cache
(:func:`nst_tf1.config.cache_dir`, ``conv-weights/``), one per model path; later runs read
that, for as long as the model file has the size and modification time it had. The arrays are
the ones ``read_vgg_weights`` returned, bit for bit. Only a file over twice the size of its
convolutions is cached (one holding the fully connected layers): a file of the convolutions
alone reads about as fast as their copy would. The copy is a convenience: one that cannot be
written (a read-only or full disk) or read (corrupt, of another format) is passed over, and
the .mat is read as before.

The course's functions (``load_vgg_model``, the notebook) always read the .mat itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from typing import Callable

import numpy as np

from . import vgg
from .config import cache_dir
from .vgg import VGG19_CONV_LAYERS, VGGWeights

__all__ = ["read_weights", "cache_path", "current_copy", "FORMAT"]

#: The copies' format; a copy of another format is read from the .mat again and replaced.
FORMAT = 1
#: Cache a model file over this many times the size of its convolutions' arrays.
WORTH_CACHING = 2.0
#: Seconds after which a temporary file in the cache folder is taken to be a killed writer's.
ABANDONED_AFTER = 600.0


#: What reading a damaged copy, or one of another format, raises.
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def cache_path(model: str) -> str:
    """Where the copy of ``model``'s convolutions goes: ``<cache>/conv-weights/<id>.npz``,
    the id a digest of the model's absolute, resolved path."""
    key = hashlib.sha256(os.path.realpath(model).encode("utf-8", "surrogateescape"))
    return os.path.join(cache_dir(), "conv-weights", key.hexdigest()[:24] + ".npz")


def current_copy(model: str | os.PathLike[str]) -> str | None:
    """The path of ``model``'s copy when there is one the next run would read (written from
    the file as it is now), else ``None``. Reads the copy's record of its source alone."""
    model = os.fspath(model)
    source, path = _source(model), cache_path(model)
    if source is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as copy:
            return path if json.loads(str(copy["source"])) == source else None
    except _UNREADABLE:
        return None


def read_weights(
    model: str | os.PathLike[str], copied: Callable[[str, int], object] | None = None
) -> VGGWeights:
    """The convolutions of the MatConvNet file ``model``: from its copy when it is current,
    else by :func:`~nst_tf1.vgg.read_vgg_weights`, then copied when that is worth it.

    Args:
        model: path of the ``.mat`` file.
        copied: called with the copy's path and size in bytes once a copy has been written.

    Returns:
        VGGWeights: as :func:`~nst_tf1.vgg.read_vgg_weights` returns them (``path`` is
        ``model``).

    Raises:
        ModelFileError: as :func:`~nst_tf1.vgg.read_vgg_weights` (the .mat is read, and
            checked, whenever there is no current copy).
    """
    model = os.fspath(model)
    source = _source(model)
    path = cache_path(model)
    cached = _read_copy(path, source, model) if source is not None else None
    if cached is not None:
        return cached
    weights = vgg.read_vgg_weights(model)
    if source is not None and source["size"] > WORTH_CACHING * _conv_bytes(weights):
        try:
            _write_copy(path, weights, source)
        except OSError:
            return weights  # a read-only or full disk: the next run reads the .mat again
        if copied is not None:
            copied(path, os.path.getsize(path))
    return weights


def _source(model):
    """What the copy must match: the model file's size and modification time (ns)."""
    try:
        stat = os.stat(model)
    except OSError:
        return None  # read_vgg_weights says what is wrong
    return {"format": FORMAT, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _conv_bytes(weights):
    return sum(W.nbytes + b.nbytes for W, b in weights.layers.values())


def _read_copy(path, source, model):
    """The copy's weights, or ``None`` when there is none, it is of another model file
    state, or it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as copy:
            if json.loads(str(copy["source"])) != source:
                return None
            layers = {
                layer.name: (copy[f"{layer.name}_W"], copy[f"{layer.name}_b"])
                for layer in VGG19_CONV_LAYERS
            }
            mean_pixel = copy["mean_pixel"]
            layout = str(copy["layout"])
    except _UNREADABLE:
        return None
    arrays = [mean_pixel, *(array for pair in layers.values() for array in pair)]
    if any(array.dtype != np.float32 for array in arrays):
        return None
    return VGGWeights(model, layout, layers, mean_pixel)


def _write_copy(path, weights, source):
    """Write the copy atomically (:func:`nst_tf1.images.write_atomically`), after removing
    what a writer killed mid-write left (its temporary file: 80 MB)."""
    from .images import remove_temporaries, write_atomically

    arrays = {"source": np.array(json.dumps(source)), "layout": np.array(weights.layout)}
    arrays["mean_pixel"] = weights.mean_pixel
    for name, (W, b) in weights.layers.items():
        arrays[f"{name}_W"], arrays[f"{name}_b"] = W, b
    encoded = io.BytesIO()
    np.savez(encoded, **arrays)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # What writers killed mid-write left (a live writer's file is seconds old at most).
    remove_temporaries(os.path.dirname(path), older_than=ABANDONED_AFTER)
    write_atomically(path, encoded.getbuffer())
