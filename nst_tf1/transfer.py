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
"""

import collections

import numpy as np

from .config import CONFIG
from .costs import compute_content_cost, compute_style_cost, total_cost
from .images import generate_noise_image, reshape_and_normalize_image
from .summaries import cost_summaries, open_writer
from .vgg import build_vgg_model, read_vgg_weights

__all__ = ["Step", "NonFiniteCostError", "model_nn", "style_transfer"]

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
):
    """Neural style transfer as in the course, in a fresh graph and session.

    Args:
        content_image: (n_H, n_W, 3) RGB array in 0..255 (see :func:`nst_tf1.images.load_image`).
        style_image: (n_H, n_W, 3) RGB array in 0..255, the same size as ``content_image``.
        model: path of the VGG-19 .mat file, or :class:`nst_tf1.vgg.VGGWeights` already read.
        noise_ratio: weight of the noise in the initial image.
        alpha, beta: weights of J_content and J_style.
        learning_rate: Adam's learning rate.
        num_iterations: number of Adam updates.
        save_every: attach the image to every Step whose iteration is a multiple of this.
        seed: seed of the initial noise; the same seed gives the same result.
        style_layers: (layer name, coefficient) pairs.
        content_layer: layer of the content cost.
        should_stop: optional callable polled before every update; see :func:`model_nn`.
        logdir: if given, write the graph and the costs of every iteration there for
            TensorBoard (see :mod:`nst_tf1.summaries`).

    Yields:
        Step: see :func:`model_nn`.

    Raises:
        NonFiniteCostError: a cost became NaN or infinite (see :func:`model_nn`).
        ValueError: the images differ in size.
        nst_tf1.vgg.ModelFileError: the model file cannot be used.
    """
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    if np.shape(content_image) != np.shape(style_image):
        raise ValueError(
            f"content image {np.shape(content_image)} and style image {np.shape(style_image)} "
            "differ in size; resize both to the same height and width"
        )
    height, width = np.shape(content_image)[:2]
    content = reshape_and_normalize_image(content_image)
    style = reshape_and_normalize_image(style_image)
    generated = generate_noise_image(content, noise_ratio, seed=seed)
    weights = read_vgg_weights(model) if not hasattr(model, "layers") else model

    with tf.Graph().as_default(), tf.Session() as sess:
        model = build_vgg_model(weights, height, width)

        # Content cost: a_C is a constant (C's activations), a_G the layer's tensor.
        sess.run(model["input"].assign(content, name="assign_content"))
        out = model[content_layer]
        a_C = sess.run(out)
        a_G = out
        with tf.name_scope("content_cost"):
            J_content = compute_content_cost(a_C, a_G)

        # Style cost: each a_S is evaluated while S is the input.
        sess.run(model["input"].assign(style, name="assign_style"))
        J_style, layer_costs = compute_style_cost(sess, model, style_layers,
                                                  return_layer_costs=True)

        with tf.name_scope("total_cost"):
            J = total_cost(J_content, J_style, alpha=alpha, beta=beta)
        with tf.name_scope("optimizer"):
            train_step = tf.train.AdamOptimizer(learning_rate).minimize(J)

        # The last two ops: initialise Adam's variables, then put G into the input.
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
            yield from model_nn(sess, model, (J, J_content, J_style), train_step,
                                num_iterations, save_every, should_stop=should_stop,
                                summary=summary, writer=writer)
        finally:
            if writer is not None:
                writer.close()
