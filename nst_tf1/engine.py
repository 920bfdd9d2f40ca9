"""Beyond the course: several styles, colour preservation, TV loss, initial images, pooling,
layers, coarse-to-fine scales and batches, on the same TF1 graph.

:func:`nst_tf1.transfer.style_transfer` is the course's flow and stays the reference; this
module runs the same cost graph with targets that can be changed without rebuilding it:

* :class:`TransferGraph` builds, for one image size, VGG-19 around the input Variable,
  J_content against a non-trainable Variable ``a_C``, J_style against one non-trainable
  Gram Variable ``G_S`` per style layer, the optional total variation term and Adam. It is
  then finalised: a new content/style pair is a few placeholder-fed assign ops (and one
  ``global_variables_initializer`` run that resets Adam), never new ops. The targets are
  computed the course's way: assign the image to ``model['input']`` and evaluate the layer
  (``a_C``) or its Gram matrix (``G(a_S)``) with ``sess.run``.

      J = alpha J_content + beta sum_l coeff_l J_style^[l](G_T^[l]) (+ tv_weight J_tv)

* Several styles: each style image's Grams are evaluated while it is the input and blended
  with normalised weights, G_T^[l] = sum_k w_k G(a_Sk)^[l], sum_k w_k = 1. For weights that
  sum to 1, sum_k w_k ||G_k - G||^2 = ||G_T - G||^2 + a constant, so blending the targets
  has the same gradients as blending the K style costs, with one Gram difference per layer;
  weights (1, 0) give exactly the one-style targets.
* A style image of another size than the generated image (``style_scale`` != 1) is
  evaluated in a graph of its own size; its Gram, a sum over its n_H n_W positions, is
  rescaled by (n_H n_W)_G / (n_H n_W)_S so it compares with the generated image's.
* :class:`Runner` keeps one :class:`TransferGraph` per size (built once, reused for every
  image of that size), caches Gram targets per style image, and runs coarse-to-fine:
  with ``multires=K`` scale k (k = 1..K) is 1 / 2^(K-k) of the output size, each scale in
  its own graph and session, the previous scale's result upsampled (bicubic) as the next
  scale's initial image.
"""

import collections
import hashlib
import os

import numpy as np

from .colors import luminance_image, match_color_histogram, match_luminance, recombine_luminance
from .config import CONFIG
from .costs import (
    activation_gram,
    compute_content_cost,
    compute_gram_style_cost,
    total_cost,
    total_variation_cost,
)
from .images import generate_noise_image, load_image, reshape_and_normalize_image, resize_array
from .transfer import OPTIMIZERS, model_lbfgs, model_nn, session_config
from .vgg import build_vgg_model, initialize_vgg_weights

__all__ = [
    "INIT_MODES",
    "PRESERVE_COLORS",
    "Settings",
    "Progress",
    "TransferGraph",
    "style_grams_in_own_graph",
    "scale_sizes",
    "Runner",
]

#: Named initial images; anything else given as ``init`` is an image path or array.
INIT_MODES = ("noise", "content", "style")
#: Colour preservation methods, see :mod:`nst_tf1.colors`.
PRESERVE_COLORS = ("luminance", "histogram")

Settings = collections.namedtuple(
    "Settings",
    "style_layers content_layer pooling alpha beta tv_weight learning_rate num_iterations "
    "save_every noise_ratio seed init preserve_colors style_scale multires optimizer precision",
    defaults=(
        tuple(CONFIG.STYLE_LAYERS), CONFIG.CONTENT_LAYER, "avg", CONFIG.ALPHA, CONFIG.BETA, 0.0,
        CONFIG.LEARNING_RATE, CONFIG.NUM_ITERATIONS, CONFIG.SAVE_EVERY, CONFIG.NOISE_RATIO,
        None, "noise", None, 1.0, 1, "adam", "fp32",
    ),
)
Settings.__doc__ = """Everything a :class:`Runner` needs besides the weights and the images.

The defaults are the course's; each field is one command-line option (``--tv-weight`` is
``tv_weight`` and so on). ``init`` is ``"noise"`` (the course's noisy content, with
``noise_ratio``), ``"content"``, ``"style"`` (the first style image) or an image path/array;
``preserve_colors`` is ``None``, ``"luminance"`` or ``"histogram"``; ``multires`` is the
number of scales K; ``optimizer`` (``"adam"`` or ``"lbfgs"``) and ``precision`` (``"fp32"``
or ``"bf16"``) are those of :func:`nst_tf1.transfer.style_transfer`.
"""

Progress = collections.namedtuple("Progress", "scale scales height width step")
Progress.__doc__ = """One optimisation step of a :meth:`Runner.run`.

Attributes:
    scale, scales: 1-based index of the scale and their number K (1 without multires).
    height, width: the size optimised at this scale.
    step: :class:`nst_tf1.transfer.Step`; with luminance-only colour preservation its image
        is already recombined with the content's chrominance.
"""


class TransferGraph:
    """The cost graph for one image size, built once and reused for many content/style pairs.

    Args:
        weights: :class:`nst_tf1.vgg.VGGWeights` (or dict ``name -> (W, b)``).
        height, width: the generated image's size.
        style_layers, content_layer, pooling, alpha, beta, tv_weight, learning_rate: as in
            :class:`Settings`. ``tv_weight == 0`` adds no total variation op.
        optimizer, precision: as in :class:`Settings`; with ``"lbfgs"`` the graph holds dJ/dG
            for :func:`nst_tf1.transfer.model_lbfgs` instead of Adam's update.

    The VGG weights are held in Variables (``weights_as="variables"``), filled once when
    the session opens, so that the graph and its executors carry no copy of them.

    Attributes:
        graph, sess: the ``tf.Graph`` (finalised) and its ``tf.Session``.
        model: the layer dict of :func:`nst_tf1.vgg.build_vgg_model`.
        costs: the (J, J_content, J_style) tensors.
        layer_pixels: n_H * n_W of each style layer, in ``style_layers`` order.
    """

    def __init__(self, weights, height, width, *, style_layers=CONFIG.STYLE_LAYERS,
                 content_layer=CONFIG.CONTENT_LAYER, pooling="avg", alpha=CONFIG.ALPHA,
                 beta=CONFIG.BETA, tv_weight=0.0, learning_rate=CONFIG.LEARNING_RATE,
                 optimizer="adam", precision="fp32"):
        import tensorflow.compat.v1 as tf

        tf.disable_v2_behavior()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                             f"got {optimizer!r}")
        config = session_config(precision)
        self.optimizer = optimizer
        self.height, self.width = height, width
        self.style_layers = [(name, coeff) for name, coeff in style_layers]
        self.graph = tf.Graph()
        with self.graph.as_default():
            model = build_vgg_model(weights, height, width, pooling=pooling,
                                    weights_as="variables")
            self._image = tf.placeholder(tf.float32, (1, height, width, 3), name="image")
            self._assign_image = model["input"].assign(self._image)

            out = model[content_layer]
            with tf.name_scope("content_cost"):
                self._content_out = out
                a_C = tf.Variable(np.zeros(out.shape.as_list(), np.float32), trainable=False,
                                  name="a_C")
                self._a_C_value = tf.placeholder(tf.float32, a_C.shape, name="a_C_value")
                self._assign_a_C = a_C.assign(self._a_C_value)
                J_content = compute_content_cost(a_C, out)

            self._grams, self._gram_values, self._assign_grams = [], [], []
            self.layer_pixels = []
            J_style = 0
            with tf.name_scope("style_cost"):
                for name, coeff in self.style_layers:
                    with tf.name_scope(name):
                        _, n_H, n_W, n_C = model[name].shape.as_list()
                        G_G = activation_gram(model[name])
                        G_S = tf.Variable(np.zeros((n_C, n_C), np.float32), trainable=False,
                                          name="G_S")
                        value = tf.placeholder(tf.float32, (n_C, n_C), name="G_S_value")
                        self._grams.append(G_G)
                        self._gram_values.append(value)
                        self._assign_grams.append(G_S.assign(value))
                        self.layer_pixels.append(n_H * n_W)
                        J_style += coeff * compute_gram_style_cost(G_S, model[name], G_G)

            with tf.name_scope("total_cost"):
                J = total_cost(J_content, J_style, alpha=alpha, beta=beta)
                if tv_weight:
                    J = J + tv_weight * total_variation_cost(model["input"])
            self.train_step = self._gradient = None
            if optimizer == "adam":
                with tf.name_scope("optimizer"):
                    self.train_step = tf.train.AdamOptimizer(learning_rate).minimize(J)
            else:
                with tf.name_scope("lbfgs"):
                    (self._gradient,) = tf.gradients(J, model["input"])
            self._reset = tf.global_variables_initializer()
            self.graph.finalize()
        self.model = model
        self.costs = (J, J_content, J_style)
        self.sess = tf.Session(graph=self.graph, config=config)
        initialize_vgg_weights(self.sess, weights)

    def close(self):
        """Close the session."""
        self.sess.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _assign(self, image):
        self.sess.run(self._assign_image, {self._image: image})

    def content_target(self, content):
        """``a_C``: the content layer evaluated while ``content`` (1, H, W, 3) is the input."""
        self._assign(content)
        return self.sess.run(self._content_out)

    def style_grams(self, style):
        """``G(a_S)`` of every style layer, evaluated while ``style`` (1, H, W, 3) is the input."""
        self._assign(style)
        return self.sess.run(self._grams)

    def run(self, a_C, grams, initial, num_iterations=CONFIG.NUM_ITERATIONS,
            save_every=CONFIG.SAVE_EVERY, should_stop=None):
        """Reset Adam, set the targets and the initial image, and optimise.

        Args:
            a_C: content target, the shape of the content layer.
            grams: target Gram matrix of each style layer.
            initial: (1, H, W, 3) normalised initial image.
            num_iterations, save_every, should_stop: as in
                :func:`nst_tf1.transfer.model_nn`.

        Yields:
            :class:`nst_tf1.transfer.Step`, as :func:`nst_tf1.transfer.model_nn`.
        """
        self.sess.run(self._reset)
        feed = {self._a_C_value: a_C}
        feed.update(zip(self._gram_values, grams))
        self.sess.run([self._assign_a_C, *self._assign_grams], feed)
        self._assign(initial)
        if self.optimizer == "lbfgs":
            yield from model_lbfgs(self.sess, self.model, self.costs, num_iterations,
                                   save_every, should_stop=should_stop, gradient=self._gradient)
            return
        yield from model_nn(self.sess, self.model, self.costs, self.train_step,
                            num_iterations, save_every, should_stop=should_stop)


def style_grams_in_own_graph(weights, style, style_layers=CONFIG.STYLE_LAYERS, pooling="avg"):
    """``G(a_S)`` of each style layer for a style image of any size, in a graph of its own.

    The style is assigned to ``model['input']`` and the Grams evaluated, as the course does.

    Args:
        weights: VGG weights.
        style: (1, h, w, 3) normalised style image.
        style_layers, pooling: as in :class:`Settings`.

    Returns:
        (grams, pixels): the (n_C, n_C) arrays and the n_H * n_W of each layer.
    """
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    _, height, width, _ = np.shape(style)
    with tf.Graph().as_default(), tf.Session() as sess:
        model = build_vgg_model(weights, height, width, pooling=pooling)
        grams = [activation_gram(model[name]) for name, _ in style_layers]
        sess.run(model["input"].assign(style))
        pixels = [model[name].shape[1] * model[name].shape[2] for name, _ in style_layers]
        return sess.run(grams), [int(p) for p in pixels]


def scale_sizes(height, width, scales):
    """Sizes of the K coarse-to-fine scales: (height, width) / 2^(K-k) for k = 1..K."""
    return [
        (max(1, round(height / 2 ** (scales - k))), max(1, round(width / 2 ** (scales - k))))
        for k in range(1, scales + 1)
    ]


def _at_size(source, height, width):
    """(height, width, 3) float32 RGB 0..255 from an image path or an RGB array."""
    if isinstance(source, (str, os.PathLike)):
        return load_image(source, height, width)
    return resize_array(source, height, width)


def _normalised_weights(style_weights, count):
    if style_weights is None:
        return [1.0 / count] * count
    if len(style_weights) != count:
        raise ValueError(f"{len(style_weights)} style weights for {count} style images")
    if any(not 0 <= w < float("inf") for w in style_weights) or sum(style_weights) <= 0:
        raise ValueError("style weights must be >= 0 with a positive sum")
    total = float(sum(style_weights))
    return [w / total for w in style_weights]


class Runner:
    """Runs style transfers with one set of weights and :class:`Settings`, reusing graphs.

    Graphs are kept per size (at most ``max(multires, 1)`` open at once, least recently
    used closed first), so a batch of same-size images builds each scale's graph once.
    Gram targets are cached per style image (by content hash) and size.

    Attributes:
        graphs_built: how many :class:`TransferGraph` were built so far.
    """

    def __init__(self, weights, settings=None):
        self.weights = weights
        self.settings = settings or Settings()
        self._graphs = collections.OrderedDict()
        self._grams = {}
        self.graphs_built = 0

    def close(self):
        """Close every open session."""
        while self._graphs:
            self._graphs.popitem(last=False)[1].close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def graph(self, height, width):
        """The :class:`TransferGraph` of this size, built on first use."""
        key = (height, width)
        if key in self._graphs:
            self._graphs.move_to_end(key)
            return self._graphs[key]
        while len(self._graphs) >= max(self.settings.multires, 1):
            self._graphs.popitem(last=False)[1].close()
        s = self.settings
        graph = TransferGraph(
            self.weights, height, width, style_layers=s.style_layers,
            content_layer=s.content_layer, pooling=s.pooling, alpha=s.alpha, beta=s.beta,
            tv_weight=s.tv_weight, learning_rate=s.learning_rate, optimizer=s.optimizer,
            precision=s.precision,
        )
        self.graphs_built += 1
        self._graphs[key] = graph
        return graph

    def _style_grams(self, graph, style):
        """Gram targets of one normalised style image, rescaled to ``graph``'s layer sizes."""
        key = (hashlib.sha1(style.tobytes()).hexdigest(), style.shape)
        if key not in self._grams:
            if style.shape[1:3] == (graph.height, graph.width):
                self._grams[key] = (graph.style_grams(style), list(graph.layer_pixels))
            else:
                self._grams[key] = style_grams_in_own_graph(
                    self.weights, style, graph.style_layers, self.settings.pooling)
        grams, pixels = self._grams[key]
        return [
            g if p == q else (g * np.float64(q / p)).astype(np.float32)
            for g, p, q in zip(grams, pixels, graph.layer_pixels)
        ]

    def _prepare(self, content, style):
        """The content and style images the network sees, after colour preservation."""
        mode = self.settings.preserve_colors
        if mode == "luminance":
            grey = luminance_image(content)
            return grey, match_luminance(luminance_image(style), grey)
        if mode == "histogram":
            return content, match_color_histogram(style, content)
        return content, style

    def run(self, content, styles, style_weights=None, should_stop=None):
        """Style transfer of one content image with one or more (blended) style images.

        Args:
            content: image path, or (H, W, 3) RGB array in 0..255; its size (H, W) is the
                output's (a path is read at CONFIG's 300x400: pass an array for other sizes).
            styles: list of style image paths or RGB arrays (any size: each is resized to
                ``style_scale`` times the generated size at every scale).
            style_weights: one weight >= 0 per style (normalised to sum 1); default equal.
            should_stop: optional callable polled before every update (see
                :func:`nst_tf1.transfer.model_nn`); when it ends a scale early, that scale's
                last Step (the current image) is the last one yielded.

        Yields:
            :class:`Progress`, one per step of every scale.

        Raises:
            ValueError: bad weights or settings; nst_tf1.images.ImageInputError: unreadable
                image files.
        """
        s = self.settings
        if not styles:
            raise ValueError("at least one style image is needed")
        weights = _normalised_weights(style_weights, len(styles))
        if isinstance(content, (str, os.PathLike)):
            content = load_image(content)
        content = np.asarray(content, dtype=np.float32)
        height, width = content.shape[:2]
        sizes = scale_sizes(height, width, s.multires)
        previous = None
        for k, (h, w) in enumerate(sizes, start=1):
            c = _at_size(content, h, w)
            hs, ws = max(1, round(h * s.style_scale)), max(1, round(w * s.style_scale))
            targets = None
            for style, weight in zip(styles, weights):
                c_net, s_net = self._prepare(c, _at_size(style, hs, ws))
                graph = self.graph(h, w)
                grams = self._style_grams(graph, reshape_and_normalize_image(s_net))
                if targets is None:
                    targets = [np.float64(weight) * g for g in grams]
                else:
                    targets = [t + np.float64(weight) * g for t, g in zip(targets, grams)]
            targets = [t.astype(np.float32) for t in targets]
            content_input = reshape_and_normalize_image(c_net)
            a_C = graph.content_target(content_input)
            if previous is not None:
                initial = reshape_and_normalize_image(resize_array(previous, h, w))
            else:
                initial = self._initial(content_input, c, styles[0], h, w)
            for step in graph.run(a_C, targets, initial, s.num_iterations, s.save_every,
                                  should_stop=should_stop):
                if step.iteration == s.num_iterations:
                    previous = step.image[0] + CONFIG.MEANS[0]
                if s.preserve_colors == "luminance" and step.image is not None:
                    rgb = recombine_luminance(step.image[0] + CONFIG.MEANS[0], c)
                    step = step._replace(image=reshape_and_normalize_image(rgb))
                yield Progress(k, len(sizes), h, w, step)
            if should_stop is not None and should_stop():
                return

    def _initial(self, content_input, content_rgb, first_style, height, width):
        s = self.settings
        if isinstance(s.init, str) and s.init == "noise":
            return generate_noise_image(content_input, s.noise_ratio, seed=s.seed)
        if isinstance(s.init, str) and s.init == "content":
            return content_input
        if isinstance(s.init, str) and s.init == "style":
            # The first style as the network sees it (colour-matched or grey if asked).
            _, image = self._prepare(content_rgb, _at_size(first_style, height, width))
        else:
            image = _at_size(s.init, height, width)
            if s.preserve_colors == "luminance":
                image = luminance_image(image)
        return reshape_and_normalize_image(image)
