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
import os
from typing import Any

from .colors import PRESERVE_COLORS
from .config import CONFIG, ENV_HOME, ENV_MODEL, default_model_path
from .errors import InputError, is_whole_number
from .graph import PRECISIONS
from .optimize import OPTIMIZERS
from .vgg import MIN_IMAGE_SIDE, POOLING_MODES, check_conv_layer

__all__ = [
    "DEFAULT_CONTENT",
    "DEFAULT_STYLE",
    "INIT_MODES",
    "COURSE",
    "CostTerms",
    "FAST",
    "MAX_ITERATIONS",
    "MAX_SIDE",
    "MAX_MULTIRES",
    "MAX_SEED",
    "OptimizerOptions",
    "Settings",
    "SettingsError",
    "check_style_weights",
    "parse_style_layers",
]

#: The generated demo pair the main job stylises when no image is given: package data, so
#: the main job runs from any folder (``nst-tf1 make-demo nst_tf1/data`` rewrites it).
DEFAULT_CONTENT = str(importlib.resources.files(__package__) / "data" / "demo_content.jpg")
DEFAULT_STYLE = str(importlib.resources.files(__package__) / "data" / "demo_style.jpg")

#: Named initial images; anything else given as ``init`` is an image path.
INIT_MODES = ("noise", "content", "style")

#: The course's value of each option that ``--fast`` changes (``None``: the option is off;
#: ``coarse_iterations`` None is "as many as --iterations").
COURSE = {
    "optimizer": OPTIMIZERS[0],
    "precision": "fp32",
    "init": INIT_MODES[0],
    "multires": 1,
    "coarse_iterations": None,
    "iterations": CONFIG.NUM_ITERATIONS,
    "stop_balance": None,
}

#: What ``--fast`` chooses for each of those options the user does not give. Measured on the
#: trained VGG-16 stand-in at 300x400 (benchmarks/README.md): L-BFGS-B with a scaled first
#: step; two scales, 15 evaluations at 150x200, then at 300x400 until beta J_style is down to
#: 3000 alpha J_content (the course's Adam-200 run ends at 3260 to 3560 on the stand-in's
#: pairs, whatever its J), at most 20; from the content image (from noise, the coarse scale,
#: where the content cost weighs little, dissolves the content); bf16 where the CPU has it.
FAST = {
    "optimizer": "lbfgs",
    "precision": "auto",
    "init": "content",
    "multires": 2,
    "coarse_iterations": 15,
    "iterations": 20,
    "stop_balance": 3000.0,
}

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


class SettingsError(InputError):
    """A setting has a value no run can use; the message names the flag."""


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
    if not all(0 <= w < math.inf for w in weights):
        shown = " ".join(map(str, weights))
        raise SettingsError(f"--style-weights: must be finite numbers >= 0, got {shown}")
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
    if not items:
        raise SettingsError("--style-layers: no layer given")
    layers = []
    for item in items:
        name, _, weight = item.partition(":")
        try:
            check_conv_layer(name.strip())
            value = float(weight) if weight else 1.0 / len(items)
        except ValueError as exc:
            raise SettingsError(f"--style-layers: {exc}") from None
        if not 0 <= value < math.inf:
            raise SettingsError(
                f"--style-layers: weight of {name.strip()} must be a finite "
                f"number >= 0, got {weight}"
            )
        layers.append((name.strip(), value))
    names = [name for name, _ in layers]
    if len(set(names)) != len(names):
        raise SettingsError(f"--style-layers: a layer is named twice in {text!r}")
    return layers


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
    """

    optimizer: str
    learning_rate: float
    precision: str
    iterations: int
    coarse_iterations: int | None
    save_every: int
    stop_balance: float | None


def _view(cls, settings):
    """``cls`` (a frozen view) filled from the fields of ``settings`` of the same names."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)}
    if "style_layers" in values:
        values["style_layers"] = tuple(values["style_layers"])
    return cls(**values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option(default=None, help="", *, factory=None, beyond=False, item=str, **argparse_options):
    """A :class:`Settings` field: its default, and what the command line shows for it.

    ``help`` is the flag's help text (argparse fills in ``%(default)s``); ``beyond`` puts
    the flag in the "beyond the course" group; ``item`` is the type of each value of a
    list; ``argparse_options`` (``choices``, ``metavar``, ``nargs``) are passed to
    ``add_argument`` as they are.
    """
    metadata = {"help": help, "beyond": beyond, "item": item, "argparse": argparse_options}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _modes(name, course=None):
    """'(default: the course's value) (with --fast: --fast's)' for a flag's help."""
    return f"(default: {course or COURSE[name]}) (with --fast: {FAST[name]})"


_STYLE_LAYERS_TEXT = ",".join(f"{name}:{coeff}" for name, coeff in CONFIG.STYLE_LAYERS)


@dataclasses.dataclass
class Settings:
    """One run of the main job: images, model, output, the course's settings and the options
    beyond them, one field per command-line option (``--tv-weight`` is ``tv_weight``).

    The defaults are the course's (``CONFIG``); each field's help text is the one ``--help``
    shows. ``height``/``width`` left at ``None`` are filled in when the settings are built:
    300 x 400, or one side only with ``keep_aspect`` (the other follows the content image);
    with ``max_size`` both stay ``None`` (both follow the content image).
    ``seed`` ``None`` means a fresh seed, drawn by the run and recorded in run.json.

    Raises:
        SettingsError: a value no run can use (the message names the flag).
    """

    content: str = _option(
        DEFAULT_CONTENT,
        "content image C, or a directory: one run per image in it (default: "
        "%(default)s, a generated demo scene shipped with the package)",
    )
    style: list = _option(
        help="style image S; several images are blended (see --style-weights), given after "
        "one --style or as repeated --style flags (--style A --style B is --style A B); a "
        f"directory gives one run per image in it (default: {DEFAULT_STYLE}, a generated demo "
        "painting shipped with the package)",
        factory=lambda: [DEFAULT_STYLE],
        nargs="+",
        action="extend",
        metavar="S",
    )
    model: str = _option(
        help="MatConvNet imagenet-vgg-verydeep-19.mat; downloaded there when missing "
        f"(default: %(default)s: ${ENV_MODEL} if set, else {CONFIG.VGG_MODEL} if it exists "
        f"here, else the per-user cache, moved by ${ENV_HOME}; 'nst-tf1 where' shows it)",
        factory=default_model_path,
    )
    no_download: bool = _option(
        False, "stop with a message instead of downloading a missing --model"
    )
    output_dir: str = _option(
        CONFIG.OUTPUT_DIR, "where <i>.png and generated_image.jpg go (default: %(default)s)"
    )
    overwrite: bool = _option(
        False,
        "replace an existing generated_image.jpg even if it comes from another "
        "content/style pair, and rerun batch pairs whose result exists (default: refuse / "
        "skip)",
    )
    fast: bool = _option(
        False,
        "a result of the course's quality as fast as this machine allows: "
        f"--optimizer {FAST['optimizer']} --precision {FAST['precision']} --init "
        f"{FAST['init']} --multires {FAST['multires']} --coarse-iterations "
        f"{FAST['coarse_iterations']} --iterations {FAST['iterations']} --stop-balance "
        f"{FAST['stop_balance']:g}; any of these options given explicitly wins over --fast's "
        "choice (default: off, the course's run)",
    )
    iterations: int | None = _option(
        None,
        "Adam iterations, or at most this many L-BFGS evaluations; with --multires, at "
        f"the output size; 1..{MAX_ITERATIONS} " + _modes("iterations"),
    )
    optimizer: str | None = _option(
        None,
        "adam: the course's Adam; lbfgs: SciPy's L-BFGS-B with the pixels kept in 0..255 "
        + _modes("optimizer"),
        choices=OPTIMIZERS,
    )
    precision: str | None = _option(
        None,
        "fp32: the course's float32; bf16: TensorFlow's oneDNN bfloat16 mixed-precision "
        "rewrite, on CPUs with avx512_bf16 or amx_bf16; auto: bf16 where the CPU has it, else "
        "fp32 " + _modes("precision"),
        choices=PRECISIONS,
    )
    save_every: int = _option(
        CONFIG.SAVE_EVERY,
        "print the costs and save <i>.png every N iterations, "
        f"1..{MAX_ITERATIONS} (default: %(default)s)",
    )
    height: int | None = _option(
        None,
        f"height both images are resized to, {MIN_IMAGE_SIDE}..{MAX_SIDE} pixels "
        f"(default: {CONFIG.IMAGE_HEIGHT})",
    )
    width: int | None = _option(
        None,
        f"width both images are resized to, {MIN_IMAGE_SIDE}..{MAX_SIDE} pixels "
        f"(default: {CONFIG.IMAGE_WIDTH})",
    )
    keep_aspect: bool = _option(
        False,
        "derive the side not given (--width, or --height when only --width is given) "
        f"from the content image's aspect ratio; with neither, the height is "
        f"{CONFIG.IMAGE_HEIGHT}; the style image is resized to the same size",
    )
    alpha: float = _option(CONFIG.ALPHA, "weight of the content cost in J (default: %(default)s)")
    beta: float = _option(CONFIG.BETA, "weight of the style cost in J (default: %(default)s)")
    learning_rate: float = _option(
        CONFIG.LEARNING_RATE, "Adam's learning rate (default: %(default)s)"
    )
    noise_ratio: float = _option(
        CONFIG.NOISE_RATIO,
        "weight of the uniform(-20, 20) noise in the initial image, 0..1 (default: %(default)s)",
    )
    seed: int | None = _option(
        None,
        f"seed of the initial noise, 0..{MAX_SEED}; the same seed gives the same images "
        "(default: %(default)s: a fresh one, recorded in run.json)",
    )
    logdir: str | None = _option(
        None,
        "write the graph and every iteration's costs there for TensorBoard (tensorboard "
        "--logdir DIR); the course's run only (default: %(default)s, none)",
    )
    style_weights: list | None = _option(
        None,
        "one weight per --style image, in the same order (repeated --style-weights "
        "flags add up like --style's); the Gram targets are blended with the weights "
        "normalised to sum 1 (default: equal weights)",
        beyond=True,
        item=float,
        nargs="+",
        action="extend",
        metavar="W",
    )
    preserve_colors: str | None = _option(
        None,
        "keep the content's colours: 'luminance' optimises on luminance (YIQ Y) and puts "
        "back the content's chrominance; 'histogram' gives the style the content's colour "
        "mean and covariance first (default: off)",
        beyond=True,
        choices=PRESERVE_COLORS,
    )
    tv_weight: float = _option(
        0.0,
        "weight of the total variation cost against high-frequency noise (default: "
        "%(default)s, the course has none)",
        beyond=True,
    )
    init: str | None = _option(
        None,
        "initial image: the course's noisy content (see --noise-ratio), the content, the "
        "(first) style, or an image file " + _modes("init"),
        beyond=True,
        metavar="noise|content|style|PATH",
    )
    style_scale: float = _option(
        1.0,
        "resize the style image to this times the generated image's size before taking "
        "its Gram targets (default: %(default)s)",
        beyond=True,
    )
    pooling: str = _option(
        POOLING_MODES[0],
        "pooling between VGG blocks; avg is the course's, max VGG's own (default: %(default)s)",
        beyond=True,
        choices=POOLING_MODES,
    )
    content_layer: str = _option(
        CONFIG.CONTENT_LAYER,
        "layer of the content cost, one of conv1_1..conv5_4 (default: %(default)s)",
        beyond=True,
    )
    style_layers: list = _option(
        help=f"style layers and their coefficients; a layer without :W gets 1/(number of "
        f"layers) (default: {_STYLE_LAYERS_TEXT})",
        factory=lambda: list(CONFIG.STYLE_LAYERS),
        beyond=True,
        metavar="NAME[:W],...",
    )
    max_size: int | None = _option(
        None,
        f"longer side of the output, {MIN_IMAGE_SIDE}..{MAX_SIDE}; the other follows "
        "the content image's aspect ratio (cannot be given with --height/--width; default: "
        "off)",
        beyond=True,
        metavar="N",
    )
    multires: int | None = _option(
        None,
        "coarse to fine: optimise at 1/2^(K-1) of the size first, then upsample each "
        f"result as the next scale's initial image; 1..{MAX_MULTIRES}, and the coarsest scale "
        f"must keep {MIN_IMAGE_SIDE} pixels a side " + _modes("multires"),
        beyond=True,
        metavar="K",
    )
    coarse_iterations: int | None = _option(
        None,
        "with --multires, the iterations (evaluations) of each scale below the output "
        f"size, 1..{MAX_ITERATIONS} " + _modes("coarse_iterations", "as --iterations"),
        beyond=True,
        metavar="N",
    )
    stop_balance: float | None = _option(
        None,
        "with --optimizer lbfgs, stop at the output size once beta J_style is at most R "
        "times alpha J_content (after at least 6 evaluations): near the balance the course's "
        "Adam-200 run ends at, instead of lowering the style cost until the content dissolves "
        + _modes("stop_balance", "off"),
        beyond=True,
        metavar="R",
    )

    def __post_init__(self) -> None:
        if self.style is None:  # the command line's repeatable --style, not given
            self.style = [DEFAULT_STYLE]
        if isinstance(self.style, (str, os.PathLike)):
            self.style = [self.style]
        self.style = [os.fspath(s) for s in self.style]
        if isinstance(self.style_layers, str):
            self.style_layers = parse_style_layers(self.style_layers)
        self.style_layers = [(name, float(coeff)) for name, coeff in self.style_layers]
        # The options left unset take --fast's choice or the course's value. What --fast
        # chose is kept (a dataclasses.replace copy, whose options are all set, has none).
        mode = FAST if self.fast else COURSE
        self.chosen_by_fast = {
            name: mode[name] for name in mode if self.fast and getattr(self, name) is None
        }
        for name, value in mode.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        self._check_values()
        self._fill_size()

    def _check_values(self):
        for name, maximum in (
            ("iterations", MAX_ITERATIONS),
            ("save_every", MAX_ITERATIONS),
            ("multires", MAX_MULTIRES),
            ("coarse_iterations", MAX_ITERATIONS),
        ):
            self._whole(name, 1, maximum)
        self._whole("seed", 0, MAX_SEED)
        for name in ("height", "width", "max_size"):
            value = getattr(self, name)
            if value is not None and (not is_whole_number(value) or value < MIN_IMAGE_SIDE):
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
        for name in ("alpha", "beta", "tv_weight"):
            if not 0 <= getattr(self, name) < math.inf:
                self._fail(name, "must be a finite number >= 0")
        for name in ("learning_rate", "style_scale"):
            if not 0 < getattr(self, name) < math.inf:
                self._fail(name, "must be a finite number > 0")
        if self.stop_balance is not None and not 0 < self.stop_balance < math.inf:
            self._fail("stop_balance", "must be a finite number > 0")
        if not 0 <= self.noise_ratio <= 1:
            self._fail("noise_ratio", "must be between 0 and 1")
        if self.style_weights is not None:
            check_style_weights(self.style_weights)
        for name, choices in (
            ("optimizer", OPTIMIZERS),
            ("precision", PRECISIONS),
            ("pooling", POOLING_MODES),
            ("preserve_colors", (None, *PRESERVE_COLORS)),
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
