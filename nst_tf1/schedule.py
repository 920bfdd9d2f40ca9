"""What ``--fast``'s L-BFGS minimises and when it stops: a content weight from the two terms'
own scales, and a stopping rule read from the optimiser's progress.

The course's weights (alpha = 10, beta = 40) make J almost all style cost: run to convergence,
L-BFGS lowers J_style far below the course's Adam-200 result while J_content ends above it
(the content dissolves). ``--fast`` therefore minimises

    J_w = w alpha J_content + beta J_style,     w = beta J_style(C) / (R alpha J_content(S))

with C the content and S the style image at the size being optimised: J_style(C) is the
style cost of doing nothing (the content image as the result), J_content(S) the content cost
of giving up the content (the style image as the result). With that weight the two terms,
each measured against its own scale, are weighed R : 1 in favour of the style
(:func:`content_weight`): a dimensionless balance that follows each pair's magnitudes,
instead of the course's raw alpha : beta. The Steps keep reporting the course's J, J_content
and J_style.

The optimisation stops when it has stopped paying (:class:`ProgressStop`): when J_w fell by
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

__all__ = ["ProgressStop", "balanced", "content_weight", "stop_rule"]


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
    """

    def __init__(self, tolerance: float, window: int = 5, *, alpha: float, weight: float = 1.0):
        self.tolerance = tolerance
        self.window = window
        self.alpha = alpha
        self.weight = weight
        self.history: list[float] = []

    def objective(self, step: Step) -> float:
        """J_w of a Step."""
        return step.total_cost + (self.weight - 1.0) * self.alpha * step.content_cost

    def __call__(self, step: Step) -> bool:
        self.history.append(self.objective(step))
        if len(self.history) <= self.window:
            return False
        before, now = self.history[-1 - self.window], self.history[-1]
        return before - now < self.tolerance * abs(now)


def stop_rule(settings: Settings, weight: float) -> Callable[[Step], bool] | None:
    """The output scale's ``stop_when``: ``--stop-balance`` or ``--stop-progress``,
    whichever comes first (``None`` when both are off).

    Args:
        settings: the run's settings (``stop_progress``, ``stop_balance``, ``alpha``,
            ``beta``).
        weight: the content weight w of the objective (:func:`content_weight`).
    """
    s = settings
    progress = None
    if s.stop_progress is not None:
        progress = ProgressStop(s.stop_progress, alpha=s.alpha, weight=weight)
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
