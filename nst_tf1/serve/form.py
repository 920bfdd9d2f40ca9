"""The page's form: its fields, their defaults, and the form turned into checked Settings.

Every value is checked by :class:`nst_tf1.settings.Settings` itself, so the page shows the
command line's messages (``--height: must be at least 32 pixels ...``), each next to its
field. A text that is not a number gets the command line's words for it too.
"""

from __future__ import annotations

import argparse
import dataclasses
import re

from ..console import number
from ..flags import FLAGS
from ..plan import check_size
from ..preflight import PreflightError
from ..settings import COURSE, FAST, INIT_MODES, STYLE_STRENGTHS, Settings, SettingsError

__all__ = ["FIELDS", "FormError", "defaults", "settings_fields"]

#: name -> kind of each option field of the page ("int", "float", "bool", "choice",
#: "floats"); each is the :class:`Settings` field of that name.
FIELDS = {
    "height": "int",
    "width": "int",
    "iterations": "int",
    "save_every": "int",
    "fast": "bool",
    "style_strength": "choice",
    "optimizer": "choice",
    "precision": "choice",
    "alpha": "float",
    "beta": "float",
    "learning_rate": "float",
    "noise_ratio": "float",
    "seed": "int",
    "init": "choice",
    "preserve_colors": "choice",
    "tv_weight": "float",
    "style_weights": "floats",
    "multires": "int",
}

_FLAG = re.compile(r"^--([a-z][a-z0-9-]*)")


class FormError(Exception):
    """Field name -> message, for every field that cannot be used ("" for the form)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def defaults() -> dict:
    """What the page shows in each field: the course's value, and --fast's where it differs
    (``None``: the field starts empty and the run takes the course's or --fast's value)."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    shown = {}
    for name in FIELDS:
        field = fields[name]
        value = field.default if field.default_factory is dataclasses.MISSING else None
        shown[name] = {
            "value": value,
            "course": COURSE.get(name, value),
            "fast": FAST.get(name),
            "help": FLAGS[name].help.replace("%(default)s", str(value)),
            "choices": list(FLAGS[name].argparse.get("choices") or []),
        }
    course = Settings()
    for name in ("height", "width"):  # filled by Settings itself
        shown[name]["value"] = shown[name]["course"] = getattr(course, name)
    # alpha and beta start empty (the course's 10 and 40 shown as their placeholders): a
    # value sent for them would win over the style strength, as --alpha/--beta do.
    for name in ("alpha", "beta"):
        shown[name]["course"] = getattr(course, name)
    shown["style_strength"]["course"] = "medium"
    shown["style_strength"]["choices"] = list(STYLE_STRENGTHS)
    shown["init"]["choices"] = list(INIT_MODES)
    return shown


def _number(kind, text):
    """The command line's reading of a number (:func:`nst_tf1.console.number`), with its
    words for a bad one, as a ValueError."""
    try:
        return number(kind)(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(str(exc)) from None


def _parse(name, kind, value):
    """One field's value from the page (text, or a bool for a checkbox); ``None``: not given."""
    if kind == "bool":
        return bool(value) and value not in ("false", "0", "off")
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if value == "":
        return None
    if kind == "int":
        return _number(int, value)
    if kind == "float":
        return _number(float, value)
    if kind == "floats":
        return [_number(float, item) for item in value.replace(",", " ").split()]
    return value


def _field_of(exc):
    """The field a message names by its flag ("--max-size: ..." -> "max_size"), else ""."""
    match = _FLAG.match(str(exc))
    return match.group(1).replace("-", "_") if match else ""


def _check_size(settings, errors):
    """The run's own size check (every --multires scale at least 32 pixels a side, the
    memory), made here where the size is given, so that it shows by its field before Start;
    a --multires chosen by --fast goes by the Fast box."""
    if settings.max_size or settings.keep_aspect:
        return  # the size comes from the content image's shape: the run checks it
    try:
        check_size(settings, settings.height, settings.width)
    except PreflightError as exc:
        name = _field_of(exc)
        if name == "multires" and "multires" in settings.chosen_by_fast:
            name = "fast"
        errors.setdefault(name if name in FIELDS else "", str(exc))


def settings_fields(form: dict, base: dict) -> dict:
    """The form's values as :class:`Settings` keyword arguments, checked by ``Settings``.

    Args:
        form: field name -> value as the page sends it; fields left empty take the
            course's (or --fast's) value.
        base: what the server decides (content, style, model, output_dir, no_download).

    Returns:
        dict: keyword arguments that build a valid ``Settings``.

    Raises:
        FormError: every field that cannot be used, with the command line's message.
    """
    errors: dict[str, str] = {}
    values = {}
    for name, kind in FIELDS.items():
        try:
            value = _parse(name, kind, form.get(name))
        except ValueError as exc:
            errors[name] = f"--{name.replace('_', '-')}: {exc}"
            continue
        if value is not None:
            values[name] = value
    # Settings stops at its first problem: take the field it names out and try again, so
    # that every bad field gets its message at once.
    for _ in range(len(FIELDS) + 1):
        try:
            _check_size(Settings(**base, **values), errors)
            break
        except SettingsError as exc:
            name = _field_of(exc)
            if name not in values:
                errors.setdefault("" if name not in FIELDS else name, str(exc))
                break
            errors.setdefault(name, str(exc))
            del values[name]
    weights = values.get("style_weights")
    if weights is not None and len(weights) != len(base["style"]) and "style_weights" not in errors:
        # The run's own check (it needs the style files), made here so it shows by the field.
        errors["style_weights"] = (
            f"--style-weights has {len(weights)} weights for {len(base['style'])} style images"
        )
    if errors:
        raise FormError(errors)
    return {**base, **values}
