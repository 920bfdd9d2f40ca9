"""The course's cost functions, as TF1 graph ops.

Notation (the course's): ``a_C``, ``a_S``, ``a_G`` are a layer's activations for the content,
style and generated images, each of shape (1, n_H, n_W, n_C).

    J_content = 1 / (4 n_H n_W n_C) * sum (a_C - a_G)^2
    G(A)      = A A^T                          with A of shape (n_C, n_H n_W)
    J_style^[l] = 1 / (4 n_C^2 (n_H n_W)^2) * sum (G(a_S) - G(a_G))^2
    J_style   = sum over style layers of coefficient[l] * J_style^[l]
    J         = alpha J_content + beta J_style

Beyond the course (used only when asked for; the course's functions above are unchanged):

    J_style^[l] against a target Gram G_T (a blend of several styles' Grams, or one style's
                Gram rescaled from another image size): the same equation with G_T for G(a_S)
    J_tv      = sum (x[i+1, j] - x[i, j])^2 + sum (x[i, j+1] - x[i, j])^2   (total variation,
                summed over the (1, n_H, n_W, 3) image's rows, columns and channels)
    G(a) for L-BFGS = F^T F with F = a reshaped to (n_H n_W, n_C), the same matrix as A A^T
                (:func:`symmetric_gram`), with dJ/dF = F (dJ/dG + dJ/dG^T)
    J_detail  = beta sum over the style layers of conv1..conv3 (:func:`detail_layers`) of
                coefficient[l] * J_style^[l]   (``--detail-iterations``; built by
                nst_tf1.graph, minimised before J by nst_tf1.transfer)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .config import CONFIG

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "compute_content_cost",
    "gram_matrix",
    "compute_layer_style_cost",
    "compute_style_cost",
    "total_cost",
    "activation_gram",
    "symmetric_gram",
    "compute_gram_style_cost",
    "total_variation_cost",
    "hold_in_variable",
    "DETAIL_BLOCKS",
    "detail_layers",
]

#: The blocks of VGG-19 whose style layers the detail phase (``--detail-iterations``)
#: minimises. After the half size, the upsampled image lacks the fine and middle detail of a
#: texture: on coffee + gravel conv1_1 to conv3_1 held 99% of J_style, at 71 to 284 times the
#: course's values, and they need only the first 5 of the 13 convolutions up to conv5_1 (an
#: evaluation of them took 0.50 s of CPU against 1.07 s for J and its gradient at 300x400).
#: conv1_1 and conv2_1 alone stalled J_style at 1.24-1.64 times the course's; adding conv4_1
#: made an evaluation 0.78 s (benchmarks/README.md, round 11).
DETAIL_BLOCKS = ("conv1_", "conv2_", "conv3_")


def _unroll(a: Any, n_H: int, n_W: int, n_C: int) -> Any:
    """(1, n_H, n_W, n_C) -> (n_C, n_H*n_W), channel-major.

    The reshape to (n_H*n_W, n_C) keeps each pixel's channels together; the transpose then
    makes each row one channel's map. Reshaping straight to (n_C, n_H*n_W) would mix pixels
    and channels (the course's known wrong answer).
    """
    import tensorflow.compat.v1 as tf

    return tf.transpose(tf.reshape(a, [n_H * n_W, n_C]))


def compute_content_cost(a_C: Any, a_G: Any) -> Any:
    """Content cost J_content = 1 / (4 n_H n_W n_C) * sum (a_C - a_G)^2.

    Args:
        a_C: content activations, (1, n_H, n_W, n_C) float32 array or tensor.
        a_G: generated activations, (1, n_H, n_W, n_C) tensor.

    Returns:
        float32 scalar tensor.
    """
    import tensorflow.compat.v1 as tf

    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_C_unrolled = tf.reshape(a_C, [m, n_H * n_W, n_C])
    a_G_unrolled = tf.reshape(a_G, [m, n_H * n_W, n_C])
    return tf.reduce_sum(tf.square(a_C_unrolled - a_G_unrolled)) / (4.0 * n_H * n_W * n_C)


def gram_matrix(A: Any) -> Any:
    """Gram matrix G_A = A A^T.

    Args:
        A: (n_C, n_H*n_W) tensor, one row per channel.

    Returns:
        (n_C, n_C) tensor; entry (i, j) is the inner product of channels i and j.
    """
    import tensorflow.compat.v1 as tf

    return tf.matmul(A, tf.transpose(A))


def compute_layer_style_cost(a_S: Any, a_G: Any) -> Any:
    """One layer's style cost J_style^[l] = 1 / (4 n_C^2 (n_H n_W)^2) * sum (G_S - G_G)^2.

    Args:
        a_S: style activations, (1, n_H, n_W, n_C) float32 array or tensor.
        a_G: generated activations, (1, n_H, n_W, n_C) tensor.

    Returns:
        float32 scalar tensor.
    """
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    GS = gram_matrix(_unroll(a_S, n_H, n_W, n_C))
    GG = gram_matrix(_unroll(a_G, n_H, n_W, n_C))
    return compute_gram_style_cost(GS, a_G, GG)


def activation_gram(a: Any) -> Any:
    """Gram matrix of one layer's activations: ``gram_matrix`` of the (n_C, n_H*n_W) unrolling.

    Args:
        a: (1, n_H, n_W, n_C) tensor with a static shape.

    Returns:
        (n_C, n_C) tensor, the G(a_S) / G(a_G) of :func:`compute_layer_style_cost`.
    """
    _, n_H, n_W, n_C = a.get_shape().as_list()
    return gram_matrix(_unroll(a, n_H, n_W, n_C))


def symmetric_gram(a: Any) -> Any:
    """G(a) = A A^T as :func:`activation_gram`, with the gradient of a symmetric product.

    G = F^T F with F the (n_H*n_W, n_C) reshape of ``a``, which is A^T: the same sums of
    products as ``gram_matrix(A)``, taken by one matmul of F with itself (transposed in the
    kernel), without the two transposed copies of the activations that the course's
    ``_unroll`` and ``gram_matrix`` make. Its gradient is written out: for any J(G),

        dJ/dF = F (dJ/dG + dJ/dG^T)        (n_H*n_W, n_C)

    one matmul, where TensorFlow's gradient of ``matmul(A, transpose(A))`` takes two, two
    more transposes and their sum. Used by the L-BFGS graphs (``nst_tf1.graph``); the
    course's Adam graph keeps the course's ``gram_matrix``. On the trained stand-in at
    300x400 (benchmarks/README.md, round 14) an evaluation of the detail objective took 0.88
    of the time with it, one of J 0.92-0.93, in fp32 and bf16.

    Args:
        a: (1, n_H, n_W, n_C) tensor with a static shape.

    Returns:
        (n_C, n_C) tensor, equal to ``activation_gram(a)`` up to the order of the sums.
    """
    import tensorflow.compat.v1 as tf

    _, n_H, n_W, n_C = a.get_shape().as_list()

    @tf.custom_gradient
    def gram(F):
        def grad(dG):
            return tf.matmul(F, dG + tf.transpose(dG))

        return tf.matmul(F, F, transpose_a=True), grad

    return gram(tf.reshape(a, [n_H * n_W, n_C]))


def compute_gram_style_cost(G_S: Any, a_G: Any, G_G: Any = None) -> Any:
    """One layer's style cost against a given target Gram matrix G_S.

    J_style^[l] = 1 / (4 n_C^2 (n_H n_W)^2) * sum (G_S - G(a_G))^2, the equation of
    :func:`compute_layer_style_cost` with the style's Gram given instead of its activations:
    several styles' Grams can be blended, and a style image of another size can supply one
    (rescaled to a_G's n_H n_W, see :class:`nst_tf1.transfer.Runner`).

    Args:
        G_S: (n_C, n_C) target Gram matrix, float32 array or tensor.
        a_G: generated activations, (1, n_H, n_W, n_C) tensor.
        G_G: ``activation_gram(a_G)`` if already built (saves building it twice).

    Returns:
        float32 scalar tensor.
    """
    import tensorflow.compat.v1 as tf

    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    if G_G is None:
        G_G = activation_gram(a_G)
    return tf.reduce_sum(tf.square(G_S - G_G)) / (4.0 * n_C**2 * (n_H * n_W) ** 2)


def total_variation_cost(image: Any) -> Any:
    """Total variation J_tv = sum (x[i+1, j] - x[i, j])^2 + sum (x[i, j+1] - x[i, j])^2.

    Sums of squared differences between vertical and horizontal neighbours over every
    channel (the squared form jcjohnson/neural-style uses); a smooth image has a small J_tv,
    high-frequency noise a large one. At 300x400 the course's ``louvre_small.jpg`` has
    J_tv = 3.0e8 and its noisy initial image (noise ratio 0.6) 1.2e8: compare ``tv_weight``
    times these with the total cost J the run prints.

    Args:
        image: (1, n_H, n_W, 3) tensor (the generated image Variable).

    Returns:
        float32 scalar tensor.
    """
    import tensorflow.compat.v1 as tf

    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx))


def hold_in_variable(sess: Any, value: np.ndarray, name: str = "held") -> Any:
    """Put an array into a new non-trainable Variable now, instead of a constant.

    A ``tf.constant`` copies its value into the GraphDef, and TensorFlow copies that again
    for the session's graph, for grappler at every new ``sess.run`` signature and for every
    executor. A Variable initialised from a placeholder keeps one copy in the session. The
    Variable is outside ``GLOBAL_VARIABLES``, so ``tf.global_variables_initializer()`` leaves
    it alone.

    Args:
        sess: the session of the default graph.
        value: array to hold.
        name: name of the Variable.

    Returns:
        tf.Variable: float32, of ``value``'s shape, already initialised in ``sess``.
    """
    import numpy as np
    import tensorflow.compat.v1 as tf

    value = np.asarray(value, dtype=np.float32)
    feed = tf.placeholder(tf.float32, value.shape, name=name + "_value")
    variable = tf.Variable(feed, trainable=False, collections=[], name=name)
    sess.run(variable.initializer, {feed: value})
    return variable


def compute_style_cost(
    sess: Any,
    model: dict[str, Any],
    style_layers: Sequence[tuple[str, float]] = CONFIG.STYLE_LAYERS,
    *,
    return_layer_costs: bool = False,
    a_S_as: str = "constants",
) -> Any:
    """Style cost J_style = sum of coefficient * J_style^[l] over ``style_layers``.

    The style image must be the value of ``model['input']`` when this is called: each
    layer's ``a_S`` is evaluated now with ``sess.run`` and enters the graph as a constant,
    while ``a_G`` stays the layer's tensor, so it follows whatever image is assigned later.

    The ops live under the name scope ``style_cost``: one sub-scope per layer
    (``style_cost/conv1_1``, ...) and the weighted sum as ``style_cost/J_style``.

    Args:
        sess: the session holding the model.
        model: layer dict from :func:`nst_tf1.load_vgg_model`.
        style_layers: (layer name, coefficient) pairs.
        return_layer_costs: also return each layer's unweighted J_style^[l] (for logging);
            ``False`` keeps the course's return value.
        a_S_as: ``"constants"`` (the course's) or ``"variables"``: each ``a_S`` is held in a
            Variable (:func:`hold_in_variable`), which keeps the graph small; at 300x400 the
            five ``a_S`` are 59 MB, and as constants they cost several times that in memory.

    Returns:
        float32 scalar tensor J_style; with ``return_layer_costs``, the pair
        ``(J_style, {layer name: J_style^[l] scalar tensor})``.
    """
    import tensorflow.compat.v1 as tf

    if a_S_as not in ("constants", "variables"):
        raise ValueError(f"a_S_as must be 'constants' or 'variables', got {a_S_as!r}")
    names = [name for name, _ in style_layers]
    # One run evaluates every style layer's a_S: (1, n_H, n_W, n_C) arrays.
    a_S_values = sess.run([model[name] for name in names])
    J_style = 0
    layer_costs = {}
    with tf.name_scope("style_cost"):
        for (name, coeff), a_S in zip(style_layers, a_S_values):
            with tf.name_scope(name):
                if a_S_as == "variables":
                    a_S = hold_in_variable(sess, a_S, "a_S")
                layer_costs[name] = compute_layer_style_cost(a_S, model[name])
                J_style += coeff * layer_costs[name]
        if layer_costs:
            J_style = tf.identity(J_style, name="J_style")
    if return_layer_costs:
        return J_style, layer_costs
    return J_style


def total_cost(
    J_content: Any, J_style: Any, alpha: float = CONFIG.ALPHA, beta: float = CONFIG.BETA
) -> Any:
    """Total cost J = alpha * J_content + beta * J_style.

    Args:
        J_content, J_style: scalar tensors (or floats).
        alpha, beta: weights; the course's are 10 and 40.

    Returns:
        scalar tensor (or float).
    """
    return alpha * J_content + beta * J_style


def detail_layers(style_layers: Sequence[tuple[str, float]]) -> list[str]:
    """The style layers (names, in order) that the detail phase minimises: those of
    :data:`DETAIL_BLOCKS` with a coefficient above 0."""
    return [name for name, coeff in style_layers if coeff > 0 and name.startswith(DETAIL_BLOCKS)]
