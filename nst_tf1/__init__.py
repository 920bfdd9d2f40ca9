"""nst-tf1: the deeplearning.ai course's neural style transfer, as a TF1 graph and session.

The course's functions keep their names, so the assignment's notebook and this package read
side by side::

    from nst_tf1 import CONFIG, load_vgg_model, compute_content_cost, gram_matrix, ...

Importing the package does no work: TensorFlow is imported by the functions that build
graphs, when they are first called, and the names below are loaded on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS = {
    "CONFIG": "config",
    "VGG_URL": "config",
    "load_vgg_model": "vgg",
    "read_vgg_weights": "vgg",
    "build_vgg_model": "vgg",
    "ModelFileError": "vgg",
    "compute_content_cost": "costs",
    "gram_matrix": "costs",
    "compute_layer_style_cost": "costs",
    "compute_style_cost": "costs",
    "total_cost": "costs",
    "activation_gram": "costs",
    "symmetric_gram": "costs",
    "compute_gram_style_cost": "costs",
    "total_variation_cost": "costs",
    "load_image": "images",
    "reshape_and_normalize_image": "images",
    "generate_noise_image": "images",
    "save_image": "images",
    "ImageInputError": "images",
    "TransferGraph": "graph",
    "model_nn": "optimize",
    "model_lbfgs": "optimize",
    "Step": "optimize",
    "NonFiniteCostError": "optimize",
    "Settings": "settings",
    "style_transfer": "transfer",
    "Runner": "transfer",
    "run": "running",
    "InputError": "errors",
    "RunFailed": "errors",
    "Interrupted": "errors",
}

__all__ = sorted(_EXPORTS)


# No return annotation (Any for type checkers): typing is not imported with the package, so
# that as little as possible runs before nst_tf1.__main__ can catch a Ctrl-C at the start.
def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nst_tf1' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
