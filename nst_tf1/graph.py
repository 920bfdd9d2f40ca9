"""The one cost graph: VGG-19, the course's costs and the optimiser's ops, in one TF1 graph.

:class:`TransferGraph` builds, for one image size, everything a run needs::

    placeholder "image" --assign_content / assign_style / assign_generated--> vgg19/input
    vgg19/input (Variable, 1 x n_H x n_W x 3) -> conv1_1 -> ... -> avgpool5   (nst_tf1.vgg)
    content_cost:  J_content(a_C, a_G)       a_C: a non-trainable Variable, the content target
    style_cost:    sum_l coeff_l J_style^[l](G_S^[l], a_G^[l])
                   G_S^[l]: a non-trainable Variable per layer, the style's Gram target
    total_cost:    J = alpha J_content + beta J_style  (+ tv_weight J_tv, beyond the course)
    optimizer:     Adam's train_step on the input   (or lbfgs: dJ/dG for L-BFGS, nst_tf1.lbfgs,
                   its Conv2DBackpropInput ops on a leaner kernel: optimize.lean_kernels)
    summaries:     the cost scalars for TensorBoard (only with a logdir)

The targets are computed the course's way: the content (style) image is assigned to the
input Variable and the layer (its Gram matrix) evaluated with ``sess.run``; the values are
then held in Variables instead of the course's constants. Same numbers, but the graph is
finalised once built, so a new content/style pair (a batch, another style) is a few
placeholder-fed assign ops, never new ops; and the GraphDef holds no large constants, so
the session keeps one copy of the weights and targets instead of one per executor.

The course's run (:func:`nst_tf1.transfer.style_transfer`) and every option beyond it
(:class:`nst_tf1.transfer.Runner`) use this one builder.

Also here: the session's precision (:func:`session_config`, bf16 on CPUs that have it).
TensorFlow itself comes from :func:`nst_tf1.tf1.graph_mode`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import CONFIG
from .costs import (
    activation_gram,
    compute_content_cost,
    compute_gram_style_cost,
    symmetric_gram,
    total_cost,
    total_variation_cost,
)
from .device import BF16_CPU_FLAGS, PRECISIONS, cpu_info, onednn_enabled
from .errors import InputError
from .optimize import lean_kernels, model_lbfgs, model_nn
from .summaries import cost_summaries, open_writer
from .tf1 import graph_mode
from .vgg import activation_shapes, build_vgg_model, evaluate_on_image, initialize_vgg_weights

if TYPE_CHECKING:
    from .optimize import Step
    from .settings import CostTerms, OptimizerOptions
    from .vgg import VGGWeights

__all__ = [
    "PrecisionError",
    "resolve_precision",
    "TransferGraph",
    "bf16_unsupported_reason",
    "check_precision",
    "session_config",
    "style_grams_in_own_graph",
]


class PrecisionError(InputError):
    """The requested precision cannot run on this machine; the message says why."""


def bf16_unsupported_reason(check_tensorflow: bool = True) -> str | None:
    """Why ``precision="bf16"`` cannot run here, or ``None`` when it can.

    It needs a TensorFlow build with oneDNN (the rewrite is oneDNN's) and a CPU with
    bfloat16 instructions (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``); elsewhere
    oneDNN would emulate bfloat16, which is slower than float32.

    Args:
        check_tensorflow: also import TensorFlow to check for oneDNN; ``False`` checks the
            CPU only, which is instant.

    Returns:
        str or None: a one-line reason.
    """
    flags = cpu_info()["flags"]
    if flags is None:
        return "cannot read /proc/cpuinfo to check for bfloat16 instructions (Linux only)"
    if not flags.intersection(BF16_CPU_FLAGS):
        return (
            "this CPU has no bfloat16 instructions (neither avx512_bf16 nor amx_bf16 in "
            "/proc/cpuinfo); use --precision fp32"
        )
    if check_tensorflow:
        if not onednn_enabled():
            return (
                "this TensorFlow runs without oneDNN (TF_ENABLE_ONEDNN_OPTS=0?), which the "
                "bf16 rewrite needs"
            )
    return None


def resolve_precision(precision: str) -> tuple[str, str]:
    """The precision a session runs at for ``precision``, and why.

    Returns:
        ("fp32" or "bf16", a short reason): ``"auto"`` becomes bf16 when
        :func:`bf16_unsupported_reason` has nothing against it, else fp32 (never an error).
    """
    if precision != "auto":
        return precision, "as asked"
    reason = bf16_unsupported_reason()
    if reason is None:
        return "bf16", "this CPU has bfloat16 instructions and TensorFlow runs with oneDNN"
    return "fp32", reason.split(";")[0]


def check_precision(precision: str, check_tensorflow: bool = True) -> None:
    """Refuse ``precision="bf16"`` where it cannot run (the one place that refuses it).

    Args:
        precision: one of :data:`~nst_tf1.device.PRECISIONS`; only ``"bf16"`` is checked.
        check_tensorflow: as in :func:`bf16_unsupported_reason` (``False``: the CPU only).

    Raises:
        PrecisionError: with :func:`bf16_unsupported_reason`'s reason.
    """
    if precision != "bf16":
        return
    reason = bf16_unsupported_reason(check_tensorflow)
    if reason:
        raise PrecisionError(f"--precision bf16 is not available: {reason}")


def session_config(precision: str = "fp32") -> Any:
    """The session's ConfigProto for a precision.

    ``"fp32"`` is TensorFlow's default. ``"bf16"`` turns on the grappler rewrite
    ``auto_mixed_precision_onednn_bfloat16``: convolutions, matmuls and the ops between
    them run in bfloat16 (8-bit mantissa), with casts inserted at the float32 Variables;
    :class:`TransferGraph` computes the costs after the network in float64, which the
    rewrite leaves alone (:func:`_cost_precision`).

    Args:
        precision: one of :data:`~nst_tf1.device.PRECISIONS`.

    Returns:
        tf.ConfigProto.

    Raises:
        PrecisionError: ``"bf16"`` on a machine that cannot run it.
        ValueError: an unknown precision.
    """
    import tensorflow.compat.v1 as tf
    from tensorflow.core.protobuf import rewriter_config_pb2

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    precision = resolve_precision(precision)[0]
    config = tf.ConfigProto()
    check_precision(precision)
    if precision == "bf16":
        config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
            rewriter_config_pb2.RewriterConfig.ON
        )
    return config


def _held_target(tf, shape, name):
    """A target held in a non-trainable Variable ``name``, set by feeding ``name_value`` to
    the returned assign op: (Variable, placeholder, assign op)."""
    variable = tf.Variable(np.zeros(shape, np.float32), trainable=False, name=name)
    value = tf.placeholder(tf.float32, variable.shape, name=f"{name}_value")
    return variable, value, variable.assign(value)


def _cost_precision(tf, precision):
    """What the costs are computed in after the network: the tensors (activations, Grams)
    unchanged in fp32; in bf16, each cast to float64.

    The bf16 rewrite (:func:`session_config`) runs the convolutions and Gram matmuls in
    bfloat16, and in an L-BFGS evaluation (costs and gradient in one fetch) it also ran the
    float32 ops after them in bfloat16: the style targets G_S were cast to 8 bits, and the
    differences, their squares and sums and the scalar costs were rounded to 8 bits (the
    in-run J_content of a 300x400 run moved in steps of 0.6%). On coffee + gravel
    (benchmarks/README.md, round 8) L-BFGS then stalled at J_style 1.33x the course's after
    32 evaluations, where fp32 went on to 0.50x at 40. The rewrite leaves float64 alone:
    from the cast on, the costs are exact sums of what the network gives (1% of an
    evaluation's time), and L-BFGS follows fp32's course (0.80x at 30, 0.51x at 40).
    """
    if precision != "bf16":
        return lambda tensor: tensor
    return lambda tensor: tf.cast(tensor, tf.float64)


def _gram_for(optimizer):
    """The Gram matrix function of a graph: :func:`~nst_tf1.costs.symmetric_gram` (the same
    matrix, a cheaper gradient) for L-BFGS, the course's ``gram_matrix``
    (:func:`~nst_tf1.costs.activation_gram`) for Adam, whose graph is the course's.

    In fp32 the symmetric form changed no result: ``--fast --precision fp32`` wrote the same
    PNG, byte for byte, on louvre + monet and astronaut + brick, in 0.93 of the time. In
    bfloat16 its gradient rounds differently from TensorFlow's (one product where TensorFlow
    sums two), and that alone moved astronaut + brick's J_style at the end of round 12's
    ``--fast`` from 0.97 to 1.02 of the course's: ``--fast`` now spends 14 evaluations of J
    (settings.FAST) instead of 10, which with it ends that pair at 0.89-0.90 (benchmarks/
    README.md, round 14).
    """
    return symmetric_gram if optimizer == "lbfgs" else activation_gram


def _lbfgs_objective(tf, J, J_content, alpha):
    """L-BFGS's objective J + (w - 1) alpha J_content + rho max(0, J_content - b)^2: the
    content term weighted w times, plus the content trust region's penalty, zero where
    J_content <= b (:mod:`nst_tf1.schedule`); J itself unless w, b, rho are fed.

    Returns:
        (objective, (w, b, rho)): the scalar and its three placeholders (defaults 1, 0, 0).
    """
    fed = tuple(
        tf.placeholder_with_default(np.float32(value), (), name=name)
        for name, value in (("content_weight", 1.0), ("content_bound", 0.0), ("bound_weight", 0.0))
    )
    weight, bound, rho = (tf.cast(x, J.dtype) for x in fed)
    excess = tf.nn.relu(J_content - bound)
    return J + (weight - 1.0) * (alpha * J_content) + rho * tf.square(excess), fed


def _minimiser(tf, graph, costs, image, options):
    """On ``graph`` (a :class:`TransferGraph` being built): Adam's ``train_step`` on J, or for
    L-BFGS :func:`_lbfgs_objective` (``objective``, its placeholders ``content_weight``,
    ``content_bound``, ``bound_weight``) and its gradient dJ_w/dG; the Steps keep reporting J."""
    J, J_content = costs
    graph.train_step = graph._gradient = graph.objective = None
    graph.content_weight = graph.content_bound = graph.bound_weight = None
    if graph.optimizer == "adam":
        with tf.name_scope("optimizer"):
            graph.train_step = tf.train.AdamOptimizer(options.learning_rate).minimize(J)
        return
    with tf.name_scope("lbfgs"), lean_kernels(graph.graph):
        graph.objective, fed = _lbfgs_objective(tf, J, J_content, graph.terms.alpha)
        graph.content_weight, graph.content_bound, graph.bound_weight = fed
        (graph._gradient,) = tf.gradients(graph.objective, image)


def _detail_objective(tf, graph, image):
    """The detail phase's objective beta sum_l coeff_l J_style^[l] over the shallow style
    layers of ``graph`` (a :class:`TransferGraph` being built;
    :func:`nst_tf1.costs.detail_layers`) and its gradient with respect to the input
    ``image``: (objective, gradient). Fetched alone, they run the network only as far as
    the deepest of those layers."""
    from .costs import detail_layers

    names = detail_layers(graph.style_layers)
    if not names:
        raise ValueError("the detail phase needs a style layer of conv1, conv2 or conv3")
    coeffs = dict(graph.style_layers)
    with tf.name_scope("detail"), lean_kernels(graph.graph):
        cost = graph.terms.beta * tf.add_n([coeffs[n] * graph.layer_costs[n] for n in names])
        (gradient,) = tf.gradients(cost, image)
    return cost, gradient


def _lbfgs_target(graph, content_weight, content_bound, detail):
    """(objective, its gradient, what to feed) of an L-BFGS run of ``graph``: the detail
    objective, or the run's own with its content weight and trust region."""
    if detail:
        if graph.detail_objective is None:
            raise ValueError("this graph was built without the detail objective")
        return (*graph.detail_objective, {})
    b, rho = content_bound or (0, 0)
    feed = {graph.content_weight: content_weight, graph.content_bound: b, graph.bound_weight: rho}
    return graph.objective, graph._gradient, {k: np.float32(v) for k, v in feed.items()}


class TransferGraph:
    """The cost graph for one image size, built once and reused for many content/style pairs.

    Args:
        weights: :class:`nst_tf1.vgg.VGGWeights` (or dict ``name -> (W, b)``).
        height, width: the generated image's size.
        terms: :class:`nst_tf1.settings.CostTerms`, what J is made of
            (``Settings().cost_terms()`` is the course's J).
        options: :class:`nst_tf1.settings.OptimizerOptions`, whose ``optimizer`` (Adam's
            ``train_step`` at ``learning_rate``, or dJ/dG for L-BFGS) and ``precision``
            (:func:`session_config`) shape the graph.
        logdir: if given, the graph and the costs of every Adam iteration (or L-BFGS
            evaluation) go there for TensorBoard (:mod:`nst_tf1.summaries`).
        detail: also build the detail phase's objective and its gradient (L-BFGS,
            :meth:`run` with ``detail``; :func:`nst_tf1.costs.detail_layers`).

    The VGG weights are held in Variables (``weights_as="variables"``), filled once when the
    session opens, so that the graph and its executors carry no copy of them.

    Attributes:
        graph, sess: the ``tf.Graph`` (finalised) and its ``tf.Session``.
        model: the layer dict of :func:`nst_tf1.vgg.build_vgg_model`.
        costs: the (J, J_content, J_style) scalar tensors.
        layer_costs: dict style layer -> its unweighted J_style^[l] tensor.
        layer_pixels: n_H * n_W of each style layer, in ``style_layers`` order.
        detail_objective: (the detail phase's objective, its gradient), or ``None`` (built
            without ``detail``).

    Raises:
        PrecisionError: ``precision="bf16"`` on a machine that cannot run it.
    """

    def __init__(
        self,
        weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]],
        height: int,
        width: int,
        terms: CostTerms,
        options: OptimizerOptions,
        *,
        logdir: str | None = None,
        detail: bool = False,
    ) -> None:
        tf = graph_mode()
        precision = resolve_precision(options.precision)[0]  # "auto" read once, here
        config, wide = session_config(precision), _cost_precision(tf, precision)
        self.terms, self.optimizer = terms, options.optimizer
        self.height, self.width = height, width
        self.style_layers = list(terms.style_layers)
        self.graph = tf.Graph()
        with self.graph.as_default():
            model = build_vgg_model(
                weights, height, width, pooling=terms.pooling, weights_as="variables"
            )
            # Every image enters the network through one placeholder and an assign op named
            # after its role, as the course's three sess.run(model['input'].assign(...)).
            self._image = tf.placeholder(tf.float32, (1, height, width, 3), name="image")
            self._assign = {
                role: model["input"].assign(self._image, name=f"assign_{role}")
                for role in ("content", "style", "generated")
            }

            J_content = self._content_cost(tf, model[terms.content_layer], wide)
            J_style = self._style_cost(tf, model, wide, _gram_for(options.optimizer))
            with tf.name_scope("total_cost"):
                J = total_cost(J_content, J_style, alpha=terms.alpha, beta=terms.beta)
                if terms.tv_weight:
                    J = J + terms.tv_weight * total_variation_cost(wide(model["input"]))
            _minimiser(tf, self, (J, J_content), model["input"], options)
            self.detail_objective = _detail_objective(tf, self, model["input"]) if detail else None
            self._summary = None
            if logdir is not None:
                self._summary = cost_summaries(J, J_content, J_style, self.layer_costs)
            self._reset = tf.global_variables_initializer()
            self.graph.finalize()
        self.model = model
        self.costs = (J, J_content, J_style)
        self.sess = tf.Session(graph=self.graph, config=config)
        initialize_vgg_weights(self.sess, weights)
        # Opened once the graph is complete, so TensorBoard shows all of it.
        self._writer = None if logdir is None else open_writer(logdir, self.graph)

    def _content_cost(self, tf, out, wide):
        """J_content(wide(a_C), wide(a_G)), a_C a Variable set by :meth:`run`, a_G ``out``;
        also the same cost between two fed activations, for :meth:`content_cost`."""
        with tf.name_scope("content_cost"):
            self._content_out = out
            a_C, self._a_C_value, self._assign_a_C = _held_target(tf, out.shape.as_list(), "a_C")
            with tf.name_scope("between"):
                self._activations = [tf.placeholder(tf.float32, out.shape) for _ in "CG"]
                self._cost_between = compute_content_cost(*self._activations)
            return compute_content_cost(wide(a_C), wide(out))

    def _style_cost(self, tf, model, wide, gram):
        """sum_l coeff_l J_style^[l](wide(G_S^[l]), wide(gram(a_G^[l]))), each G_S^[l] a
        Variable set by :meth:`run`; keeps each layer's G(a_G) for :meth:`style_grams`."""
        self._grams, self._gram_values, self._assign_grams = [], [], []
        self.layer_pixels, self.layer_costs = [], {}
        J_style = 0
        with tf.name_scope("style_cost"):
            for name, coeff in self.style_layers:
                with tf.name_scope(name):
                    _, n_H, n_W, n_C = model[name].shape.as_list()
                    G_G = gram(model[name])
                    G_S, value, assign = _held_target(tf, (n_C, n_C), "G_S")
                    self._grams.append(G_G)
                    self._gram_values.append(value)
                    self._assign_grams.append(assign)
                    self.layer_pixels.append(n_H * n_W)
                    cost = compute_gram_style_cost(wide(G_S), model[name], wide(G_G))
                    self.layer_costs[name] = cost
                    J_style += coeff * cost
            return tf.identity(J_style, name="J_style")

    def close(self) -> None:
        """Close the TensorBoard writer, if any, and the session."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.sess.close()

    def __enter__(self) -> TransferGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate(self, image: np.ndarray) -> tuple[float, float, float]:
        """(J, J_content, J_style) of a (1, H, W, 3) normalised image against the targets
        of the last :meth:`run`, without changing the input Variable (the image is fed)."""
        J, J_content, J_style = self.sess.run(self.costs, {self.model["input"]: image})
        return float(J), float(J_content), float(J_style)

    def content_target(self, content: np.ndarray) -> np.ndarray:
        """``a_C``: the content layer evaluated while ``content`` (1, H, W, 3) is the input."""
        self.sess.run(self._assign["content"], {self._image: content})
        return self.sess.run(self._content_out)

    def style_grams(self, style: np.ndarray) -> list[np.ndarray]:
        """``G(a_S)`` of every style layer, evaluated while ``style`` (1, H, W, 3) is the input."""
        self.sess.run(self._assign["style"], {self._image: style})
        return self.sess.run(self._grams)

    def style_pass(self, style: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(:meth:`style_grams`, the content layer's activation a_S of ``style``), one pass."""
        self.sess.run(self._assign["style"], {self._image: style})
        *grams, a_S = self.sess.run([*self._grams, self._content_out])
        return grams, a_S

    def content_pass(
        self, content: np.ndarray, grams: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, float]:
        """(:meth:`content_target`, J_style(C): the style cost of ``content`` against
        ``grams``, which become the held style targets), one pass."""
        self.sess.run(self._assign_grams, dict(zip(self._gram_values, grams)))
        self.sess.run(self._assign["content"], {self._image: content})
        a_C, J_style = self.sess.run([self._content_out, self.costs[2]])
        return a_C, float(J_style)

    def content_cost(self, a_C: np.ndarray, a_G: np.ndarray) -> float:
        """J_content between two activations of the content layer (no network pass)."""
        return float(self.sess.run(self._cost_between, dict(zip(self._activations, (a_C, a_G)))))

    def set_targets(self, a_C: np.ndarray, grams: Sequence[np.ndarray]) -> None:
        """Hold ``a_C`` and the style layers' Gram targets for :meth:`evaluate` and the run."""
        feed = {self._a_C_value: a_C}
        feed.update(zip(self._gram_values, grams))
        self.sess.run([self._assign_a_C, *self._assign_grams], feed)

    def run(
        self,
        a_C: np.ndarray,
        grams: Sequence[np.ndarray],
        initial: np.ndarray,
        num_iterations: int = CONFIG.NUM_ITERATIONS,
        save_every: int = CONFIG.SAVE_EVERY,
        should_stop: Callable[[], bool] | None = None,
        stop_when: Callable[[Step], bool] | None = None,
        *,
        preview_every: int = 0,
        content_weight: float = 1.0,
        content_bound: tuple[float, float] | None = None,
        detail: bool = False,
        first_iteration: int = 0,
    ) -> Iterator[Step]:
        """Reset Adam, set the targets and the initial image, and optimise.

        Args:
            a_C: content target, the shape of the content layer.
            grams: target Gram matrix of each style layer.
            initial: (1, H, W, 3) normalised initial image G.
            num_iterations, save_every, should_stop: as in
                :func:`nst_tf1.optimize.model_nn` (for L-BFGS, ``num_iterations`` is the
                evaluation budget of :func:`nst_tf1.optimize.model_lbfgs`).
            stop_when: L-BFGS only, see :func:`nst_tf1.optimize.model_lbfgs`.
            preview_every: also attach the image every this many steps (0: never).
            content_weight: L-BFGS only: minimise J + (content_weight - 1) alpha J_content
                (the Steps report J); see :mod:`nst_tf1.schedule`.
            content_bound: L-BFGS only: (b, rho), add rho max(0, J_content - b)^2 to the
                minimised cost (:func:`nst_tf1.schedule.content_bound`); ``None``: none.
            detail: L-BFGS only (a graph built with ``detail``): minimise the detail
                objective instead (the shallow style terms; the two arguments above do not
                apply). Its Steps carry the course's costs only where their image is
                saved (every ``save_every``-th), ``None`` elsewhere.
            first_iteration: L-BFGS only: the number of the first evaluation (a phase that
                goes on from the detail phase's evaluations).

        Yields:
            :class:`nst_tf1.optimize.Step`, one per iteration, then the final image's.
        """
        self.sess.run(self._reset)
        self.set_targets(a_C, grams)
        # Running the assign op is what puts G into the input Variable.
        self.sess.run(self._assign["generated"], {self._image: initial})
        if self.optimizer == "lbfgs":
            objective, gradient, feed = _lbfgs_target(self, content_weight, content_bound, detail)
            yield from model_lbfgs(
                self.sess,
                self.model,
                self.costs,
                num_iterations,
                save_every,
                should_stop=should_stop,
                gradient=gradient,
                stop_when=stop_when,
                summary=self._summary,
                writer=self._writer,
                preview_every=preview_every,
                objective=objective,
                feed=feed,
                first_iteration=first_iteration,
                costs_on=(lambda n: False) if detail else None,
            )
            return
        yield from model_nn(
            self.sess,
            self.model,
            self.costs,
            self.train_step,
            num_iterations,
            save_every,
            should_stop=should_stop,
            summary=self._summary,
            writer=self._writer,
            preview_every=preview_every,
        )


def style_grams_in_own_graph(
    weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]],
    style: np.ndarray,
    style_layers: Sequence[tuple[str, float]] = CONFIG.STYLE_LAYERS,
    pooling: str = "avg",
) -> tuple[list[np.ndarray], list[int]]:
    """``G(a_S)`` of each style layer for a style image of any size, in a graph of its own.

    The style is assigned to ``model['input']`` and the Grams evaluated, as the course does.

    Args:
        weights: VGG weights.
        style: (1, h, w, 3) normalised style image.
        style_layers, pooling: as in :class:`TransferGraph`.

    Returns:
        (grams, pixels): the (n_C, n_C) arrays and the n_H * n_W of each layer.
    """
    names = [name for name, _ in style_layers]
    shapes = activation_shapes(*np.shape(style)[1:3], getattr(weights, "layers", weights))
    grams = evaluate_on_image(
        weights, style, lambda model: [activation_gram(model[n]) for n in names], pooling
    )
    return grams, [shapes[n][1] * shapes[n][2] for n in names]
