"""The command line's face of every :class:`~nst_tf1.settings.Settings` field: its help text,
its group and its argparse options, one entry per field, kept apart from the field's default
(which only ``Settings`` has: argparse shows it as ``%(default)s``).

``nst_tf1.cli`` makes one flag per field from :data:`FLAGS` (``tv_weight`` is
``--tv-weight``); a test checks that every field has its entry and no entry lacks a field.
The rest of the main job's ``--help`` is here too: :data:`DESCRIPTION`, :func:`epilog` and
the help of the flags that are not settings (:data:`COMMAND_FLAGS`), so that the command
line only parses, prints and maps errors to exit statuses.
"""

from __future__ import annotations

import collections

from .colors import PRESERVE_COLORS
from .config import CONFIG, ENV_HOME, ENV_MODEL
from .course_preview import BOUND_MARGIN
from .device import PRECISIONS
from .optimize import OPTIMIZERS
from .settings import (
    COURSE,
    DEFAULT_STYLE,
    FAST,
    FAST_MAX_SIZE,
    MAX_ITERATIONS,
    MAX_MULTIRES,
    MAX_SEED,
    MAX_SIDE,
    UPSAMPLE_MODES,
)
from .vgg import MIN_IMAGE_SIDE, POOLING_MODES

__all__ = ["COMMAND_FLAGS", "DESCRIPTION", "Flag", "FLAGS", "epilog"]

Flag = collections.namedtuple("Flag", "help beyond item argparse")
Flag.__doc__ = """How the command line shows one setting.

Attributes:
    help: the flag's help text (argparse fills in ``%(default)s``).
    beyond: whether the flag is in the "beyond the course" group.
    item: the type of each value of a list setting.
    argparse: further ``add_argument`` options (``choices``, ``metavar``, ``nargs``, ...).
"""


def _flag(help, *, beyond=False, item=str, **argparse_options):
    return Flag(help, beyond, item, argparse_options)


def _modes(name, course=None):
    """'(default: the course's value) (with --fast: --fast's)' for a flag's help."""
    fast = "off" if FAST[name] is None else FAST[name]
    return f"(default: {course or COURSE[name]}) (with --fast: {fast})"


_STYLE_LAYERS_TEXT = ",".join(f"{name}:{coeff}" for name, coeff in CONFIG.STYLE_LAYERS)

#: Field name -> :class:`Flag`, in the order ``--help`` lists them (the fields' order).
FLAGS = {
    "content": _flag(
        "content image C, or a directory: one run per image in it (default: "
        "%(default)s, a generated demo scene shipped with the package)",
    ),
    "style": _flag(
        "style image S; several images are blended (see --style-weights), given after "
        "one --style or as repeated --style flags (--style A --style B is --style A B); a "
        f"directory gives one run per image in it (default: {DEFAULT_STYLE}, a generated demo "
        "painting shipped with the package)",
        nargs="+",
        action="extend",
        metavar="S",
    ),
    "model": _flag(
        "MatConvNet imagenet-vgg-verydeep-19.mat; downloaded there when missing "
        f"(default: %(default)s: ${ENV_MODEL} if set, else {CONFIG.VGG_MODEL} if it exists "
        f"here, else the per-user cache, moved by ${ENV_HOME}; 'nst-tf1 where' shows it)",
    ),
    "no_download": _flag(
        "stop with a message instead of downloading a missing --model",
    ),
    "output_dir": _flag(
        "where <i>.png and generated_image.jpg go (default: %(default)s)",
    ),
    "overwrite": _flag(
        "replace an existing generated_image.jpg even if it comes from another "
        "content/style pair, and rerun batch pairs whose result exists (default: refuse / "
        "skip)",
    ),
    "fast": _flag(
        "a result as good as the course's in a fraction of its time (J_content and J_style "
        "at or below the course run's on all 20 test pairs, 6 times faster with "
        "bf16, 4.2 to 4.4 times without): "
        f"--optimizer {FAST['optimizer']} --precision {FAST['precision']} --init "
        f"{FAST['init']} --multires {FAST['multires']} --coarse-iterations "
        f"{FAST['coarse_iterations']} --coarse-upsample {FAST['coarse_upsample']} "
        f"--course-preview {FAST['course_preview']} --detail-iterations "
        f"{FAST['detail_iterations']} --iterations {FAST['iterations']} "
        f"--stop-progress {FAST['stop_progress']:g} --save-every {FAST['save_every']}, "
        f"and the content's aspect ratio kept (--max-size {FAST_MAX_SIZE}; with one of "
        "--height/--width, --keep-aspect); any of these options given explicitly wins "
        "over --fast's choice (default: off, the course's run)",
    ),
    "iterations": _flag(
        "Adam iterations, or at most this many L-BFGS evaluations; with --multires, at "
        f"the output size; 1..{MAX_ITERATIONS} " + _modes("iterations"),
    ),
    "optimizer": _flag(
        "adam: the course's Adam; lbfgs: L-BFGS (SciPy's L-BFGS-B iteration) on the image "
        "clipped to 0..255 " + _modes("optimizer"),
        choices=OPTIMIZERS,
    ),
    "precision": _flag(
        "fp32: the course's float32; bf16: TensorFlow's oneDNN bfloat16 mixed-precision "
        "rewrite, on CPUs with avx512_bf16 or amx_bf16; auto: bf16 where the CPU has it, else "
        "fp32 " + _modes("precision"),
        choices=PRECISIONS,
    ),
    "save_every": _flag(
        "print the costs and save <i>.png every N iterations (L-BFGS: evaluations), "
        f"1..{MAX_ITERATIONS} " + _modes("save_every"),
    ),
    "height": _flag(
        f"height both images are resized to, {MIN_IMAGE_SIDE}..{MAX_SIDE} pixels "
        f"(default: {CONFIG.IMAGE_HEIGHT})",
    ),
    "width": _flag(
        f"width both images are resized to, {MIN_IMAGE_SIDE}..{MAX_SIDE} pixels "
        f"(default: {CONFIG.IMAGE_WIDTH})",
    ),
    "keep_aspect": _flag(
        "derive the side not given (--width, or --height when only --width is given) "
        f"from the content image's aspect ratio; with neither, the height is "
        f"{CONFIG.IMAGE_HEIGHT}; the style image is resized to the same size",
    ),
    "alpha": _flag(
        f"weight of the content cost in J (default: {CONFIG.ALPHA})",
    ),
    "beta": _flag(
        f"weight of the style cost in J (default: {CONFIG.BETA}), or alpha x the "
        "--style-strength ratio when that is given",
    ),
    "style_strength": _flag(
        "how strongly the style is applied: subtle (beta = 0.001 x alpha: a face stays "
        "clear, painted in the style's colours and texture), medium (4 x alpha, the "
        "course's 10/40: a face dissolves into the style's strokes), strong (16 x alpha: "
        "more strokes still), or a number R > 0 (beta = R x alpha; 0.01 keeps a face under "
        "the strokes); "
        "--alpha/--beta given explicitly win (default: medium, the course's)",
        metavar="subtle|medium|strong|R",
    ),
    "learning_rate": _flag(
        f"Adam's learning rate; acts only with --optimizer adam (default: {CONFIG.LEARNING_RATE})",
    ),
    "noise_ratio": _flag(
        "weight of the uniform(-20, 20) noise in the initial image, 0..1 (default: %(default)s)",
    ),
    "seed": _flag(
        f"seed of the initial noise, 0..{MAX_SEED}; the same seed gives the same images "
        "(default: %(default)s: a fresh one, recorded in run.json)",
    ),
    "logdir": _flag(
        "write the graph and every iteration's costs there for TensorBoard (tensorboard "
        "--logdir DIR); the course's run only (default: %(default)s, none)",
    ),
    "style_weights": _flag(
        "one weight per --style image, in the same order (repeated --style-weights "
        "flags add up like --style's); the Gram targets are blended with the weights "
        "normalised to sum 1 (default: equal weights)",
        beyond=True,
        item=float,
        nargs="+",
        action="extend",
        metavar="W",
    ),
    "preserve_colors": _flag(
        "keep the content's colours: 'luminance' optimises on luminance (YIQ Y) and puts "
        "back the content's chrominance; 'histogram' gives the style the content's colour "
        "mean and covariance first (default: off)",
        beyond=True,
        choices=PRESERVE_COLORS,
    ),
    "tv_weight": _flag(
        "weight of the total variation cost against high-frequency noise (default: "
        "%(default)s, the course has none)",
        beyond=True,
    ),
    "init": _flag(
        "initial image: the course's noisy content (see --noise-ratio), the content, the "
        "(first) style, the content recolored with the (first) style's colour mean and "
        "covariance, or an image file " + _modes("init"),
        beyond=True,
        metavar="noise|content|style|recolored|PATH",
    ),
    "style_scale": _flag(
        "resize the style image to this times the generated image's size before taking "
        "its Gram targets (default: %(default)s)",
        beyond=True,
    ),
    "pooling": _flag(
        "pooling between VGG blocks; avg is the course's, max VGG's own (default: %(default)s)",
        beyond=True,
        choices=POOLING_MODES,
    ),
    "content_layer": _flag(
        "layer of the content cost, one of conv1_1..conv5_4 (default: %(default)s)",
        beyond=True,
    ),
    "style_layers": _flag(
        f"style layers and their coefficients; a layer without :W gets 1/(number of "
        f"layers) (default: {_STYLE_LAYERS_TEXT})",
        beyond=True,
        metavar="NAME[:W],...",
    ),
    "max_size": _flag(
        f"longer side of the output, {MIN_IMAGE_SIDE}..{MAX_SIDE}; the other follows "
        "the content image's aspect ratio (cannot be given with --height/--width; default: "
        "off)",
        beyond=True,
        metavar="N",
    ),
    "multires": _flag(
        "coarse to fine: optimise at 1/2^(K-1) of the size first, then upsample each "
        f"result as the next scale's initial image; 1..{MAX_MULTIRES}, and the coarsest scale "
        f"must keep {MIN_IMAGE_SIDE} pixels a side " + _modes("multires"),
        beyond=True,
        metavar="K",
    ),
    "coarse_iterations": _flag(
        "with --multires, the iterations (evaluations) of each scale below the output "
        f"size, 1..{MAX_ITERATIONS} " + _modes("coarse_iterations", "as --iterations"),
        beyond=True,
        metavar="N",
    ),
    "stop_balance": _flag(
        "with --optimizer lbfgs, stop at the output size once beta J_style is at most R "
        "times alpha J_content (after at least 6 evaluations): near the balance the course's "
        "Adam-200 run ends at, instead of lowering the style cost until the content dissolves "
        + _modes("stop_balance", "off"),
        beyond=True,
        metavar="R",
    ),
    "term_balance": _flag(
        "with --optimizer lbfgs, minimise w alpha J_content + beta J_style with w chosen so "
        "that, each term divided by its own scale (J_style of the content image, J_content "
        "of the style image), the style term weighs R times the content term, R moved by "
        "beta/alpha against the course's 40/10 (so --style-strength still applies; the "
        "reported J stays the course's); given with --fast, it replaces --fast's "
        "--course-preview. --fast --term-balance 32 --iterations 15, --fast's earlier choice: "
        "about twice as fast, but on textures J_style stays several times the course's "
        + _modes("term_balance", "off: w = 1"),
        beyond=True,
        metavar="R",
    ),
    "content_bound": _flag(
        "with --optimizer lbfgs, a content trust region: minimise J plus a penalty that is "
        "zero while J_content is at most F times the content cost of the course's own "
        "initial image (the content with the course's noise ratio 0.6, same seed) at that "
        "size, "
        "so the style cost falls as far as it can without the content giving way "
        + _modes("content_bound", "off"),
        beyond=True,
        metavar="F",
    ),
    "course_preview": _flag(
        "with --optimizer lbfgs, the content trust region's bound from a preview of the "
        "course's own run: N of its Adam iterations (learning rate 2.0, from its noisy "
        "start, fp32) on a copy of the pair at a quarter of the size; J_content may rise "
        f"to {BOUND_MARGIN:g} of the fraction of the style image's content cost that the "
        "preview's reached, and the course's J is minimised below it "
        + _modes("course_preview", "off"),
        beyond=True,
        metavar="N",
    ),
    "detail_iterations": _flag(
        "with --optimizer lbfgs, first N evaluations at the output size of the style terms "
        "of conv1_1..conv3_1 alone (the network runs only that far: about half the time of "
        "an evaluation of J), which bring in the style's fine detail, then --iterations of "
        "J; the costs are shown at every --save-every-th evaluation, where the image is "
        f"saved; 0..{MAX_ITERATIONS} " + _modes("detail_iterations"),
        beyond=True,
        metavar="N",
    ),
    "stop_progress": _flag(
        "with --optimizer lbfgs, stop at the output size once the minimised cost of the best "
        "image fell by less than this fraction of itself over the last 5 evaluations (after "
        "at least 6) " + _modes("stop_progress", "off"),
        beyond=True,
        metavar="F",
    ),
    "coarse_upsample": _flag(
        "with --multires, the next scale starts from the previous result upsampled "
        "('image'), or from the content at that size plus the upsampled change the previous "
        "scale made to its content ('residual': keeps the content's fine detail) "
        + _modes("coarse_upsample"),
        beyond=True,
        choices=UPSAMPLE_MODES,
    ),
}

#: The main job's ``--help`` description.
DESCRIPTION = (
    "Neural style transfer (Gatys et al. 2015) as in the deeplearning.ai course: "
    "VGG-19 from MatConvNet's .mat file, a TF1 graph and session, Adam on the pixels."
)


def epilog() -> str:
    """The main job's ``--help`` epilog: the other commands, where the model comes from,
    the images it reads, existing output, Ctrl-C and the exit statuses."""
    from .config import model_source
    from .images import MAX_INPUT_PIXELS

    return (
        "Other commands: 'nst-tf1 serve --help' (a local web page: start, watch, stop), "
        "'nst-tf1 figure --help' (the course's figures from a finished run), "
        "'nst-tf1 activations --help' (a layer's activation maps), 'nst-tf1 fetch-model "
        "--help' (download and verify the VGG-19 file), 'nst-tf1 where' (where that file is or "
        "will go), 'nst-tf1 make-vgg --help' (synthetic "
        "VGG-19 file for tests), 'nst-tf1 make-demo --help' (the generated demo image pair). "
        f"The VGG-19 file (510 MB) comes from {model_source()[0]}; when --model does not "
        "exist it is downloaded there first, unless --no-download is given.\n\n"
        "Images: any format Pillow reads (JPEG, PNG, GIF, BMP, TIFF, WebP); EXIF orientation "
        "is honoured; grayscale, palette, CMYK and 16-bit images are converted to 8-bit RGB; "
        "transparency (RGBA, LA, palette) is composited on WHITE. Files above "
        f"{MAX_INPUT_PIXELS:,} pixels are refused before decoding. The size the network sees "
        f"must be at least {MIN_IMAGE_SIDE} pixels a side, and is checked against the "
        "available memory (an estimate).\n\n"
        "Existing output: a run replaces OUTPUT_DIR/generated_image.jpg only when that image "
        "was made from the same content and style files (same bytes); otherwise it stops "
        "before starting, unless --overwrite is given. Over a finished result a run writes "
        "into OUTPUT_DIR/unfinished and replaces the result only once it has finished. One "
        "run at a time per OUTPUT_DIR: a second one stops at once, naming the first.\n\n"
        "Ctrl-C (SIGINT) or SIGTERM saves the current image as generated_image.jpg; before "
        "the first iteration nothing is saved.\n\n"
        "Exit status: 0 done; 1 the run failed (a cost became NaN/Inf, an image could not be "
        "written, out of memory, the model download failed); 2 bad input; 130 SIGINT; 143 "
        "SIGTERM."
    )


#: The main job's flags that are not settings (how it prints, or what it does instead):
#: name -> help text; each is a ``store_true`` flag.
COMMAND_FLAGS = {
    "verbose": (
        "in a batch, print every pair's cost lines, scales and saved files too (default: "
        "one line per pair, the progress bar and the contact sheet's paths)"
    ),
    "print_model": (
        "build the graph from --model at --height x --width (and --pooling), pprint the model "
        "dict as the course does (layer -> tensor name, shape, dtype) and exit; needs no "
        "images (so --max-size and --keep-aspect are ignored), runs no optimisation and "
        "never downloads; a size a run could not fit in memory is refused"
    ),
}
