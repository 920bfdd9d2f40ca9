"""The optimisation loops: Adam (the course's ``model_nn``) and L-BFGS, as generators.

Both take a session whose graph holds the cost tensors (built by
:class:`nst_tf1.graph.TransferGraph`) and yield one :class:`Step` per iteration, leaving
printing and saving to the caller:

* :func:`model_nn`: the course's loop, one ``sess.run`` of Adam's ``train_step`` and the
  costs per iteration;
* :func:`model_lbfgs`: L-BFGS on the pixels (:func:`nst_tf1.lbfgs.minimize`, the iteration
  of SciPy's L-BFGS-B), each evaluation one ``sess.run`` fetching J and dJ/dG together (the
  TF1 ``ScipyOptimizerInterface`` pattern), of the image clipped into 0..255
  (:func:`pixel_bounds`); dJ/dG is built within :func:`lean_kernels`, which picks a
  convolution-gradient kernel without a 276 MB buffer.

A NaN or infinite cost stops either loop with :class:`NonFiniteCostError`, which carries the
last image whose costs were finite.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .config import CONFIG

__all__ = [
    "LBFGS_KERNEL_LABELS",
    "OPTIMIZERS",
    "Step",
    "NonFiniteCostError",
    "model_nn",
    "model_lbfgs",
    "lean_kernels",
    "pixel_bounds",
]

#: The optimisers a run can use; the first is the course's.
OPTIMIZERS = ("adam", "lbfgs")

#: Largest change of any pixel (in grey levels) L-BFGS's first step makes. Without bounds,
#: L-BFGS-B's first trial point (SciPy's, and :mod:`nst_tf1.lbfgs`'s) is x - dJ/dG /
#: ||dJ/dG||, a step of length 1 over all the pixels together: at 300x400 no pixel moves by
#: a thousandth of a grey level, J does not change in float32 and the line search stalls.
#: The variables L-BFGS sees are therefore
#: scaled, x = k y with k = FIRST_STEP ||dJ/dG(G0)|| / max|dJ/dG(G0)|, so that the first
#: step moves the pixel of the largest gradient by FIRST_STEP (the trial point L-BFGS-B
#: reached with bounds and J scaled by FIRST_STEP / max|dJ/dG|, as until benchmarks/ round
#: 5). Measured then on the trained stand-in, louvre_small + monet at 300x400, best J after 12
#: evaluations: unscaled 3.0e8; FIRST_STEP 2, 8, 32, 128: 3.4e8, 2.4e8, 2.0e8, 2.6e8.
FIRST_STEP = 32.0

#: Kernels that the L-BFGS graph's gradient ops ask for, by TensorFlow kernel label (op type
#: -> label); see :func:`lean_kernels`. Without oneDNN, TensorFlow's default CPU kernel for
#: Conv2DBackpropInput (dJ/dX of a convolution) first writes the whole im2col matrix of one
#: image, (n_H n_W) x (3 * 3 * n_C_in) float32: 276 MB for conv1_2 at 300x400, the peak of
#: every evaluation. The "eigen_tensor" kernel contracts the same sums block by block.
#: Measured on the trained stand-in, one evaluation of J and dJ/dG (fp32, oneDNN off, AMD
#: EPYC), memory above the resting memory, default -> eigen_tensor: 150x200 96 -> 66 MiB,
#: 0.46 -> 0.40 s; 300x400 384 -> 211 MiB, 1.48 -> 1.38 s; 600x800 1529 -> 797 MiB,
#: 5.46 -> 5.15 s. dJ/dG differs in the last bits (2e-7 of its largest value), J not at
#: all. With oneDNN on, its own kernel replaces both (same gradient, label or not). The
#: course's Adam graph keeps the default kernel, so that it matches the course's code bit
#: for bit.
LBFGS_KERNEL_LABELS = {"Conv2DBackpropInput": "eigen_tensor"}

#: Fewest evaluations before ``stop_when`` may end :func:`model_lbfgs`.
MIN_EVALUATIONS = 6

Step = collections.namedtuple("Step", "iteration total_cost content_cost style_cost image")
Step.__doc__ = """Progress of the optimisation.

Attributes:
    iteration: 0-based iteration; the costs are those of the image before that iteration's
        Adam update. The last Step has ``iteration == num_iterations``: the final image
        (fewer when ``should_stop`` ended the loop early; see :func:`model_nn`).
    total_cost, content_cost, style_cost: J, J_content and J_style as floats; ``None`` all
        three on an L-BFGS evaluation that did not compute them (``costs_on`` of
        :func:`model_lbfgs`: the detail phase's, which fetches its own objective only).
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

    def __init__(self, step: Step, last_finite: Step | None) -> None:
        self.step = step
        self.last_finite = last_finite
        super().__init__(
            f"the total cost became {step.total_cost} at iteration {step.iteration} "
            f"(content cost {step.content_cost}, style cost {step.style_cost})"
        )


def _attach(i, save_every, preview_every):
    """Whether step ``i`` carries its image: a save, or a preview a front end asked for."""
    return bool(save_every and i % save_every == 0 or preview_every and i % preview_every == 0)


def _finite(step):
    costs = [step.total_cost, step.content_cost, step.style_cost]
    return all(cost is None for cost in costs) or bool(np.isfinite(costs).all())


def model_nn(
    sess: Any,
    model: dict[str, Any],
    costs: Sequence[Any],
    train_step: Any,
    num_iterations: int,
    save_every: int = CONFIG.SAVE_EVERY,
    should_stop: Callable[[], bool] | None = None,
    *,
    summary: Any = None,
    writer: Any = None,
    preview_every: int = 0,
) -> Iterator[Step]:
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
        preview_every: also attach the image to every Step whose iteration is a multiple of
            this (0: never), for a front end's preview; the numbers do not change.

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
        step = Step(
            i,
            float(J),
            float(J_content),
            float(J_style),
            image if _attach(i, save_every, preview_every) else None,
        )
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


def model_lbfgs(
    sess: Any,
    model: dict[str, Any],
    costs: Sequence[Any],
    num_evaluations: int,
    save_every: int = CONFIG.SAVE_EVERY,
    should_stop: Callable[[], bool] | None = None,
    gradient: Any = None,
    *,
    first_step: float | None = FIRST_STEP,
    stop_when: Callable[[Step], bool] | None = None,
    summary: Any = None,
    writer: Any = None,
    preview_every: int = 0,
    objective: Any = None,
    feed: dict[Any, Any] | None = None,
    first_iteration: int = 0,
    costs_on: Callable[[int], bool] | None = None,
) -> Iterator[Step]:
    """Minimise J over the pixels with L-BFGS, yielding a :class:`Step` per evaluation.

    Each evaluation is one ``sess.run`` that feeds the candidate image into ``model['input']``
    and fetches J, J_content, J_style and dJ/dG together. What L-BFGS minimises is J of the
    image clipped into :func:`pixel_bounds` (0..255 once ``CONFIG.MEANS`` is added back),
    J(clip(x)); its gradient is dJ/dG where x is inside the bounds and 0 outside, where the
    clipped image does not change. Every image evaluated, reported and saved is the clipped
    one; the start image (``model['input']``'s value) is clipped first. L-BFGS may evaluate
    points along a line search that it then rejects, so the costs of successive Steps need
    not decrease; the last Step is the lowest-cost image evaluated, and it is also assigned
    to ``model['input']``.

    L-BFGS-B's box is not used: SciPy converted the bounds in Python loops over every pixel
    value, 1 s at 300x400 and 1.3 s a ``--fast`` run with SciPy 1.17, in which TensorFlow
    waited; on the trained stand-in, eight pairs, ``--fast`` ended with the same quality
    either way (benchmarks/README.md, round 5). Without bounds, L-BFGS-B's iteration is
    :func:`nst_tf1.lbfgs.minimize`'s, which keeps its pairs in float32 and spends about 5 ms
    instead of SciPy's 20-30 ms between two evaluations at 300x400 (round 17).

    The minimiser drives the loop, so it runs in a worker thread that hands each evaluation
    over and waits until the consumer asks for the next one; closing the generator stops it.
    The first evaluation, at the start image, runs in the consumer's thread; L-BFGS then sees
    the pixels scaled, x = k y, so that its first step moves no pixel by more than
    ``first_step`` grey levels (see :data:`FIRST_STEP`). It has no convergence test but a
    step that does not lower J (SciPy's ``factr = pgtol = 0``), so the budget, ``stop_when``
    or ``should_stop`` ends it.

    Args:
        sess: the session.
        model: layer dict from :func:`nst_tf1.load_vgg_model`.
        costs: the (J, J_content, J_style) tensors.
        num_evaluations: at most this many evaluations of J and its gradient.
        save_every: attach the image to every Step whose iteration is a multiple of this.
        should_stop: optional callable polled before every evaluation but the first; when it
            returns true the last Step (the best image so far) comes next, with ``iteration``
            the number of evaluations done.
        gradient: dJ/dG, ``tf.gradients(costs[0], model['input'])[0]``; built here (within
            :func:`lean_kernels`) when ``None`` (pass it for a finalised graph).
        first_step: see above; ``None`` lets L-BFGS see the pixels unscaled (its first step
            then has length 1 over all of them).
        stop_when: end as converged once this returns true for the best Step so far (its
            image not attached), after at least :data:`MIN_EVALUATIONS` evaluations.
        summary: optional merged summary op (:func:`nst_tf1.summaries.cost_summaries`),
            fetched in the same ``sess.run`` as each evaluation's costs and gradient.
        writer: ``FileWriter`` that receives ``summary`` (needed with it): each evaluation's
            at its 0-based number, and the best image's again at the last Step's iteration,
            as the Steps report them.
        preview_every: also attach the image to every Step whose evaluation is a multiple
            of this (0: never); the numbers do not change.
        objective: the scalar tensor L-BFGS minimises, ``gradient`` its gradient (default
            J, ``costs[0]``); the best Step is the one of the lowest objective, the Steps
            still report J, J_content and J_style.
        feed: extra values fed to every evaluation (the objective's weights).
        first_iteration: the number of the first evaluation (a phase that goes on from an
            earlier one's evaluations); images are attached by these numbers.
        costs_on: the evaluations (by number) whose (J, J_content, J_style) are fetched
            (default: every one). The others fetch the objective and its gradient alone
            (which, for an objective of the shallow layers, runs the network only that far)
            and their Steps carry ``None`` costs; an evaluation whose image is saved (a
            multiple of ``save_every``) always has its costs, and so does one whose
            objective is not finite.

    Yields:
        Step: ``iteration`` is the 0-based evaluation (costs of the image evaluated), then a
        last Step with ``iteration == num_evaluations`` (also when L-BFGS converged or
        ``stop_when`` ended it in fewer): the best image and its costs (``None`` where that
        evaluation did not fetch them, unless ``should_stop`` ended the run: they are
        computed then); ``first_iteration`` added to both.

    Raises:
        NonFiniteCostError: a cost is NaN or infinite; ``last_finite`` is the best image
            evaluated before it.
    """
    image = model["input"]
    shape = tuple(image.get_shape().as_list())
    fetches = _lbfgs_fetches(image, costs, gradient, objective, summary)
    feed = dict(feed or {})
    x0, G0 = _start_image(sess, image, shape)
    if num_evaluations <= 0:  # nothing to spend
        yield _unchanged(sess, image, costs, {**feed, image: G0}, G0, first_iteration)
        return
    wants = _wants_costs(first_iteration, save_every, costs_on)
    scipy_side = _Evaluations(sess, fetches, feed, image, G0, num_evaluations, first_step, wants)
    scipy_side.start(x0)
    last, stopped = num_evaluations, False
    try:
        scipy_side.first.set_result(scipy_side.evaluate(G0, 0))
        evaluation = 0
        while True:
            item = scipy_side.handoff.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            step = _evaluated(item, evaluation, first_iteration, save_every, preview_every, writer)
            if not _finite(step):
                best = _costed(sess, costs, image, scipy_side.best, first_iteration)
                raise NonFiniteCostError(step._replace(image=None), best)
            yield step
            evaluation += 1
            if should_stop is not None and should_stop():
                last, stopped = evaluation, True
                break
            if scipy_side.converged(stop_when, evaluation):
                break  # the last Step is the final image
            scipy_side.resume.release()
    finally:
        scipy_side.end()
    best = scipy_side.best
    if stopped:  # the run's final image: its costs, where its evaluation did not fetch them
        best = _costed(sess, costs, image, best, 0)
    _load(sess, image, best.image)
    scipy_side.log_best(writer, first_iteration + last)
    yield best._replace(iteration=first_iteration + last, image=np.array(best.image))


def _start_image(sess, image, shape):
    """(x0, G0): the input Variable's value clipped into :func:`pixel_bounds`, flat float64
    for L-BFGS and as a float32 image."""
    low, high = pixel_bounds(shape)
    x0 = np.clip(sess.run(image), low, high).astype(np.float64).reshape(-1)
    return x0, x0.reshape(shape).astype(np.float32)


def _wants_costs(first_iteration, save_every, costs_on):
    """Whether the evaluation of a 0-based number fetches the costs (:func:`model_lbfgs`'s
    ``costs_on``; always where its image is saved)."""

    def wants(evaluation):
        n = first_iteration + evaluation
        return costs_on is None or costs_on(n) or bool(save_every and n % save_every == 0)

    return wants


def _costed(sess, costs, image, step, first_iteration):
    """``step`` (the best Step of :class:`_Evaluations`, numbered from 0) numbered from
    ``first_iteration``, with its costs computed here where its evaluation did not fetch
    them (``None`` stays ``None``)."""
    if step is None:
        return None
    step = step._replace(iteration=first_iteration + step.iteration)
    if step.total_cost is not None:
        return step
    J, J_content, J_style = sess.run(list(costs), {image: step.image})
    return step._replace(
        total_cost=float(J), content_cost=float(J_content), style_cost=float(J_style)
    )


def _load(sess, image, value):
    """Set the Variable ``image`` to ``value`` by running its initializer with the value
    fed: no new op (the graph may be finalised). What ``Variable.load`` does, without its
    deprecation warning on the caller's stderr."""
    sess.run(image.initializer, {image.initializer.inputs[1]: value})


def _unchanged(sess, image, costs, feed, G0, iteration):
    """The Step of a budget of 0 evaluations: the start image G0, assigned to ``image``, with
    its costs (as Adam's 0 iterations), numbered ``iteration``."""
    J, J_content, J_style = sess.run(list(costs), feed)
    _load(sess, image, G0)
    return Step(iteration, float(J), float(J_content), float(J_style), np.array(G0))


def _lbfgs_fetches(image, costs, gradient, objective, summary):
    """What each evaluation fetches, in one ``sess.run``: (J, J_content, J_style, the
    gradient of the objective, the objective, [summary]); the gradient (of J) is built here
    when not given."""
    import tensorflow.compat.v1 as tf

    if gradient is None:
        with tf.name_scope("lbfgs"), lean_kernels(image.graph):
            (gradient,) = tf.gradients(costs[0], image)
    # Every logged tensor comes from the run that also gives the costs and dJ/dG.
    fetches = [*costs, gradient, costs[0] if objective is None else objective]
    return fetches + ([] if summary is None else [summary])


def _evaluated(item, evaluation, first_iteration, save_every, preview_every, writer):
    """The :class:`Step` of one evaluation handed over by :class:`_Evaluations` (its summary
    written at its number, flushed when its image is saved)."""
    J, J_content, J_style, G, logged = item
    n = first_iteration + evaluation
    saved = save_every and n % save_every == 0
    if logged:
        writer.add_summary(logged[0], n)
        if saved:
            writer.flush()
    keep = _attach(n, save_every, preview_every)
    return Step(n, J, J_content, J_style, np.array(G) if keep else None)


class _Evaluations:
    """The minimiser's side of :func:`model_lbfgs`: :func:`nst_tf1.lbfgs.minimize` in a worker
    thread, whose objective (:meth:`fun`) evaluates one image, hands the result over
    (``handoff``) and waits until the consumer releases ``resume``. It keeps the best image
    so far (the lowest objective) and the scale k of the variables L-BFGS sees (x = k y).

    Args:
        sess: the session.
        fetches: (J, J_content, J_style, dJ/dG, objective, [summary]).
        feed: extra values fed to every evaluation.
        image: the input Variable the candidate image is fed into.
        G0: the start image; its evaluation (``first``, run by the consumer) is taken
            when L-BFGS asks for it.
        num_evaluations: at most this many evaluations.
        first_step: see :func:`model_lbfgs`.
        with_costs: whether the evaluation of this 0-based number fetches the costs.
    """

    def __init__(self, sess, fetches, feed, image, G0, num_evaluations, first_step, with_costs):
        self.sess, self.fetches, self.feed, self.image = sess, fetches, feed, image
        self.with_costs = with_costs
        self.G0, self.shape = G0, G0.shape
        self.num_evaluations, self.first_step = num_evaluations, first_step
        # The worker thread hands each evaluation over and waits for the generator to resume it.
        self.handoff, self.resume = queue.Queue(), threading.Semaphore(0)
        self.stop = False
        self.best = self.lowest = None
        self.best_logged = []
        self.evaluations = 0
        self.scale = 1.0
        self.low, self.high = pixel_bounds(self.shape)
        # Reused by every call of fun: under the command's malloc tunables (nst_tf1.allocator)
        # each new array above 128 KiB is a fresh mapping whose pages fault in again.
        self.x = np.empty(self.shape)
        self.clipped = np.empty(self.shape)
        self.outside = np.empty(self.shape, dtype=bool)
        self.first = concurrent.futures.Future()  # (J, J_content, J_style, dJ/dG, J_w, *summary)
        self.worker = None

    def evaluate(self, G, evaluation):
        """(J, J_content, J_style, dJ_w/dG, J_w, *summary) of the image ``G``; the costs are
        ``None`` (and nothing is logged) where ``with_costs`` leaves them out, unless J_w is
        not finite (then J must be looked at)."""
        feed = {**self.feed, self.image: G}
        if self.with_costs(evaluation):
            return self.sess.run(self.fetches, feed)
        # The objective and its gradient alone: the network runs only as far as they need.
        dG, value = self.sess.run(self.fetches[3:5], feed)
        if not np.isfinite(value):
            return self.sess.run(self.fetches, feed)
        return None, None, None, dG, value

    def fun(self, y):
        """L-BFGS's objective: (J_w, dJ_w/dy) at the pixels x = k ``y``, J_w of the image
        clipped into the bounds; dJ_w/dG is 0 where x is outside them (there the clipped
        image does not change). ``y`` is not kept (the minimiser reuses it)."""
        # The budget: the evaluation past it ends the minimisation.
        if self.stop or self.evaluations == self.num_evaluations:
            raise _Stopped
        self.evaluations += 1
        x = np.multiply(self.scale, y.reshape(self.shape), out=self.x)
        G = np.clip(x, self.low, self.high, out=self.clipped).astype(np.float32)
        if self.evaluations == 1 and np.array_equal(G, self.G0):
            J, J_content, J_style, dG, value, *logged = self.first.result()
        else:
            J, J_content, J_style, dG, value, *logged = self.evaluate(G, self.evaluations - 1)
        costs = [None if c is None else float(c) for c in (J, J_content, J_style)]
        if np.isfinite(value) and (self.best is None or value < self.lowest):
            self.lowest = float(value)
            self.best = Step(self.evaluations - 1, *costs, G)
            self.best_logged = logged
        self.handoff.put((*costs, G, logged))
        self.resume.acquire()
        if self.stop:
            raise _Stopped
        # Outside the bounds (where clipping moved x) the clipped image does not change.
        np.not_equal(x, self.clipped, out=self.outside)
        gradient = np.multiply(self.scale, dG, dtype=np.float64)
        gradient[self.outside] = 0.0
        return float(value), gradient.reshape(-1)

    def _work(self, x0):
        from .lbfgs import minimize

        try:
            # k from dJ/dG at the start, whose evaluation the consumer runs meanwhile.
            dG = np.asarray(self.first.result()[3], dtype=np.float64)
            largest, norm = float(np.max(np.abs(dG))), float(np.linalg.norm(dG))
            if self.first_step and np.isfinite(norm) and largest > 0:
                self.scale = self.first_step * norm / largest
            # fun returns (J_w, dJ_w/dy); it ends the minimisation after the budget.
            minimize(self.fun, x0 / self.scale)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer's thread
            self.handoff.put(exc)
            return
        self.handoff.put(None)

    def start(self, x0):
        """Start the minimisation from ``x0`` (flat float64, inside the bounds) in its
        worker thread."""
        self.worker = threading.Thread(target=self._work, args=(x0,), name="lbfgs", daemon=True)
        self.worker.start()

    def converged(self, stop_when, evaluations):
        """Whether ``stop_when`` ends the minimisation after ``evaluations`` evaluations (at
        least :data:`MIN_EVALUATIONS`), asked of the best Step so far (image left out)."""
        return (
            stop_when is not None
            and evaluations >= MIN_EVALUATIONS
            and bool(stop_when(self.best._replace(image=None)))
        )

    def log_best(self, writer, step):
        """Write the best image's summary again at ``step`` (the last Step's iteration)."""
        if self.best_logged:
            writer.add_summary(self.best_logged[0], step)
            writer.flush()

    def end(self):
        """Stop the minimisation (wherever it is) and wait for its thread."""
        self.stop = True
        if not self.first.done():  # the first evaluation raised: L-BFGS's call for it stops
            self.first.set_exception(_Stopped())
        self.resume.release()
        self.worker.join()


class _Stopped(Exception):
    """Raised inside L-BFGS's objective to end the minimisation (the budget, or the consumer
    stopped)."""


def lean_kernels(graph: Any, labels: dict[str, str] | None = None) -> Any:
    """A context in which the ops created in ``graph`` ask for the kernels ``labels`` names.

    Uses ``tf.Graph._kernel_label_map``, the TF1 graph's own (private) switch. A label is
    applied only where TensorFlow registers a CPU kernel under it and TensorFlow sees no
    device but the CPU (the labelled kernels are CPU kernels: on a GPU or another
    accelerator the ops would be moved to the CPU). Where any of this cannot be read (a
    TensorFlow without these private functions), the context changes nothing.

    Args:
        graph: the ``tf.Graph`` the ops are built in.
        labels: op type -> kernel label; default :data:`LBFGS_KERNEL_LABELS`.

    Returns:
        a context manager.
    """
    import tensorflow.compat.v1 as tf

    labels = LBFGS_KERNEL_LABELS if labels is None else labels
    try:
        from tensorflow.python.framework import kernels

        label_map = graph._kernel_label_map
        if any(d.device_type != "CPU" for d in tf.config.list_physical_devices()):
            return contextlib.nullcontext()
        usable = {}
        for op, label in labels.items():
            registered = kernels.get_registered_kernels_for_op(op).kernel
            if any(k.device_type == "CPU" and k.label == label for k in registered):
                usable[op] = label
    except (ImportError, AttributeError):
        return contextlib.nullcontext()
    return label_map(usable) if usable else contextlib.nullcontext()


def pixel_bounds(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
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
