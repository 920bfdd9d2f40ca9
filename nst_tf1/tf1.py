"""TensorFlow as the course uses it: ``tensorflow.compat.v1`` with v2 behaviour disabled
(graphs, sessions and the course's reference variables), the one way this package gets it
for building graphs.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["graph_mode"]


def graph_mode() -> Any:
    """Import ``tensorflow.compat.v1`` and disable v2 behaviour (for the whole process: see
    :mod:`nst_tf1.running`); the first call imports TensorFlow, later ones cost nothing.

    ``disable_v2_behavior`` calls the deprecated ``disable_resource_variables``, whose
    warning ("non-resource variables are not supported in the long term") reached every
    caller's stderr; it is silenced for that call alone.

    Returns:
        the ``tensorflow.compat.v1`` module.
    """
    import tensorflow.compat.v1 as tf

    try:
        from tensorflow.python.util.deprecation import silence
    except ImportError:  # a TensorFlow without it: the warning shows, nothing else changes
        silence = contextlib.nullcontext
    with silence():
        tf.disable_v2_behavior()
    return tf
