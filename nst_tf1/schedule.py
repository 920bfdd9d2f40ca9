"""What ``--fast``'s L-BFGS minimises and when it stops: a content weight from the two terms'
own scales, or a content trust region whose bound comes from a preview of the course's own
run, after a detail phase on the shallow style terms, and a stopping rule read from the
optimiser's progress.

The course's weights (alpha = 10, beta = 40) make J almost all style cost: run to convergence,
L-BFGS lowers J_style far below the course's Adam-200 result while J_content ends above it
(the content dissolves). Two ways hold the content. A content weight (``--term-balance R``,
``--fast``'s until round 10):

    J_w = w alpha J_content + beta J_style,     w = beta J_style(C) / (R alpha J_content(S))

with C the content and S the style image at the size being optimised: J_style(C) is the
style cost of doing nothing (the content image as the result), J_content(S) the content cost
of giving up the content (the style image as the result). With that weight the two terms,
each measured against its own scale, are weighed R : 1 in favour of the style
(:func:`content_weight`). The Steps keep reporting the course's J, J_content and J_style.

A fixed weight puts the result at one place for every pair, and the course's result does not
sit at one place (benchmarks/README.md): its J_content ends at 0.58 to 0.93 of J_content(S).
So ``--fast`` (``--course-preview 10``), and the option ``--content-bound F``, minimise J
inside a content trust region instead (:func:`content_bound`):

    J_b = J + rho max(0, J_content - b)^2

J alone while the content cost is under b, a penalty growing with the excess beyond it. With
``--course-preview``, b = f J_content(S), f the fraction of it that N iterations of the course's
own Adam run reach on a copy of the pair at a quarter of the size
(:mod:`nst_tf1.course_preview`): it follows where the course's run goes on each pair (all 15
pairs met both of the course's costs with 40 full-size evaluations, rounds 9 and 10; with the
weight R = 32 and 15, 9 of them). With ``--content-bound``, b = F J_content(G0), G0 the
course's own initial image (the content with its noise); the course's run ends at 1.9 to 3.6
times J_content(G0) depending on the pair, so no single F fits every pair (round 2).

Before that objective, ``--detail-iterations N`` (``--fast``: 40, then ``--iterations`` 10)
spends N evaluations at the output size on the style terms of the shallow layers alone
(:func:`nst_tf1.costs.detail_layers`, conv1_1 to conv3_1):

    J_detail = beta sum_{l in conv1_1, conv2_1, conv3_1} coeff_l J_style^[l]

After the half size the upsampled image lacks the style's fine and middle detail, which
those terms hold (99% of J_style on a texture), while J_content is near its end already;
fetched alone with its gradient, J_detail runs the network only as far as conv3_1, about half
the time of an evaluation of J (benchmarks/README.md, rounds 11 and 12). The trust region's
evaluations then pull J_content back under its bound, from the detail phase's best image.

The optimisation stops when it has stopped paying (:class:`ProgressStop`): when J_w (J_b) fell by
less than a fraction ``tolerance`` of itself over the last ``window`` evaluations, or at the
evaluation budget. ``--stop-balance`` stops it once beta J_style is down to a given multiple
of alpha J_content (:func:`balanced`); :func:`stop_rule` is whichever of the two comes first.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .optimize import Step
    from .settings import Settings

__all__ = [
    "BOUND_STRENGTH",
    "ProgressStop",
    "balanced",
    "bound_penalty",
    "content_bound",
    "content_weight",
    "stop_rule",
]

#: kappa of :func:`content_bound`: a J_content above the bound b by a fraction d of b costs
#: kappa d^2 beta J_style(C), the whole style term of the content image at d = 1/sqrt(kappa).
#: The penalty's curvature stays while the style term falls by orders of magnitude, so a
#: strong one stiffens the problem as it converges. On coffee + gravel (benchmarks/README.md)
#: kappa = 100 stalled J_style at 1.2e7 in 20 evaluations, where kappa = 1 held J_content as
#: well (1219 for b = 1218) and reached 3.6e5 (round 2). With ``--course-preview 10``
#: (round 9), kappa = 0.1 kept J_content where kappa = 1 did (its ratio to the course's
#: moved by 0.006 at most) and took J_style lower at every budget: after 30 full-size
#: evaluations 0.65 against 0.83 of the course's on coffee + gravel, 1.33 against 1.95 on
#: clock + grass.
BOUND_STRENGTH = 0.1


def content_weight(
    alpha: float,
    beta: float,
    style_cost_of_content: float,
    content_cost_of_style: float,
    ratio: float,
) -> float:
    """w such that J_w = w alpha J_content + beta J_style, written in the terms divided by
    their scales, w alpha J_content(S) (J_content / J_content(S)) + beta J_style(C)
    (J_style / J_style(C)), weighs them 1 : ``ratio``.

    Args:
        alpha, beta: the course's weights of J_content and J_style in J.
        style_cost_of_content: J_style(C), the style cost of the content image (> 0).
        content_cost_of_style: J_content(S), the content cost of the style image (> 0).
        ratio: R, how many times more the style term weighs, each term divided by its scale.

    Returns:
        w >= 1 (a weight below 1 would weaken the content against the course's J); 1 when
        alpha is 0 or a scale is not a positive finite number.
    """
    scales = (style_cost_of_content, content_cost_of_style)
    if not alpha or not all(math.isfinite(v) and v > 0 for v in scales):
        return 1.0
    return max(1.0, beta * style_cost_of_content / (ratio * alpha * content_cost_of_style))


class ProgressStop:
    """``stop_when`` for :func:`nst_tf1.optimize.model_lbfgs`: true once the weighted cost
    J_w = J + (w - 1) alpha J_content of the best image has fallen by less than
    ``tolerance`` times its value over the last ``window`` evaluations.

    Args:
        tolerance: relative decrease over ``window`` evaluations below which it stops.
        window: evaluations to look back.
        alpha: the course's content weight in J.
        weight: w, the content weight of the objective (1: J itself).
        bound: (b, rho) of :func:`content_bound`, whose penalty the objective also holds
            (``None``: none).
    """

    def __init__(
        self,
        tolerance: float,
        window: int = 5,
        *,
        alpha: float,
        weight: float = 1.0,
        bound: tuple[float, float] | None = None,
    ):
        self.tolerance = tolerance
        self.window = window
        self.alpha = alpha
        self.weight = weight
        self.bound = bound
        self.history: list[float] = []

    def objective(self, step: Step) -> float:
        """J_w of a Step, with the content bound's penalty."""
        weighted = step.total_cost + (self.weight - 1.0) * self.alpha * step.content_cost
        return weighted + bound_penalty(step.content_cost, self.bound)

    def __call__(self, step: Step) -> bool:
        self.history.append(self.objective(step))
        if len(self.history) <= self.window:
            return False
        before, now = self.history[-1 - self.window], self.history[-1]
        return before - now < self.tolerance * abs(now)


def stop_rule(
    settings: Settings, weight: float, bound: tuple[float, float] | None = None
) -> Callable[[Step], bool] | None:
    """The output scale's ``stop_when``: ``--stop-balance`` or ``--stop-progress``,
    whichever comes first (``None`` when both are off).

    Args:
        settings: the run's settings (``stop_progress``, ``stop_balance``, ``alpha``,
            ``beta``).
        weight: the content weight w of the objective (:func:`content_weight`).
        bound: the content trust region (b, rho) of the objective (:func:`content_bound`).
    """
    s = settings
    progress = None
    if s.stop_progress is not None:
        progress = ProgressStop(s.stop_progress, alpha=s.alpha, weight=weight, bound=bound)
    if s.stop_balance is None:
        return progress
    if progress is None:
        return functools.partial(balanced, s)
    return lambda step: progress(step) or balanced(s, step)


def balanced(settings: Settings, step: Step) -> bool:
    """``--stop-balance``: whether beta J_style is down to ``stop_balance`` times
    alpha J_content (never, when the setting is off or alpha is 0)."""
    s = settings
    return (
        s.stop_balance is not None
        and s.alpha > 0
        and s.beta * step.style_cost <= s.stop_balance * s.alpha * step.content_cost
    )


def content_bound(
    beta: float,
    style_cost_of_content: float,
    start_content_cost: float,
    factor: float,
    strength: float = BOUND_STRENGTH,
) -> tuple[float, float] | None:
    """The content trust region (b, rho) of ``--course-preview`` and ``--content-bound``:
    L-BFGS minimises J + rho max(0, J_content - b)^2, J_style alone lowered while
    J_content <= b.

    b = ``factor`` times a reference content cost at the size being optimised: for
    ``--course-preview`` J_content(S), the style image's, and the fraction of it that the
    preview of the course's run reached (:mod:`nst_tf1.course_preview`); for
    ``--content-bound`` J_content(G0), with G0 the course's own initial image (the content
    with the course's noise, ``noise_ratio`` 0.6): how much content the course itself gives
    up before its first step. rho = kappa beta J_style(C) / b^2, so
    that exceeding b by a fraction d of it costs kappa d^2 beta J_style(C), in units of the
    style term at the start (C, the content image as the result).

    Args:
        beta: the course's weight of J_style in J.
        style_cost_of_content: J_style(C) (> 0).
        start_content_cost: the reference, J_content(S) or J_content(G0) (> 0).
        factor: b / the reference (> 0).
        strength: kappa.

    Returns:
        (b, rho), or ``None`` (no bound) when beta is 0 or a cost is not a positive
        finite number.
    """
    values = (style_cost_of_content, start_content_cost)
    if not beta or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    bound = factor * start_content_cost
    return bound, strength * beta * style_cost_of_content / bound**2


def bound_penalty(content_cost: float, bound: tuple[float, float] | None) -> float:
    """rho max(0, J_content - b)^2 for ``bound`` = (b, rho) (0 when ``None``)."""
    if bound is None:
        return 0.0
    b, rho = bound
    return rho * max(0.0, content_cost - b) ** 2
