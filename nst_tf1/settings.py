"""Everything one run is asked to do, in one object, checked in one place.

:class:`Settings` has one field per command-line option of the main job (``--tv-weight`` is
``tv_weight``, and so on); its defaults are the course's, taken from ``CONFIG``. Building a
``Settings`` checks every value and raises :class:`SettingsError` with a one-line message
that names the flag, so the command line, the notebook and the tests get the same checks::

    Settings(content="louvre.jpg", style=["monet.jpg"])      # the course's run
    Settings(iterations=0)   # SettingsError: --iterations: must be a whole number of at least 1

Checks that need the file system (does a file exist, is it an image) are made by the run
(:mod:`nst_tf1.running`) before the model is read.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import numbers
import os
from typing import Any

from .colors import PRESERVE_COLORS
from .config import CONFIG, default_model_path
from .costs import detail_layers
from .device import PRECISIONS
from .errors import SettingsError, float32_problem, is_whole_number
from .optimize import OPTIMIZERS
from .style_options import check_style_layers, check_style_weights, parse_style_layers
from .vgg import MIN_IMAGE_SIDE, POOLING_MODES, check_conv_layer

__all__ = [
    "DEFAULT_CONTENT",
    "DEFAULT_STYLE",
    "INIT_MODES",
    "UPSAMPLE_MODES",
    "NEEDS",
    "COURSE",
    "CostTerms",
    "FAST",
    "MAX_ITERATIONS",
    "MAX_SIDE",
    "MAX_MULTIRES",
    "MAX_SEED",
    "FAST_MAX_SIZE",
    "STYLE_STRENGTHS",
    "OptimizerOptions",
    "Settings",
    "SettingsError",
    "check_style_layers",
    "check_style_weights",
    "parse_style_layers",
    "recheck",
]

#: The generated demo pair the main job stylises when no image is given: package data, so
#: the main job runs from any folder (``nst-tf1 make-demo nst_tf1/data`` rewrites it).
DEFAULT_CONTENT = str(importlib.resources.files(__package__) / "data" / "demo_content.jpg")
DEFAULT_STYLE = str(importlib.resources.files(__package__) / "data" / "demo_style.jpg")

#: Named initial images; anything else given as ``init`` is an image path. "recolored" is
#: the content with the (first) style's colour mean and covariance.
INIT_MODES = ("noise", "content", "style", "recolored")

#: The course's value of each option that ``--fast`` changes (``None``: the option is off;
#: ``coarse_iterations`` None is "as many as --iterations"), and of ``learning_rate``, which
#: ``--fast`` leaves alone but which acts only with the course's optimizer (:data:`NEEDS`).
COURSE = {
    "optimizer": OPTIMIZERS[0],
    "precision": "fp32",
    "init": INIT_MODES[0],
    "multires": 1,
    "coarse_iterations": None,
    "iterations": CONFIG.NUM_ITERATIONS,
    "stop_balance": None,
    "term_balance": None,
    "content_bound": None,
    "course_preview": None,
    "detail_iterations": 0,
    "stop_progress": None,
    "coarse_upsample": "image",
    "save_every": CONFIG.SAVE_EVERY,
    "learning_rate": CONFIG.LEARNING_RATE,
}

#: What ``--fast`` chooses for each of those options the user does not give: L-BFGS with a
#: scaled first step, from the content image in the style's colour mean and covariance; two
#: scales, 30 evaluations at half size whose change to the content is upsampled onto the
#: full-size content; the course's own J minimised inside a content trust region whose bound
#: comes from a preview of the course's run (10 of its Adam iterations at a quarter of the
#: size: nst_tf1.course_preview, nst_tf1.schedule); at the output size, 40 evaluations of the
#: detail phase (the style terms of conv1_1..conv3_1 alone, about a third of the time of an
#: evaluation of J), then 14 of J (the 2% rule stops earlier only where the objective has
#: stopped falling), the image saved every 10; bf16 where the CPU has it. Measured on the
#: trained VGG-16 stand-in at 300x400 (benchmarks/README.md, rounds 3 to 18): both of the
#: course's costs end at or below the course run's on all 20 test pairs, 6.0 times faster
#: than the course's run with bf16 and 4.2 to 4.4 times without (round 17). 14 evaluations
#: of J, not 10 or 12: astronaut + brick, the pair with the narrowest margin, ends at
#: 0.89-0.90 of the course's J_style with 14 (1.00-1.02 with 10; seeds 1-3, round 14).
#: Until round 10 --fast weighed the content term instead (--term-balance 32, 15
#: evaluations): twice as fast, but on textures (gravel, brick, grass) J_style stayed 3 to 21
#: times the course's (9 of 15 pairs met both costs); ``--fast --term-balance 32
#: --iterations 15`` still runs it.
FAST = {
    "optimizer": "lbfgs",
    "precision": "auto",
    "init": "recolored",
    "multires": 2,
    "coarse_iterations": 30,
    "iterations": 14,
    "stop_balance": None,
    "term_balance": None,
    "content_bound": None,
    "course_preview": 10,
    "detail_iterations": 40,
    "stop_progress": 0.02,
    "coarse_upsample": "residual",
    "save_every": 10,
}

#: How a coarse scale's result becomes the next scale's initial image.
UPSAMPLE_MODES = ("image", "residual")

#: The options that act only with another option's value: name -> (whether they act, for a
#: Settings; what they need, in words). --fast chooses them only where they act; given
#: where they do not, they are ignored, and the run says so (:attr:`Settings.ignored`).
NEEDS = {
    **{
        name: (lambda s: s.optimizer == "lbfgs", "--optimizer lbfgs")
        for name in (
            "stop_balance",
            "term_balance",
            "content_bound",
            "course_preview",
            "detail_iterations",
            "stop_progress",
        )
    },
    **{
        name: (lambda s: s.multires > 1, "--multires 2 or more")
        for name in ("coarse_iterations", "coarse_upsample")
    },
    "learning_rate": (lambda s: s.optimizer == "adam", "--optimizer adam"),
}

#: ``--fast``'s size when no size option is given: the content's aspect ratio kept, its
#: longer side the course's longer side (--max-size 400); with one of --height/--width
#: given, the other follows the content image (--keep-aspect).
FAST_MAX_SIZE = max(CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH)

#: --style-strength: name -> beta / alpha, the weight of the style cost against the content
#: cost in J = alpha J_content + beta J_style (alpha stays the course's 10). "medium" is the
#: course's 10 / 40. J_style is about 1e4 times J_content on photos, so "subtle" is far below
#: 1: measured with --fast on a 512x400 portrait (scikit-image's astronaut, cropped), the
#: trained VGG-16 stand-in and the course's monet, ratios 1e-4 .. 40 look alike from 0.1 up
#: (the face dissolved into strokes), 0.01 keeps the face under the style's strokes, 0.001 a
#: clear face painted in the style's colours and texture, 1e-4 barely styled; 16 runs all
#: --fast's evaluations (stronger strokes than 4).
STYLE_STRENGTHS = {"subtle": 0.001, "medium": CONFIG.BETA / CONFIG.ALPHA, "strong": 16.0}

#: Most iterations (Adam steps or L-BFGS evaluations) per scale, and the largest
#: --save-every: 500 times the course's 200, hours of work at 300x400 on a CPU.
MAX_ITERATIONS = 100_000
#: Longest side of the generated image, --height, --width or --max-size (2^14); the
#: memory check refuses most sizes below it already.
MAX_SIDE = 2**14
#: Most coarse-to-fine scales: each scale halves the size and the coarsest must keep
#: MIN_IMAGE_SIDE pixels, so MAX_SIDE allows log2(MAX_SIDE / MIN_IMAGE_SIDE) + 1 of them.
MAX_MULTIRES = (MAX_SIDE // MIN_IMAGE_SIDE).bit_length()
#: Largest --seed (the seeds drawn for run.json are below it too).
MAX_SEED = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class CostTerms:
    """What J is made of, as :class:`nst_tf1.graph.TransferGraph` builds it: the fields of
    :class:`Settings` of the same names, checked there (built by :meth:`Settings.cost_terms`).

    Attributes:
        style_layers: (layer name, coefficient) pairs of J_style.
        content_layer: layer of J_content.
        pooling: ``"avg"`` (the course's) or ``"max"``.
        alpha, beta: weights of J_content and J_style in J.
        tv_weight: weight of the total variation cost (0: no such term).
    """

    style_layers: tuple[tuple[str, float], ...]
    content_layer: str
    pooling: str
    alpha: float
    beta: float
    tv_weight: float


@dataclasses.dataclass(frozen=True)
class OptimizerOptions:
    """How J is minimised: the fields of :class:`Settings` of the same names, checked there
    (built by :meth:`Settings.optimizer_options`).

    Attributes:
        optimizer: ``"adam"`` (the course's) or ``"lbfgs"``.
        learning_rate: Adam's.
        precision: the session's arithmetic, see :func:`nst_tf1.graph.session_config`.
        iterations: Adam updates (L-BFGS evaluations) at the output size.
        coarse_iterations: those of each coarser scale (``None``: as ``iterations``).
        save_every: the image is kept every this many iterations.
        stop_balance: L-BFGS's stop rule at the output size (``None``: off).
        term_balance: L-BFGS's content weight rule, :func:`nst_tf1.schedule.content_weight`
            (``None``: w = 1, J itself is minimised).
        content_bound: L-BFGS's content trust region, J_content at most this many times
            that of the course's noisy initial image, :func:`nst_tf1.schedule.content_bound`
            (``None``: off).
        course_preview: L-BFGS's content trust region from this many iterations of the
            course's run on a smaller copy of the pair (:mod:`nst_tf1.course_preview`; ``None``:
            off).
        detail_iterations: L-BFGS evaluations of the detail objective (the shallow style
            terms, :func:`nst_tf1.costs.detail_layers`) at the output size before the
            ``iterations`` of the run's own objective (0: none).
        stop_progress: L-BFGS's progress stop rule at the output size,
            :class:`nst_tf1.schedule.ProgressStop` (``None``: off).
        coarse_upsample: how a coarser scale's result starts the next scale (``"image"``
            or ``"residual"``).
    """

    optimizer: str
    learning_rate: float
    precision: str
    iterations: int
    coarse_iterations: int | None
    save_every: int
    stop_balance: float | None
    term_balance: float | None
    content_bound: float | None
    course_preview: int | None
    detail_iterations: int
    stop_progress: float | None
    coarse_upsample: str


def _view(cls, settings):
    """``cls`` (a frozen view) filled from the fields of ``settings`` of the same names."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)}
    if "style_layers" in values:
        values["style_layers"] = tuple(values["style_layers"])
    return cls(**values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _one_content_bound(settings, given):
    """How the content is held: --fast's content trust region (its --course-preview), a
    --content-bound, or a content weight (--term-balance). --content-bound and
    --course-preview both set the trust region's bound: both given is refused. Any one of
    the three given replaces what --fast chose of the other two (both of the bounds were
    measured with the course's own J inside them, the weight without a bound); given
    together, a bound and the weight both act."""
    bounds = {"content_bound", "course_preview"} & given
    if len(bounds) == 2:
        raise SettingsError(
            "--content-bound and --course-preview both set the content's bound: give one"
        )
    ways = ("content_bound", "course_preview", "term_balance")
    if given.isdisjoint(ways):
        return
    for name in ways:
        if name not in given and name in settings.chosen_by_fast:
            del settings.chosen_by_fast[name]
            setattr(settings, name, None)


def _drop_what_does_not_act(settings, given):
    """The options of :data:`NEEDS` that do not act with ``settings``: --fast's choice of them
    is undone (the course's value, not announced), and those ``given`` are listed in
    ``settings.ignored`` (name -> what they need), unless given at the course's value."""
    settings.ignored = {}
    for name, (acts, needs) in NEEDS.items():
        if acts(settings):
            continue
        if name in given:
            if getattr(settings, name) != COURSE[name]:
                settings.ignored[name] = needs
        else:
            settings.chosen_by_fast.pop(name, None)
            setattr(settings, name, COURSE[name])


def _check_detail(settings):
    """--detail-iterations: a whole number >= 0; the detail phase needs a style layer of
    conv1..conv3 to minimise: where there is none, --fast's choice of it is undone, and a
    --detail-iterations given is refused."""
    settings._whole("detail_iterations", 0, MAX_ITERATIONS)
    s = settings
    if s.optimizer != "lbfgs" or not s.detail_iterations or detail_layers(s.style_layers):
        return
    if "detail_iterations" in settings.chosen_by_fast:
        del settings.chosen_by_fast["detail_iterations"]
        settings.detail_iterations = 0
        return
    raise SettingsError(
        "--detail-iterations: the detail phase minimises the style layers of conv1, conv2 "
        "and conv3, and --style-layers has none; give --detail-iterations 0"
    )


#: The fields the Python API can give a value of the wrong type (the command line's parser
#: cannot): paths (str or os.PathLike; --init is a mode or a path), switches and numbers.
_PATHS = ("content", "model", "output_dir", "logdir", "init")
_SWITCHES = ("no_download", "overwrite", "fast", "keep_aspect")
_NUMBERS = (
    *("iterations", "save_every", "height", "width", "seed", "max_size", "multires"),
    *("coarse_iterations", "course_preview", "detail_iterations", "alpha", "beta"),
    *("learning_rate", "stop_balance", "term_balance", "content_bound", "stop_progress"),
)
_NUMBERS_NOT_NONE = ("noise_ratio", "tv_weight", "style_scale")
#: The weights and rates the graph holds in float32 (:func:`~nst_tf1.errors.float32_problem`):
#: those that may be 0, and those that must be above it (``None`` means off and is not checked).
_AT_LEAST_0 = ("alpha", "beta", "tv_weight")
_ABOVE_0 = (
    "learning_rate",
    "style_scale",
    "stop_balance",
    "term_balance",
    "content_bound",
    "stop_progress",
)


def _normalise(s):
    """Paths as str, --style and --style-layers as lists; a value of the wrong type refused,
    named by its flag, before any check compares it (a TypeError would name neither)."""
    if s.style is None:  # the command line's repeatable --style, not given
        s.style = [DEFAULT_STYLE]
    if isinstance(s.style, (str, os.PathLike)):
        s.style = [s.style]
    if not isinstance(s.style, (list, tuple)) or not s.style:
        raise SettingsError(f"--style: must be a path or a list of paths, got {s.style!r}")
    given = [(name, getattr(s, name)) for name in _PATHS if getattr(s, name) is not None]
    for name, value in given + [("style", path) for path in s.style]:
        if not isinstance(value, (str, os.PathLike)):
            raise SettingsError(f"{_flag(name)}: must be a path, got {value!r}")
    for name, value in given:
        setattr(s, name, os.fspath(value))
    s.style = [os.fspath(path) for path in s.style]
    wrong = [n for n in _SWITCHES if not isinstance(getattr(s, n), bool)]
    wrong += [n for n in _NUMBERS if not _number_or_none(getattr(s, n))]
    wrong += [n for n in _NUMBERS_NOT_NONE if not _number_or_none(getattr(s, n), False)]
    if wrong:
        kind = "True or False" if wrong[0] in _SWITCHES else "a number"
        raise SettingsError(f"{_flag(wrong[0])}: must be {kind}, got {getattr(s, wrong[0])!r}")
    weights = s.style_weights
    if weights is not None and not (
        isinstance(weights, (list, tuple)) and all(_number_or_none(w, False) for w in weights)
    ):
        raise SettingsError(f"--style-weights: must be a list of numbers, got {weights!r}")
    if isinstance(s.style_layers, str):
        s.style_layers = parse_style_layers(s.style_layers)
    elif not isinstance(s.style_layers, (list, tuple)):
        raise SettingsError(
            f"--style-layers: must be (layer, weight) pairs, got {s.style_layers!r}"
        )
    else:
        s.style_layers = check_style_layers(s.style_layers)


def recheck(settings: Settings) -> None:
    """Check ``settings`` again, as building it did: a caller may have changed its fields
    since (:func:`nst_tf1.running.run` calls this before anything else).

    Raises:
        SettingsError: a value no run can use.
    """
    _normalise(settings)
    settings._check_values()


def _number_or_none(value, none=True):
    """Whether ``value`` is an int or float (not a bool), or ``None`` where ``none``."""
    if value is None:
        return none
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclasses.dataclass
class Settings:
    """One run of the main job: images, model, output, the course's settings and the options
    beyond them, one field per command-line option (``--tv-weight`` is ``tv_weight``).

    The defaults are the course's (``CONFIG``); each field's help text, the one ``--help``
    shows, is in :data:`nst_tf1.flags.FLAGS`. ``height``/``width`` left at ``None`` are
    filled in when the settings are built: 300 x 400, or one side only with ``keep_aspect``
    (the other follows the content image); with ``max_size`` both stay ``None`` (both follow
    the content image).
    ``seed`` ``None`` means a fresh seed, drawn by the run and recorded in run.json.

    Raises:
        SettingsError: a value no run can use (the message names the flag).
    """

    content: str = DEFAULT_CONTENT
    style: list = dataclasses.field(default_factory=lambda: [DEFAULT_STYLE])
    model: str = dataclasses.field(default_factory=default_model_path)
    no_download: bool = False
    output_dir: str = CONFIG.OUTPUT_DIR
    overwrite: bool = False
    fast: bool = False
    iterations: int | None = None
    optimizer: str | None = None
    precision: str | None = None
    save_every: int | None = None
    height: int | None = None
    width: int | None = None
    keep_aspect: bool = False
    alpha: float | None = None
    beta: float | None = None
    style_strength: str | None = None
    learning_rate: float | None = None
    noise_ratio: float = CONFIG.NOISE_RATIO
    seed: int | None = None
    logdir: str | None = None
    style_weights: list | None = None
    preserve_colors: str | None = None
    tv_weight: float = 0.0
    init: str | None = None
    style_scale: float = 1.0
    pooling: str = POOLING_MODES[0]
    content_layer: str = CONFIG.CONTENT_LAYER
    style_layers: list = dataclasses.field(default_factory=lambda: list(CONFIG.STYLE_LAYERS))
    max_size: int | None = None
    multires: int | None = None
    coarse_iterations: int | None = None
    stop_balance: float | None = None
    term_balance: float | None = None
    content_bound: float | None = None
    course_preview: int | None = None
    detail_iterations: int | None = None
    stop_progress: float | None = None
    coarse_upsample: str | None = None

    def __post_init__(self) -> None:
        _normalise(self)
        # The options left unset take --fast's choice or the course's value. What --fast
        # chose is kept (a dataclasses.replace copy, whose options are all set, has none).
        mode = FAST if self.fast else COURSE
        given = {name for name in NEEDS if getattr(self, name) is not None}
        self.chosen_by_fast = {
            name: mode[name]
            for name in mode
            if self.fast and getattr(self, name) is None and mode[name] is not None
        }
        for name, value in mode.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        _one_content_bound(self, given)
        if self.learning_rate is None:  # --fast leaves Adam's rate at the course's
            self.learning_rate = COURSE["learning_rate"]
        self._fill_weights()
        if self.fast and not (self.max_size or self.keep_aspect):
            # --fast keeps the content's shape unless both sides are given.
            if self.height is None and self.width is None:
                self.chosen_by_fast["max_size"] = self.max_size = FAST_MAX_SIZE
            elif self.height is None or self.width is None:
                self.chosen_by_fast["keep_aspect"] = self.keep_aspect = True
        #: No size option given: the content is stretched to the course's 300x400 (the
        #: run says so when that changes its shape).
        self.size_given = bool(
            self.height is not None or self.width is not None or self.max_size or self.keep_aspect
        )
        self._check_values()
        _drop_what_does_not_act(self, given)
        _check_detail(self)
        self._fill_size()

    def _fill_weights(self):
        """alpha and beta: given, or the course's alpha and alpha x --style-strength."""
        strength = self.style_strength
        if strength is None:
            ratio = STYLE_STRENGTHS["medium"]
        elif str(strength) in STYLE_STRENGTHS:
            ratio = STYLE_STRENGTHS[str(strength)]
        else:
            try:
                ratio = float(strength)
            except (TypeError, ValueError):
                ratio = math.nan
            if not 0 < ratio < math.inf:
                names = ", ".join(STYLE_STRENGTHS)
                self._fail("style_strength", f"choose from {names} or give a number > 0")
            alpha = CONFIG.ALPHA if self.alpha is None else self.alpha
            problem = self.beta is None and float32_problem(alpha * ratio)
            if problem:
                self._fail("style_strength", f"gives beta = alpha x strength, which {problem}")
        if self.alpha is None:
            self.alpha = CONFIG.ALPHA
        if self.beta is None:
            # The course's beta itself when no strength is asked (bit for bit: 40, not 10 x 4.0).
            self.beta = CONFIG.BETA if strength is None else self.alpha * ratio

    def _check_values(self):
        for name, maximum in (
            ("iterations", MAX_ITERATIONS),
            ("save_every", MAX_ITERATIONS),
            ("multires", MAX_MULTIRES),
            ("coarse_iterations", MAX_ITERATIONS),
            ("course_preview", MAX_ITERATIONS),
        ):
            self._whole(name, 1, maximum)
        self._whole("seed", 0, MAX_SEED)
        for name in ("height", "width", "max_size"):
            value = getattr(self, name)
            if value is not None and not is_whole_number(value):
                self._fail(name, "must be a whole number of pixels (an int)")
            if value is not None and value < MIN_IMAGE_SIDE:
                self._fail(
                    name,
                    f"must be at least {MIN_IMAGE_SIDE} pixels (the network's five 2x2 poolings)",
                )
            if value is not None and value > MAX_SIDE:
                self._fail(name, f"must be at most {MAX_SIDE} pixels")
        for name in ("content", "model", "output_dir"):
            if not getattr(self, name):
                raise SettingsError(f"{_flag(name)}: empty path")
        if any(not style for style in self.style):
            raise SettingsError("--style: empty path")
        for name in (*_AT_LEAST_0, *_ABOVE_0):
            value = getattr(self, name)
            problem = None if value is None else float32_problem(value, name in _ABOVE_0)
            if problem:
                self._fail(name, problem)
        if not 0 <= self.noise_ratio <= 1:
            self._fail("noise_ratio", "must be between 0 and 1")
        if self.style_weights is not None:
            check_style_weights(self.style_weights)
        for name, choices in (
            ("optimizer", OPTIMIZERS),
            ("precision", PRECISIONS),
            ("pooling", POOLING_MODES),
            ("preserve_colors", (None, *PRESERVE_COLORS)),
            ("coarse_upsample", UPSAMPLE_MODES),
        ):
            if getattr(self, name) not in choices:
                shown = ", ".join(str(c) for c in choices if c is not None)
                self._fail(name, f"choose from {shown}")
        try:
            check_conv_layer(self.content_layer)
        except ValueError as exc:
            raise SettingsError(f"--content-layer: {exc}") from None
        if not self.style:
            raise SettingsError("--style: no style image given")
        self._check_size_options()

    def _check_size_options(self):
        """The options that derive the size from the content image, against each other."""
        if self.keep_aspect and self.max_size:
            raise SettingsError(
                "--keep-aspect and --max-size both derive the size from the "
                "content image: give one of them"
            )
        if self.max_size and (self.height is not None or self.width is not None):
            raise SettingsError(
                "--max-size sets the longer side and derives the other from "
                "the content image: give it without --height/--width"
            )
        if self.keep_aspect and self.height is not None and self.width is not None:
            raise SettingsError(
                "--keep-aspect derives one side from the content image: give "
                "--height or --width, not both"
            )

    def _fill_size(self):
        """The course's 300 x 400 for the sides that are neither given nor derived (with
        --max-size both are derived: they stay ``None``)."""
        if self.max_size:
            return
        if not self.keep_aspect:
            self.height = self.height or CONFIG.IMAGE_HEIGHT
            self.width = self.width or CONFIG.IMAGE_WIDTH
        elif self.height is None and self.width is None:
            self.height = CONFIG.IMAGE_HEIGHT

    def _whole(self, name, minimum, maximum):
        value = getattr(self, name)
        if value is not None and (not is_whole_number(value) or value < minimum):
            word = "of at least 1" if minimum == 1 else ">= 0"
            self._fail(name, f"must be a whole number {word}")
        if value is not None and value > maximum:
            self._fail(name, f"must be at most {maximum}")

    def _fail(self, name, message):
        value = getattr(self, name)
        shown = " ".join(map(str, value)) if isinstance(value, list) else value
        raise SettingsError(f"{_flag(name)}: {message}, got {shown}")

    def beyond_course(self) -> bool:
        """Whether any option beyond the course (or a batch: a directory as an input) is
        asked for; the course's run uses none."""
        return bool(
            len(self.style) > 1
            or self.batch()
            or self.style_weights is not None
            or self.preserve_colors
            or self.tv_weight
            or self.init != "noise"
            or self.style_scale != 1
            or self.pooling != "avg"
            or self.content_layer != CONFIG.CONTENT_LAYER
            or self.style_layers != list(CONFIG.STYLE_LAYERS)
            or self.max_size
            or self.multires > 1
        )

    def cost_terms(self) -> CostTerms:
        """The cost terms of these settings, for :class:`nst_tf1.graph.TransferGraph`."""
        return _view(CostTerms, self)

    def optimizer_options(self) -> OptimizerOptions:
        """The optimiser's options of these settings."""
        return _view(OptimizerOptions, self)

    def batch(self) -> bool:
        """Whether the content or a style is a directory (one run per image in it)."""
        return os.path.isdir(self.content) or any(os.path.isdir(s) for s in self.style)

    def record(self) -> dict[str, Any]:
        """The settings as run.json stores them (JSON types, as given by the user)."""
        data = dataclasses.asdict(self)
        data["style_layers"] = [list(pair) for pair in self.style_layers]
        return data
