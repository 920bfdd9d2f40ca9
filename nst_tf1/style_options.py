"""The values of --style-layers and --style-weights: parsed from the command line's text or
taken as Python lists, and checked, in one place (:class:`nst_tf1.settings.Settings` calls
these; so do the plan and the transfer for a batch's weights)."""

from __future__ import annotations

import math

from .errors import SettingsError, float32_problem
from .vgg import check_conv_layer

__all__ = ["check_style_layers", "check_style_weights", "parse_style_layers"]


def check_style_weights(weights: list[float], count: int | None = None) -> list[float]:
    """Check style weights (the one place that does) and normalise them to sum 1.

    Args:
        weights: one weight per style image.
        count: the number of style images, when known (``None``: only the values are checked).

    Returns:
        list[float]: ``weights`` divided by their sum (as given while the sum is unchecked).

    Raises:
        SettingsError: a weight that is not a finite number >= 0, another count than
            ``count``, or weights that are all 0.
    """
    problem = next(filter(None, map(float32_problem, weights)), None)
    if problem:
        shown = " ".join(map(str, weights))
        raise SettingsError(f"--style-weights: each {problem}, got {shown}")
    if count is None:
        return list(weights)
    if len(weights) != count:
        raise SettingsError(f"--style-weights has {len(weights)} weights for {count} style images")
    if sum(weights) <= 0:
        raise SettingsError("--style-weights must not all be 0")
    total = float(sum(weights))
    return [w / total for w in weights]


def parse_style_layers(text: str) -> list[tuple[str, float]]:
    """``"conv1_1:0.2,conv2_1"`` -> ``[("conv1_1", 0.2), ("conv2_1", 0.5)]``.

    A layer without ``:W`` gets 1 / (number of layers).

    Raises:
        SettingsError: an unknown or repeated layer, a weight that is not a number >= 0.
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    layers = []
    for item in items:
        name, _, weight = item.partition(":")
        try:
            value = float(weight) if weight else 1.0 / len(items)
        except ValueError:
            value = math.nan  # refused below, with the text as given
        layers.append((name.strip(), value, weight))
    return check_style_layers(layers, text)


def check_style_layers(layers, given=None) -> list[tuple[str, float]]:
    """Check (name, weight) pairs of --style-layers, as :class:`Settings` takes them (a
    third item, the weight as written, is shown in messages); ``given`` is what the
    messages quote (default: ``layers``).

    Raises:
        SettingsError: no layer, an unknown or repeated layer, a weight that is not a number
            >= 0, or items that are not such pairs.
    """
    given = layers if given is None else given
    checked = []
    for item in layers:
        not_a_pair = SettingsError(f"--style-layers: not (layer, weight): {item!r}")
        if isinstance(item, str) or not hasattr(item, "__len__") or len(item) not in (2, 3):
            raise not_a_pair
        name, weight, *shown = item
        try:
            check_conv_layer(name)
        except ValueError as exc:
            raise SettingsError(f"--style-layers: {exc}") from None
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise not_a_pair from None
        problem = float32_problem(weight)
        if problem:
            raise SettingsError(
                f"--style-layers: weight of {name} {problem}, got {shown[0] if shown else weight}"
            )
        checked.append((name, weight))
    if not checked:
        raise SettingsError("--style-layers: no layer given")
    names = [name for name, _ in checked]
    if len(set(names)) != len(names):
        raise SettingsError(f"--style-layers: a layer is named twice in {given!r}")
    return checked
