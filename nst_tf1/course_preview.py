"""A preview of the course's run: a few of its Adam iterations on a small copy of the pair,
which say how much of the photo the course gives up (``--course-preview``, L-BFGS only).

The course's Adam run (200 iterations at learning rate 2.0 from the content with noise)
gives up a different share of the photo on every pair: measured on the trained stand-in, its
J_content ends at 0.58 to 0.93 of J_content(S), the content cost of the style image itself,
and nothing measured on the images alone placed that end (benchmarks/README.md, rounds 3, 5
and 6). Its first iterations do: the same Adam on a copy of the pair at a quarter of the
size (1/16 of the pixels), 10 iterations, reached a fraction J_content / J_content(S) below
the full run's end on all eight benchmark pairs, ranked the two that give up most of the
photo highest, and stayed below the end on three fresh pairs measured afterwards (round 7).
L-BFGS then minimises the course's own J with J_content held below that fraction of
J_content(S) at each scale, less a margin of 2% for rounding (:data:`BOUND_MARGIN`,
:func:`nst_tf1.schedule.content_bound`), so the style goes as
far as the evaluations allow without the content giving way further than the course's run
does. ``--fast`` uses it (``--course-preview 10``, 40 evaluations at the output size until
round 12, then 40 of the detail phase and 10, 14 since round 14): both of the course's costs
were met on all 20 benchmark pairs, the last 5 added after the detail phase was chosen
(rounds 9, 10, 12 to 14 and 16).

The preview runs in float32 (the course's arithmetic), in a graph of its own that is closed
before the transfer's graphs are built.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .config import CONFIG
from .vgg import MIN_IMAGE_SIDE

__all__ = [
    "PREVIEW_DIVISOR",
    "BOUND_MARGIN",
    "preview_size",
    "preview_options",
    "content_fraction",
]

#: The preview's copy of the pair is the output size divided by this, a side.
PREVIEW_DIVISOR = 4

#: The bound is this much of the preview's fraction: b = 0.98 fraction J_content(S). With
#: the fraction itself, two of the 20 benchmark pairs ended at 0.994 and 0.996 of the
#: course's J_content, within what rounding alone moved it between TensorFlow's kernels
#: (0.3%, benchmarks/README.md, round 14), so a CPU whose kernels round otherwise could
#: end above the course's. With 2% less, 0.972 and 0.977, and the largest J_style, astronaut +
#: brick's, 0.907 of the course's (0.898 before; 0.911-0.930 with seeds 2 and 3): both of
#: the course's costs still met on all 20 (benchmarks/README.md, round 16).
BOUND_MARGIN = 0.98


def preview_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the preview: (height, width) / :data:`PREVIEW_DIVISOR`, scaled up together
    where a side would fall below :data:`~nst_tf1.vgg.MIN_IMAGE_SIDE` (the network's five
    poolings), never above (height, width) itself."""
    h, w = height / PREVIEW_DIVISOR, width / PREVIEW_DIVISOR
    grow = max(1.0, MIN_IMAGE_SIDE / min(h, w))
    return min(height, round(h * grow)), min(width, round(w * grow))


def preview_options(options: Any) -> Any:
    """The preview graph's :class:`~nst_tf1.settings.OptimizerOptions`: the course's Adam
    (learning rate ``CONFIG.LEARNING_RATE``) in float32, whatever the run's own are."""
    return dataclasses.replace(
        options, optimizer="adam", precision="fp32", learning_rate=CONFIG.LEARNING_RATE
    )


def content_fraction(
    graph: Any,
    a_C: np.ndarray,
    targets: list[np.ndarray],
    start: np.ndarray,
    content_of_style: float,
    iterations: int,
    should_stop: Callable[[], bool] | None = None,
) -> float | None:
    """J_content / J_content(S) after ``iterations`` of the course's Adam from ``start``.

    Args:
        graph: an Adam :class:`~nst_tf1.graph.TransferGraph` at the preview's size.
        a_C, targets: the content target and the style layers' Gram targets at that size.
        start: (1, h, w, 3) normalised initial image, the course's: the content with its
            noise.
        content_of_style: J_content(S), the style images' (weighted) content cost there.
        iterations: Adam updates.
        should_stop: polled before every update (a stopped preview gives its fraction so far).

    Returns:
        The fraction, or ``None`` when J_content(S) or the preview's J_content is not a
        positive finite number.
    """
    steps = graph.run(a_C, targets, start, iterations, iterations, should_stop)
    last = collections.deque(steps, maxlen=1)  # the last Step: the image the run ended on
    values = (content_of_style, last[0].content_cost if last else math.nan)
    if not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return float(values[1] / values[0])
