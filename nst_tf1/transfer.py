"""The course's optimisation, in its own TF1 graph and session.

:func:`style_transfer` follows the assignment's ``model_nn`` flow step by step:

1. build VGG-19 around the input Variable;
2. assign the content image C, evaluate ``a_C`` at the content layer, build J_content;
3. assign the style image S, evaluate every style layer's ``a_S``, build J_style;
4. build J = alpha J_content + beta J_style and Adam's ``train_step``;
5. initialise the variables, then assign the noisy generated image G (running the assign op
   with ``sess.run`` is what puts G into the Variable);
6. run ``train_step`` repeatedly (:func:`model_nn`), reporting the costs as it goes.

With ``logdir``, the graph and every iteration's costs also go to TensorBoard
(:mod:`nst_tf1.summaries`).

It is a generator: it yields a :class:`Step` per iteration and leaves printing and saving to
the caller.

Two opt-in fast modes leave the course's defaults (Adam, fp32) untouched:

* ``optimizer="lbfgs"`` (:func:`model_lbfgs`): SciPy's L-BFGS-B on the pixels, each
  evaluation one ``sess.run`` fetching J and dJ/dG together (the TF1
  ``ScipyOptimizerInterface`` pattern), with bounds that keep every pixel in 0..255;
* ``precision="bf16"`` (:func:`session_config`): TensorFlow's oneDNN automatic mixed
  precision graph rewrite, which runs the convolutions in bfloat16 on CPUs that have
  bfloat16 instructions (:func:`bf16_unsupported_reason` says why not elsewhere).
"""

import collections
import concurrent.futures
import queue
import threading

import numpy as np

from .config import CONFIG
from .costs import compute_content_cost, compute_style_cost, hold_in_variable, total_cost
from .images import generate_noise_image, reshape_and_normalize_image
from .summaries import cost_summaries, open_writer
from .vgg import build_vgg_model, initialize_vgg_weights, read_vgg_weights

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "PrecisionError",
    "Step",
    "NonFiniteCostError",
    "bf16_unsupported_reason",
    "model_lbfgs",
    "model_nn",
    "pixel_bounds",
    "session_config",
    "style_transfer",
]

#: Values of ``style_transfer(optimizer=...)``; the first is the course's.
OPTIMIZERS = ("adam", "lbfgs")
#: Values of ``style_transfer(precision=...)``; the first is the course's.
PRECISIONS = ("fp32", "bf16")

# /proc/cpuinfo flags of the instructions oneDNN runs bfloat16 convolutions with.
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


class PrecisionError(ValueError):
    """The requested precision cannot run on this machine; the message says why."""

Step = collections.namedtuple("Step", "iteration total_cost content_cost style_cost image")
Step.__doc__ = """Progress of the optimisation.

Attributes:
    iteration: 0-based iteration; the costs are those of the image before that iteration's
        Adam update. The last Step has ``iteration == num_iterations``: the final image
        (fewer when ``should_stop`` ended the loop early; see :func:`model_nn`).
    total_cost, content_cost, style_cost: J, J_content and J_style as floats.
    image: (1, n_H, n_W, 3) normalised image the costs belong to, on iterations that are a
        multiple of ``save_every`` and on the last Step; ``None`` otherwise.
"""


class NonFiniteCostError(ArithmeticError):
    """A cost became NaN or infinite: the optimisation has diverged and was stopped.

    Attributes:
        step: the :class:`Step` whose costs are not finite (its image is not attached).
        last_finite: the :class:`Step` of the last image whose costs were finite, with that
            image attached; ``None`` when the initial image's costs were already not finite.
    """

    def __init__(self, step, last_finite):
        self.step = step
        self.last_finite = last_finite
        super().__init__(
            f"the total cost became {step.total_cost} at iteration {step.iteration} "
            f"(content cost {step.content_cost}, style cost {step.style_cost})"
        )


def _finite(step):
    return bool(np.isfinite([step.total_cost, step.content_cost, step.style_cost]).all())


def model_nn(sess, model, costs, train_step, num_iterations, save_every=CONFIG.SAVE_EVERY,
             should_stop=None, *, summary=None, writer=None):
    """Run ``train_step`` ``num_iterations`` times, yielding a :class:`Step` each time.

    ``model['input']`` must already hold the initial generated image.

    Every Step's costs are checked here, where they are produced: on the first NaN or
    infinite cost the loop stops and raises :class:`NonFiniteCostError`, carrying the last
    image whose costs were finite (the image is read before every update for that purpose:
    one (1, n_H, n_W, 3) copy per iteration, small next to the forward and backward pass).

    Args:
        sess: the session.
        model: layer dict from :func:`nst_tf1.load_vgg_model`.
        costs: the (J, J_content, J_style) tensors.
        train_step: the optimiser's update op.
        num_iterations: number of Adam updates.
        save_every: attach the image to every Step whose iteration is a multiple of this.
        should_stop: optional callable polled before every update; when it returns true the
            loop yields one last Step for the current image (iteration = updates done so far,
            image attached) and ends early. The caller recognises it as the last Step.
        summary: optional merged summary op (:func:`nst_tf1.summaries.cost_summaries`),
            fetched in the same ``sess.run`` as the train step and the costs.
        writer: ``FileWriter`` that receives ``summary`` at each iteration (needed with it).

    Yields:
        Step: one per iteration, then a last one for the final image.

    Raises:
        NonFiniteCostError: a cost is NaN or infinite.
    """
    last_finite = None
    # Every logged tensor comes from the run that also takes the Adam step.
    extra = [] if summary is None else [summary]
    for i in range(num_iterations):
        if should_stop is not None and should_stop():
            break
        # The image the costs below are computed on: the Variable before this update.
        image = np.array(sess.run(model["input"]), copy=True)
        # One run: the forward pass gives the costs, and Adam updates the input from it.
        _, J, J_content, J_style, *logged = sess.run([train_step, *costs, *extra])
        if logged:
            writer.add_summary(logged[0], i)
            if save_every and i % save_every == 0:
                writer.flush()
        step = Step(i, float(J), float(J_content), float(J_style),
                    image if save_every and i % save_every == 0 else None)
        if not _finite(step):
            raise NonFiniteCostError(step, last_finite)
        last_finite = step._replace(image=image)
        yield step
    else:
        i = num_iterations
    J, J_content, J_style, image, *logged = sess.run([*costs, model["input"], *extra])
    if logged:
        writer.add_summary(logged[0], i)
        writer.flush()
    step = Step(i, float(J), float(J_content), float(J_style), np.array(image))
    if not _finite(step):
        raise NonFiniteCostError(step._replace(image=None), last_finite)
    yield step


def model_lbfgs(sess, model, costs, num_evaluations, save_every=CONFIG.SAVE_EVERY,
                should_stop=None, gradient=None):
    """Minimise J over the pixels with SciPy's L-BFGS-B, yielding a :class:`Step` per evaluation.

    Each evaluation is one ``sess.run`` that feeds the candidate image into ``model['input']``
    and fetches J, J_content, J_style and dJ/dG together. The bounds of :func:`pixel_bounds`
    keep every pixel of the image in 0..255 once ``CONFIG.MEANS`` is added back; the start
    image (``model['input']``'s value) is clipped into them. L-BFGS-B may evaluate points
    along a line search that it then rejects, so the costs of successive Steps need not
    decrease; the last Step is the lowest-cost image evaluated, and it is also assigned to
    ``model['input']``.

    SciPy drives the loop, so it runs in a worker thread that hands each evaluation over
    and waits until the consumer asks for the next one; closing the generator stops it.
    Before its first evaluation SciPy converts the bounds in a Python loop over every pixel
    value (about 0.4 s at 300x400); the first evaluation, at the start image, runs in the
    consumer's thread meanwhile, and SciPy's call for it takes that result.

    Args:
        sess: the session.
        model: layer dict from :func:`nst_tf1.load_vgg_model`.
        costs: the (J, J_content, J_style) tensors.
        num_evaluations: at most this many evaluations of J and its gradient.
        save_every: attach the image to every Step whose iteration is a multiple of this.
        should_stop: optional callable polled before every evaluation but the first; when it
            returns true the last Step (the best image so far) comes next, with ``iteration``
            the number of evaluations done.
        gradient: dJ/dG, ``tf.gradients(costs[0], model['input'])[0]``; built here when
            ``None`` (pass it for a finalised graph).

    Yields:
        Step: ``iteration`` is the 0-based evaluation (costs of the image evaluated), then a
        last Step with ``iteration == num_evaluations`` (also when L-BFGS-B converged in
        fewer): the best image and its costs.

    Raises:
        NonFiniteCostError: a cost is NaN or infinite; ``last_finite`` is the best image
            evaluated before it.
    """
    import scipy.optimize
    import tensorflow.compat.v1 as tf

    image = model["input"]
    shape = tuple(image.get_shape().as_list())
    if gradient is None:
        with tf.name_scope("lbfgs"):
            (gradient,) = tf.gradients(costs[0], image)
    fetches = [*costs, gradient]
    low, high = pixel_bounds(shape)
    x0 = np.clip(sess.run(image), low, high).astype(np.float64).reshape(-1)
    G0 = x0.reshape(shape).astype(np.float32)
    bounds = scipy.optimize.Bounds(low.reshape(-1), high.reshape(-1))

    # The worker thread hands each evaluation over and waits for the generator to resume it.
    handoff, resume = queue.Queue(), threading.Semaphore(0)
    state = {"stop": False, "best": None, "evaluations": 0}
    first = concurrent.futures.Future()  # (J, J_content, J_style, dJ/dG) at G0

    def fun(x):
        # SciPy may ask for one evaluation past maxfun before it checks: refuse it.
        if state["stop"] or state["evaluations"] == num_evaluations:
            raise _Stopped
        state["evaluations"] += 1
        G = x.reshape(shape).astype(np.float32)
        if state["evaluations"] == 1 and np.array_equal(G, G0):
            J, J_content, J_style, dG = first.result()
        else:
            J, J_content, J_style, dG = sess.run(fetches, {image: G})
        if np.isfinite(J) and (state["best"] is None or J < state["best"].total_cost):
            state["best"] = Step(state["evaluations"] - 1, float(J), float(J_content),
                                 float(J_style), G)
        handoff.put((float(J), float(J_content), float(J_style), G))
        resume.acquire()
        if state["stop"]:
            raise _Stopped
        return float(J), dG.astype(np.float64).reshape(-1)

    def work():
        try:
            scipy.optimize.minimize(
                fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                # maxiter counts accepted steps, maxfun evaluations; evaluations are the budget.
                options={"maxfun": num_evaluations, "maxiter": num_evaluations},
            )
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer's thread
            handoff.put(exc)
            return
        handoff.put(None)

    worker = threading.Thread(target=work, name="lbfgs", daemon=True)
    worker.start()
    last = num_evaluations
    try:
        first.set_result(sess.run(fetches, {image: G0}))
        evaluation = 0
        while True:
            item = handoff.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            J, J_content, J_style, G = item
            keep = save_every and evaluation % save_every == 0
            step = Step(evaluation, J, J_content, J_style, np.array(G) if keep else None)
            if not _finite(step):
                raise NonFiniteCostError(step._replace(image=None), state["best"])
            yield step
            evaluation += 1
            if should_stop is not None and should_stop():
                last = evaluation
                break
            resume.release()
    finally:
        state["stop"] = True
        if not first.done():  # the first evaluation raised: SciPy's call for it stops
            first.set_exception(_Stopped())
        resume.release()
        worker.join()
    best = state["best"]
    image.load(best.image, sess)  # feeds the initializer: no new op, works when finalised
    yield best._replace(iteration=last, image=np.array(best.image))


class _Stopped(Exception):
    """Raised inside SciPy's objective to end the minimisation when the consumer stops."""


def pixel_bounds(shape):
    """Bounds of the normalised image that keep every pixel in 0..255.

    The network sees ``pixel - CONFIG.MEANS``, so channel c may range over
    ``[-MEANS[c], 255 - MEANS[c]]``.

    Args:
        shape: (1, n_H, n_W, 3) shape of the image.

    Returns:
        (low, high): float64 arrays of ``shape``.
    """
    means = np.asarray(CONFIG.MEANS, dtype=np.float64).reshape(1, 1, 1, -1)
    low = np.broadcast_to(-means, shape).astype(np.float64)
    return low, low + 255.0


def bf16_unsupported_reason(check_tensorflow=True):
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
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return "cannot read /proc/cpuinfo to check for bfloat16 instructions (Linux only)"
    if not flags.intersection(_BF16_CPU_FLAGS):
        return ("this CPU has no bfloat16 instructions (neither avx512_bf16 nor amx_bf16 in "
                "/proc/cpuinfo); use --precision fp32")
    if check_tensorflow:
        try:
            from tensorflow.python.util import _pywrap_util_port

            onednn = _pywrap_util_port.IsMklEnabled()
        except (ImportError, AttributeError):
            onednn = False
        if not onednn:
            return ("this TensorFlow runs without oneDNN (TF_ENABLE_ONEDNN_OPTS=0?), which the "
                    "bf16 rewrite needs")
    return None


def session_config(precision="fp32"):
    """The session's ConfigProto for a precision.

    ``"fp32"`` is TensorFlow's default. ``"bf16"`` turns on the grappler rewrite
    ``auto_mixed_precision_onednn_bfloat16``: convolutions, matmuls and the ops between
    them run in bfloat16 (8-bit mantissa), with casts inserted at the float32 Variables and
    costs; reductions that need the range stay float32.

    Args:
        precision: one of :data:`PRECISIONS`.

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
    config = tf.ConfigProto()
    if precision == "bf16":
        reason = bf16_unsupported_reason()
        if reason:
            raise PrecisionError(f"--precision bf16 is not available: {reason}")
        config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
            rewriter_config_pb2.RewriterConfig.ON
        )
    return config


def style_transfer(
    content_image,
    style_image,
    model,
    *,
    noise_ratio=CONFIG.NOISE_RATIO,
    alpha=CONFIG.ALPHA,
    beta=CONFIG.BETA,
    learning_rate=CONFIG.LEARNING_RATE,
    num_iterations=CONFIG.NUM_ITERATIONS,
    save_every=CONFIG.SAVE_EVERY,
    seed=None,
    style_layers=CONFIG.STYLE_LAYERS,
    content_layer=CONFIG.CONTENT_LAYER,
    should_stop=None,
    logdir=None,
    optimizer="adam",
    precision="fp32",
):
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
        should_stop: optional callable polled before every update; see :func:`model_nn`.
        logdir: if given, write the graph and the costs of every iteration there for
            TensorBoard (see :mod:`nst_tf1.summaries`); with L-BFGS, the graph only.
        optimizer: ``"adam"`` (the course's) or ``"lbfgs"`` (:func:`model_lbfgs`).
        precision: ``"fp32"`` (the course's) or ``"bf16"`` (:func:`session_config`).

    Yields:
        Step: see :func:`model_nn` and :func:`model_lbfgs`.

    Raises:
        NonFiniteCostError: a cost became NaN or infinite (see :func:`model_nn`).
        ValueError: the images differ in size, or an unknown optimizer or precision.
        PrecisionError: ``precision="bf16"`` on a machine that cannot run it.
        nst_tf1.vgg.ModelFileError: the model file cannot be used.
    """
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    if np.shape(content_image) != np.shape(style_image):
        raise ValueError(
            f"content image {np.shape(content_image)} and style image {np.shape(style_image)} "
            "differ in size; resize both to the same height and width"
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    config = session_config(precision)
    height, width = np.shape(content_image)[:2]
    content = reshape_and_normalize_image(content_image)
    style = reshape_and_normalize_image(style_image)
    generated = generate_noise_image(content, noise_ratio, seed=seed)
    weights = read_vgg_weights(model) if not hasattr(model, "layers") else model

    with tf.Graph().as_default(), tf.Session(config=config) as sess:
        # Weights as Variables: the session holds one copy of them (see build_vgg_model).
        model = build_vgg_model(weights, height, width, weights_as="variables")
        initialize_vgg_weights(sess, weights)
        del weights  # the caller's reference, if any, is now the only one outside the session

        # Content cost: a_C is fixed (C's activations), a_G the layer's tensor. a_C and the
        # a_S are held in Variables rather than the course's constants: same values, but the
        # graph stays small (see hold_in_variable).
        sess.run(model["input"].assign(content, name="assign_content"))
        out = model[content_layer]
        a_G = out
        with tf.name_scope("content_cost"):
            a_C = hold_in_variable(sess, sess.run(out), "a_C")
            J_content = compute_content_cost(a_C, a_G)

        # Style cost: each a_S is evaluated while S is the input.
        sess.run(model["input"].assign(style, name="assign_style"))
        J_style, layer_costs = compute_style_cost(sess, model, style_layers,
                                                  return_layer_costs=True, a_S_as="variables")

        with tf.name_scope("total_cost"):
            J = total_cost(J_content, J_style, alpha=alpha, beta=beta)
        train_step = gradient = None
        if optimizer == "adam":
            with tf.name_scope("optimizer"):
                train_step = tf.train.AdamOptimizer(learning_rate).minimize(J)
        else:
            with tf.name_scope("lbfgs"):
                (gradient,) = tf.gradients(J, model["input"])

        # The last two ops: initialise Adam's variables (if any), then put G into the input.
        init = tf.global_variables_initializer()
        assign_generated = model["input"].assign(generated, name="assign_generated")

        summary = writer = None
        if logdir is not None:
            summary = cost_summaries(J, J_content, J_style, layer_costs)
            # Opened once the graph is complete, so TensorBoard shows all of it.
            writer = open_writer(logdir, sess.graph)

        try:
            sess.run(init)
            # Building the assign op changes nothing; running it puts G into the Variable.
            sess.run(assign_generated)
            if optimizer == "lbfgs":
                yield from model_lbfgs(sess, model, (J, J_content, J_style), num_iterations,
                                       save_every, should_stop=should_stop, gradient=gradient)
            else:
                yield from model_nn(sess, model, (J, J_content, J_style), train_step,
                                    num_iterations, save_every, should_stop=should_stop,
                                    summary=summary, writer=writer)
        finally:
            if writer is not None:
                writer.close()
