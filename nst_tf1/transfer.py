"""Style transfer of one content image: the course's flow, and the options beyond it.

:func:`style_transfer` is the course's ``model_nn`` flow, step by step:

1. build VGG-19 around the input Variable, J and the optimiser
   (:class:`nst_tf1.graph.TransferGraph`);
2. assign the content image C and evaluate ``a_C`` at the content layer (J_content);
3. assign the style image S and evaluate every style layer's Gram target (J_style);
4. make the noisy initial image G;
5. assign the targets and G (running the assign op is what puts G into the Variable), and
   run ``train_step`` repeatedly (:func:`nst_tf1.optimize.model_nn`), reporting the costs.

There is one graph builder and one loop: :class:`Runner`, which every other run uses, builds
the same :class:`~nst_tf1.graph.TransferGraph` and adds what the course does not have:

* several styles: each style image's Grams are evaluated while it is the input and blended
  with normalised weights, G_T^[l] = sum_k w_k G(a_Sk)^[l], sum_k w_k = 1. For weights that
  sum to 1, sum_k w_k ||G_k - G||^2 = ||G_T - G||^2 + a constant, so blending the targets
  has the same gradients as blending the K style costs; weights (1, 0) give exactly the
  one-style targets;
* a style image of another size (``style_scale`` != 1) is evaluated in a graph of its own
  size; its Gram, a sum over its n_H n_W positions, is rescaled by (n_H n_W)_G / (n_H n_W)_S;
* colour preservation (:mod:`nst_tf1.colors`), initial images other than the noisy content;
* coarse to fine (``multires=K``): scale k (k = 1..K) is 1 / 2^(K-k) of the output size,
  each scale in its own graph, the previous result upsampled (bicubic) as the next scale's
  initial image (or, ``coarse_upsample="residual"``, the next scale's content plus the
  upsampled change the previous scale made to its content);
* with L-BFGS, the objective's content trust region (its bound from a preview of the
  course's run, :mod:`nst_tf1.course_preview`), content weight and stopping rule of
  :mod:`nst_tf1.schedule` (``course_preview``, ``content_bound``, ``term_balance``,
  ``stop_progress``), and before them at the output size the detail phase, L-BFGS on the
  shallow style terms alone (``detail_iterations``, :func:`nst_tf1.costs.detail_layers`);
* batches: one :class:`~nst_tf1.graph.TransferGraph` per size, built once and reused for
  every image of that size; Gram targets cached per style image.

Both are generators: they yield the optimisation's steps and leave printing and saving to
the caller (:mod:`nst_tf1.running`).
"""

from __future__ import annotations

import collections
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .colors import luminance_image, match_color_histogram, match_luminance, recombine_luminance
from .config import CONFIG
from .course_preview import BOUND_MARGIN, content_fraction, preview_options, preview_size
from .graph import TransferGraph, style_grams_in_own_graph
from .images import generate_noise_image, load_image, reshape_and_normalize_image, resize_array
from .plan import scale_sizes, style_size
from .schedule import content_bound, content_weight, stop_rule
from .settings import Settings, check_style_weights
from .vgg import read_vgg_weights

if TYPE_CHECKING:
    from .optimize import Step
    from .vgg import VGGWeights

__all__ = [
    "Progress",
    "Runner",
    "scale_sizes",
    "style_transfer",
]

Progress = collections.namedtuple(
    "Progress",
    "scale scales height width budget step bound fraction detail",
    defaults=(None, None, 0),
)
Progress.__doc__ = """One optimisation step of a :meth:`Runner.run`.

Attributes:
    scale, scales: 1-based index of the scale and their number K (1 without multires).
    height, width: the size optimised at this scale.
    budget: the iterations (evaluations) of this scale; the Step whose ``iteration`` equals
        it is the scale's final image.
    step: :class:`nst_tf1.optimize.Step`; with luminance-only colour preservation its image
        is already recombined with the content's chrominance.
    bound: L-BFGS's content trust region (b, rho) at this scale (``--course-preview``,
        ``--content-bound``; :func:`nst_tf1.schedule.content_bound`), or ``None``.
    fraction: J_content / J_content(S) that ``--course-preview``'s run of the course
        reached (b = BOUND_MARGIN fraction J_content(S)), or ``None``.
    detail: the evaluations of this scale's detail phase (``--detail-iterations``, the
        first of its ``budget``), or 0.
"""


def _at_size(source, height, width):
    """(height, width, 3) float32 RGB 0..255 from an image path or an RGB array."""
    if isinstance(source, (str, os.PathLike)):
        return load_image(source, height, width)
    return resize_array(source, height, width)


def _normalised_weights(style_weights, count):
    if style_weights is None:
        return [1.0 / count] * count
    return check_style_weights(style_weights, count)


def _upsampled(previous, previous_content, content, mode):
    """The next scale's initial image from the previous scale's result (H, W, 3, RGB as
    the network sees it): the result upsampled (``--coarse-upsample image``), or the
    content at this size plus the upsampled change the previous scale made to its
    content (``residual``: the content's detail, which the small scale cannot hold,
    stays), clipped to 0..255."""
    h, w = content.shape[:2]
    up = resize_array(previous, h, w)
    if mode == "residual":
        up = np.clip(content + up - resize_array(previous_content, h, w), 0.0, 255.0)
    return reshape_and_normalize_image(up)


def _content_weight(settings, style_of_content, content_of_style):
    """``--term-balance``: the objective's content weight w at this scale
    (:func:`nst_tf1.schedule.content_weight`), from J_style of the content image and
    J_content of the (weighted) style images at this size; 1 when off or with Adam."""
    s = settings
    if s.term_balance is None or s.optimizer != "lbfgs":
        return 1.0
    # The balance was tuned at the course's beta / alpha; a run that asks for another
    # (--style-strength, --alpha/--beta) moves it by the same factor, or the content
    # weight would undo the change.
    strength = s.beta / s.alpha / (CONFIG.BETA / CONFIG.ALPHA) if s.alpha else 1.0
    return content_weight(
        s.alpha, s.beta, style_of_content, content_of_style, s.term_balance * strength
    )


def _course_start(settings, content_input):
    """The course's initial image at this size: the content with the course's noise (ratio
    ``CONFIG.NOISE_RATIO``), the run's seed or 0."""
    seed = 0 if settings.seed is None else settings.seed
    return generate_noise_image(content_input, CONFIG.NOISE_RATIO, seed=seed)


def _trust_region(settings, graph, a_C, targets, scales, content_input, fraction):
    """The trust region (b, rho) at this scale (:func:`nst_tf1.schedule.content_bound`),
    ``scales`` = (J_style(C), J_content(S)): ``--course-preview``'s, b the ``fraction`` of
    J_content(S) that the preview reached times
    :data:`~nst_tf1.course_preview.BOUND_MARGIN`; or ``--content-bound``'s, b F times
    J_content of the course's initial image at this size (its noise, the run's seed or 0);
    ``None`` when off or with Adam."""
    s = settings
    if s.optimizer != "lbfgs":
        return None
    if fraction is not None:
        return content_bound(s.beta, scales[0], scales[1], BOUND_MARGIN * fraction)
    if s.content_bound is None:
        return None
    graph.set_targets(a_C, targets)
    _, start_content, _ = graph.evaluate(_course_start(s, content_input))
    return content_bound(s.beta, scales[0], start_content, s.content_bound)


def _prepared(mode, content, style):
    """The content and style images the network sees, after colour preservation ``mode``."""
    if mode == "luminance":
        grey = luminance_image(content)
        return grey, match_luminance(luminance_image(style), grey)
    if mode == "histogram":
        return content, match_color_histogram(style, content)
    return content, style


def _term_scales(settings, graph, content_input, targets, activations, styles, weights, content):
    """(a_C, J_style(C), J_content(S)) at this scale: the content target and, where the
    L-BFGS objective needs them (:mod:`nst_tf1.schedule`), the content image's style
    cost and the style images' (weighted) content cost, else None. J_style(C) comes from
    the pass that makes a_C; J_content(S) from each style's activation of the target
    pass, or, where the targets were cached or made at another size, from a pass of its
    own."""
    s = settings
    needed = (s.term_balance, s.content_bound, s.course_preview)
    if s.optimizer != "lbfgs" or all(v is None for v in needed):
        return graph.content_target(content_input), None, None
    a_C, style_of_content = graph.content_pass(content_input, targets)
    content_of_style = 0.0
    for style, weight, a_S in zip(styles, weights, activations):
        if a_S is None:
            _, s_net = _prepared(
                s.preserve_colors, content, _at_size(style, graph.height, graph.width)
            )
            a_S = graph.style_pass(reshape_and_normalize_image(s_net))[1]
        content_of_style += weight * graph.content_cost(a_C, a_S)
    return a_C, style_of_content, content_of_style


def _previewed_fraction(runner, content, styles, weights, should_stop):
    """``--course-preview``: J_content / J_content(S) after that many iterations of the
    course's Adam on a copy of the pair at :func:`nst_tf1.course_preview.preview_size`, in
    a graph of its own, closed before the transfer's graphs are built; ``None`` when off,
    with Adam, or when the preview gives no usable fraction."""
    s = runner.settings
    if s.optimizer != "lbfgs" or s.course_preview is None:
        return None
    if runner.weights is None:
        raise RuntimeError("the weights were released: cannot build the preview's graph")
    h, w = preview_size(*content.shape[:2])
    options = preview_options(s.optimizer_options())
    with TransferGraph(runner.weights, h, w, s.cost_terms(), options) as graph:
        c = _at_size(content, h, w)
        c_net, targets, acts = runner._blended_targets(
            graph, c, styles, weights, style_size(h, w, s.style_scale)
        )
        content_input = reshape_and_normalize_image(c_net)
        a_C, _, content_of_style = _term_scales(
            s, graph, content_input, targets, acts, styles, weights, c
        )
        start = _course_start(s, content_input)
        return content_fraction(
            graph, a_C, targets, start, content_of_style, s.course_preview, should_stop
        )


def _phases(graph, start, budget, detail, save_every, should_stop, preview_every, **objective):
    """The Steps of one scale: ``budget`` evaluations (iterations) of the run's objective
    (``objective``: :meth:`TransferGraph.run`'s ``stop_when``, ``content_weight`` and
    ``content_bound``) from ``start`` = (a_C, targets, initial image); with ``detail``, the
    first ``detail`` of them of the detail objective, and the rest from its best image,
    numbered on. A run stopped in the detail phase ends with its best image (its costs
    computed by :func:`nst_tf1.optimize.model_lbfgs`, which does that for a stopped run)."""
    if detail:
        stopped = [False]

        def stop():
            stopped[0] = bool(should_stop())
            return stopped[0]

        steps = graph.run(
            *start,
            detail,
            save_every,
            stop if should_stop else None,
            detail=True,
            preview_every=preview_every,
        )
        for step in steps:
            if stopped[0]:  # the best image so far, the scale's last Step
                yield step
                return
            if step.iteration == detail:  # its best image: the run's objective goes on there
                start = (*start[:2], step.image)
                break
            yield step
    yield from graph.run(
        *start,
        budget - detail,
        save_every,
        should_stop,
        preview_every=preview_every,
        first_iteration=detail,
        **objective,
    )


class Runner:
    """Runs style transfers with one set of weights and :class:`~nst_tf1.settings.Settings`,
    reusing graphs.

    Graphs are kept per size (at most ``max_open`` open at once, least recently used closed
    first), so a batch of same-size images builds each scale's graph once. Gram targets are
    cached per style image (by content hash) and size.

    Args:
        weights: :class:`nst_tf1.vgg.VGGWeights`.
        settings: the run's settings (its images, model and output fields are not used
            here); ``settings.seed`` seeds the initial noise.
        graphs_needed: drop the reference to ``weights`` once this many graphs are built,
            so that their sessions hold the only copies (``None``: keep it for graphs built
            later). Pass it only when no further graph will be needed.
        max_open: graphs kept open (default ``max(multires, 1)``, every scale of a batch's
            image size); 1 frees each scale's graph before the next is built, which lowers
            the peak memory of a single coarse-to-fine run.
        logdir: TensorBoard directory of the (single) graph, see
            :class:`~nst_tf1.graph.TransferGraph`.

    Attributes:
        graphs_built: how many :class:`~nst_tf1.graph.TransferGraph` were built so far.
    """

    def __init__(
        self,
        weights: VGGWeights | dict[str, tuple[np.ndarray, np.ndarray]],
        settings: Settings | None = None,
        *,
        graphs_needed: int | None = None,
        max_open: int | None = None,
        logdir: str | None = None,
    ) -> None:
        self.weights = weights
        self.settings = settings or Settings()
        self.graphs_needed = graphs_needed
        self.max_open = max_open or max(self.settings.multires, 1)
        self.logdir = logdir
        self._graphs = collections.OrderedDict()
        self._grams = {}
        self.graphs_built = 0

    def close(self) -> None:
        """Close every open session."""
        while self._graphs:
            self._graphs.popitem(last=False)[1].close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def graph(self, height: int, width: int, detail: bool = False) -> TransferGraph:
        """The :class:`~nst_tf1.graph.TransferGraph` of this size, built on first use (with
        the detail phase's objective where ``detail`` asks for it)."""
        key = (height, width)
        if key in self._graphs and (self._graphs[key].detail_objective or not detail):
            self._graphs.move_to_end(key)
            return self._graphs[key]
        if key in self._graphs:  # a coarse scale's graph of this size, without the detail
            self._graphs.pop(key).close()
        if self.weights is None:
            raise RuntimeError(
                f"the weights were released after {self.graphs_needed} graphs: "
                f"cannot build a graph of another size ({height}x{width})"
            )
        while len(self._graphs) >= self.max_open:
            self._graphs.popitem(last=False)[1].close()
        s = self.settings
        graph = TransferGraph(
            self.weights,
            height,
            width,
            s.cost_terms(),
            s.optimizer_options(),
            logdir=self.logdir,
            detail=detail,
        )
        self.graphs_built += 1
        self._graphs[key] = graph
        if self.graphs_built == self.graphs_needed:
            self.weights = None  # the sessions hold the only copies from here on
        return graph

    def evaluate(self, rgb: np.ndarray) -> tuple[float, float, float]:
        """(J, J_content, J_style) of an (H, W, 3) RGB image in 0..255 (a saved result read
        back) against the targets of the last :meth:`run` of its size, as the network sees
        it (luminance only with ``preserve_colors="luminance"``)."""
        rgb = np.asarray(rgb, dtype=np.float32)
        if self.settings.preserve_colors == "luminance":
            rgb = luminance_image(rgb)
        graph = self._graphs[rgb.shape[:2]]
        return graph.evaluate(reshape_and_normalize_image(rgb))

    def _style_grams(self, graph, style):
        """(Gram targets of one normalised style image, rescaled to ``graph``'s layer sizes;
        its content layer's activation ``a_S`` when this call evaluated the style in
        ``graph``, else None: the cache keeps the Grams only, 2.4 MB a style at 300x400
        where a_S would add 3.8 MB)."""
        key = (hashlib.sha1(style.tobytes()).hexdigest(), style.shape)
        a_S = None
        if key not in self._grams:
            if style.shape[1:3] == (graph.height, graph.width):
                grams, a_S = graph.style_pass(style)
                self._grams[key] = (grams, list(graph.layer_pixels))
            else:
                self._grams[key] = style_grams_in_own_graph(
                    self.weights, style, graph.style_layers, self.settings.pooling
                )
        grams, pixels = self._grams[key]
        scaled = [
            g if p == q else (g * np.float64(q / p)).astype(np.float32)
            for g, p, q in zip(grams, pixels, graph.layer_pixels)
        ]
        return scaled, a_S

    def run(
        self,
        content: str | os.PathLike[str] | np.ndarray,
        styles: Sequence[str | os.PathLike[str] | np.ndarray],
        style_weights: Sequence[float] | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        iterations: int | None = None,
        save_every: int | None = None,
        preview_every: int = 0,
    ) -> Iterator[Progress]:
        """Style transfer of one content image with one or more (blended) style images.

        Args:
            content: image path, or (H, W, 3) RGB array in 0..255; its size (H, W) is the
                output's (a path is read at CONFIG's 300x400: pass an array for other sizes).
            styles: list of style image paths or RGB arrays (any size: each is resized to
                ``style_scale`` times the generated size at every scale).
            style_weights: one weight >= 0 per style (normalised to sum 1); default equal.
            should_stop: optional callable polled before every update (see
                :func:`nst_tf1.optimize.model_nn`); when it ends a scale early, that scale's
                last Step (the current image) is the last one yielded.
            iterations, save_every: the settings' unless given; here 0 is allowed (no
                update, only the initial image's costs; no images attached but the last).
                Scales below the output size run ``settings.coarse_iterations`` when set;
                ``settings.stop_balance`` and ``settings.stop_progress`` apply to the
                output size, ``settings.content_bound`` and ``settings.term_balance`` to
                every scale (L-BFGS). With L-BFGS and ``iterations`` above 0, the output
                size first runs ``settings.detail_iterations`` evaluations of the detail
                phase (:func:`_phases`): its budget is the sum of the two.
            preview_every: also attach the image every this many steps (0: never).

        Yields:
            :class:`Progress`, one per step of every scale.

        Raises:
            ValueError: bad weights or settings; nst_tf1.images.ImageInputError: unreadable
                image files.
        """
        s = self.settings
        iterations = s.iterations if iterations is None else iterations
        save_every = s.save_every if save_every is None else save_every
        if not styles:
            raise ValueError("at least one style image is needed")
        weights = _normalised_weights(style_weights, len(styles))
        if isinstance(content, (str, os.PathLike)):
            content = load_image(content)
        content = np.asarray(content, dtype=np.float32)
        sizes = scale_sizes(*content.shape[:2], s.multires)
        fraction = _previewed_fraction(self, content, styles, weights, should_stop)
        previous = previous_content = None
        for k, (h, w) in enumerate(sizes, start=1):
            last = k == len(sizes)
            detail = s.detail_iterations if last and s.optimizer == "lbfgs" and iterations else 0
            c = _at_size(content, h, w)
            hs, ws = style_size(h, w, s.style_scale)
            graph = self.graph(h, w, detail=bool(detail))
            c_net, targets, acts = self._blended_targets(graph, c, styles, weights, (hs, ws))
            content_input = reshape_and_normalize_image(c_net)
            a_C, *scales = _term_scales(s, graph, content_input, targets, acts, styles, weights, c)
            if previous is not None:
                initial = _upsampled(previous, previous_content, c_net, s.coarse_upsample)
            else:
                initial = self._initial(content_input, c, styles[0], h, w)
            budget = iterations if last or s.coarse_iterations is None else s.coarse_iterations
            budget += detail
            weight = _content_weight(s, *scales)
            bound = _trust_region(s, graph, a_C, targets, scales, content_input, fraction)
            for step in _phases(
                graph,
                (a_C, targets, initial),
                budget,
                detail,
                save_every,
                should_stop=should_stop,
                preview_every=preview_every,
                stop_when=stop_rule(s, weight, bound) if last else None,
                content_weight=weight,
                content_bound=bound,
            ):
                if step.iteration == budget:
                    previous, previous_content = step.image[0] + CONFIG.MEANS[0], c_net
                if s.preserve_colors == "luminance" and step.image is not None:
                    rgb = recombine_luminance(step.image[0] + CONFIG.MEANS[0], c)
                    step = step._replace(image=reshape_and_normalize_image(rgb))
                yield Progress(k, len(sizes), h, w, budget, step, bound, fraction, detail)
            if should_stop is not None and should_stop():
                return

    def _blended_targets(self, graph, content, styles, weights, style_size):
        """(the content as the network sees it, G_T^[l] = sum_k w_k G(a_Sk)^[l] of each style
        layer, each style's content-layer activation a_Sk or None), each style at
        ``style_size`` after colour preservation."""
        targets, activations = None, []
        for style, weight in zip(styles, weights):
            c_net, s_net = _prepared(
                self.settings.preserve_colors, content, _at_size(style, *style_size)
            )
            grams, a_S = self._style_grams(graph, reshape_and_normalize_image(s_net))
            activations.append(a_S)
            if targets is None:
                targets = [np.float64(weight) * g for g in grams]
            else:
                targets = [t + np.float64(weight) * g for t, g in zip(targets, grams)]
        return c_net, [t.astype(np.float32) for t in targets], activations

    def _initial(self, content_input, content_rgb, first_style, height, width):
        s = self.settings
        if s.init == "noise":
            return generate_noise_image(content_input, s.noise_ratio, seed=s.seed)
        if s.init == "content":
            return content_input
        if s.init in ("style", "recolored"):
            # The first style as the network sees it (colour-matched or grey if asked), or
            # the content given that style's colour mean and covariance, inside 0..255.
            style = _at_size(first_style, height, width)
            c_net, image = _prepared(s.preserve_colors, content_rgb, style)
            if s.init == "recolored":
                image = np.clip(match_color_histogram(c_net, image), 0.0, 255.0)
        else:
            image = _at_size(s.init, height, width)
            if s.preserve_colors == "luminance":
                image = luminance_image(image)
        return reshape_and_normalize_image(image)


def style_transfer(
    content_image: np.ndarray,
    style_image: np.ndarray,
    model: str | os.PathLike[str] | VGGWeights,
    *,
    noise_ratio: float = CONFIG.NOISE_RATIO,
    alpha: float = CONFIG.ALPHA,
    beta: float = CONFIG.BETA,
    learning_rate: float = CONFIG.LEARNING_RATE,
    num_iterations: int = CONFIG.NUM_ITERATIONS,
    save_every: int = CONFIG.SAVE_EVERY,
    seed: int | None = None,
    style_layers: Sequence[tuple[str, float]] = CONFIG.STYLE_LAYERS,
    content_layer: str = CONFIG.CONTENT_LAYER,
    should_stop: Callable[[], bool] | None = None,
    logdir: str | None = None,
    optimizer: str = "adam",
    precision: str = "fp32",
) -> Iterator[Step]:
    """Neural style transfer as in the course, in a fresh graph and session.

    Args:
        content_image: (n_H, n_W, 3) RGB array in 0..255 (see :func:`nst_tf1.images.load_image`).
        style_image: (n_H, n_W, 3) RGB array in 0..255, the same size as ``content_image``.
        model: path of the VGG-19 .mat file, or :class:`nst_tf1.vgg.VGGWeights` already read.
        noise_ratio: weight of the noise in the initial image.
        alpha, beta: weights of J_content and J_style.
        learning_rate: Adam's learning rate (unused by L-BFGS).
        num_iterations: number of Adam updates, or at most this many L-BFGS evaluations.
        save_every: attach the image to every Step whose iteration is a multiple of this.
        seed: seed of the initial noise; the same seed gives the same result.
        style_layers: (layer name, coefficient) pairs.
        content_layer: layer of the content cost.
        should_stop: optional callable polled before every update; see
            :func:`nst_tf1.optimize.model_nn`.
        logdir: if given, write the graph and the costs of every iteration (or L-BFGS
            evaluation) there for TensorBoard (see :mod:`nst_tf1.summaries`).
        optimizer: ``"adam"`` (the course's) or ``"lbfgs"`` (:func:`nst_tf1.optimize.model_lbfgs`).
        precision: ``"fp32"`` (the course's) or ``"bf16"`` (:func:`nst_tf1.graph.session_config`).

    Yields:
        :class:`nst_tf1.optimize.Step`: see :func:`nst_tf1.optimize.model_nn` and
        :func:`nst_tf1.optimize.model_lbfgs`.

    Raises:
        NonFiniteCostError: a cost became NaN or infinite.
        ValueError: the images differ in size, or an unknown optimizer or precision.
        PrecisionError: ``precision="bf16"`` on a machine that cannot run it.
        nst_tf1.vgg.ModelFileError: the model file cannot be used.
    """
    if np.shape(content_image) != np.shape(style_image):
        raise ValueError(
            f"content image {np.shape(content_image)} and style image {np.shape(style_image)} "
            "differ in size; resize both to the same height and width"
        )
    if num_iterations < 0 or save_every < 0:
        raise ValueError(
            f"num_iterations ({num_iterations}) and save_every ({save_every}) must be >= 0"
        )
    height, width = np.shape(content_image)[:2]
    settings = Settings(  # checks every value; a SettingsError (a ValueError) names its flag
        height=height,
        width=width,
        noise_ratio=noise_ratio,
        alpha=alpha,
        beta=beta,
        learning_rate=learning_rate,
        seed=seed,
        style_layers=list(style_layers),
        content_layer=content_layer,
        optimizer=optimizer,
        precision=precision,
    )
    weights = read_vgg_weights(model) if not hasattr(model, "layers") else model
    # 1. The model: VGG-19 around the input Variable, J = alpha J_content + beta J_style
    #    and the optimiser (Adam's train_step, or dJ/dG for L-BFGS), in one graph.
    graph = TransferGraph(
        weights, height, width, settings.cost_terms(), settings.optimizer_options(), logdir=logdir
    )
    del weights  # the session holds the only copy from here on
    with graph:
        # 2. Assign the content image C and evaluate a_C, the content layer's activation.
        content = reshape_and_normalize_image(np.asarray(content_image, dtype=np.float32))
        a_C = graph.content_target(content)
        # 3. Assign the style image S and evaluate each style layer's Gram matrix G(a_S).
        style = reshape_and_normalize_image(np.asarray(style_image, dtype=np.float32))
        grams = graph.style_grams(style)
        # 4. The initial image G: the content with noise.
        generated = generate_noise_image(content, noise_ratio, seed=seed)
        # 5. Assign the targets and G, then the loop: model_nn (or model_lbfgs).
        yield from graph.run(a_C, grams, generated, num_iterations, save_every, should_stop)
