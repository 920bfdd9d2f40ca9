"""Command line: ``python run_nst.py --content C --style S`` (or ``nst-tf1 ...``).

The only module that prints or exits. Every failure a user can cause ends with one line on
stderr and exit status 2; the course's progress lines go to stdout, a progress bar to stderr
when it is a terminal.

Exit statuses of the main job: 0 done; 1 the run failed (a cost became NaN or infinite, an
image could not be written, out of memory); 2 bad input (arguments, images, model file, output
directory, an existing result of another content/style pair); 130 / 143 stopped by SIGINT
(Ctrl-C) / SIGTERM, after saving the current image as ``generated_image.jpg``.

Subcommands (``nst-tf1 SUBCOMMAND --help`` for each):

    nst-tf1 [run] --content C --style S ...   the course's style transfer (the default);
                                               records <output-dir>/run.json, and with
                                               --logdir DIR a TensorBoard graph and scalars
    nst-tf1 --print-model [--model M]          pprint the model dict, as the course does
    nst-tf1 figure [panel strip noise costs]   the course's figures from a finished run
    nst-tf1 activations --image I --layer L    a grid of a layer's activation maps
    nst-tf1 fetch-model [--dest PATH] ...      download and verify the real VGG-19 .mat
    nst-tf1 make-vgg PATH ...                  write a synthetic VGG-19 .mat for tests
    nst-tf1 make-demo [DIR]                    write the demo content/style pair

The main job downloads the VGG-19 file itself (as ``fetch-model`` does) when the model path
does not exist, unless ``--no-download`` is given. Environment variables: ``NST_VGG_MODEL``
(default model path), ``NST_VGG_URL`` and ``NST_VGG_SHA256`` (a mirror and its checksum).

Beyond the course (``nst_tf1.engine``; without these options the run is the course's):
several blended styles (``--style S1 S2 --style-weights``), ``--preserve-colors``,
``--tv-weight``, ``--init``, ``--style-scale``, ``--pooling``, ``--content-layer``,
``--style-layers``, ``--max-size``, ``--multires`` and batches (a directory as ``--content``
or ``--style``: one run per image, outputs in ``OUTPUT_DIR/<content>__<style>/``).
"""

import argparse
import concurrent.futures
import gc
import os
import signal
import sys
import tempfile
import threading

from .config import CONFIG, VGG_SHA256, VGG_URL

__all__ = ["main", "build_parser"]

PROG = "nst-tf1"
_DEFAULT_STYLE = "images/demo_style.jpg"
_DEFAULT_STYLE_LAYERS = ",".join(f"{name}:{coeff}" for name, coeff in CONFIG.STYLE_LAYERS)

# Exit statuses (130: interrupted with Ctrl-C, as shells report SIGINT; any signal during the
# main job gives 128 + its number, so SIGTERM gives 143).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Environment variables: the default model path, and a mirror of the VGG-19 file.
ENV_MODEL, ENV_URL, ENV_SHA256 = "NST_VGG_MODEL", "NST_VGG_URL", "NST_VGG_SHA256"


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but wrapping help text only at spaces, so paths such as
    models/imagenet-vgg-verydeep-19.mat stay whole (as long as they fit on a line)."""

    def _split_lines(self, text, width):
        import textwrap

        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text, width, indent):
        """Description and epilog: the same wrapping, paragraphs kept (blank lines)."""
        import textwrap

        return "\n\n".join(
            textwrap.fill(self._whitespace_matcher.sub(" ", paragraph).strip(), width,
                          initial_indent=indent, subsequent_indent=indent,
                          break_on_hyphens=False, break_long_words=False)
            for paragraph in text.split("\n\n")
        )


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _error(message, status=EXIT_USAGE):
    message = " ".join(str(message).split())  # always one line
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def _note(message):
    """A one-line status message on stderr that is not an error."""
    print(f"{PROG}: {message}", file=sys.stderr)


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def _non_negative_float(text):
    value = _number(text, float)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _positive_float(text):
    value = _number(text, float)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _image_side(text):
    from .vgg import MIN_IMAGE_SIDE

    value = _number(text, int)
    if value < MIN_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_IMAGE_SIDE} pixels (the network's five 2x2 poolings), "
            f"got {text}"
        )
    return value


def _ratio(text):
    value = _number(text, float)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative_int(text):
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _sha256(text):
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise argparse.ArgumentTypeError(f"not a SHA256 (64 hex digits): {text!r}")
    return value


def _url(text):
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {text!r}")
    return text


def _env(name, default):
    """The environment variable ``name`` if set and not empty, else ``default``."""
    return os.environ.get(name) or default


def _model_source():
    """(url, sha256) of the VGG-19 file: MatConvNet's, or the mirror in the environment."""
    return _env(ENV_URL, VGG_URL), _env(ENV_SHA256, VGG_SHA256)


def _style_layers(text):
    """``conv1_1:0.2,conv2_1`` -> [("conv1_1", 0.2), ("conv2_1", 0.5)]: a layer without a
    weight gets 1 / (number of layers)."""
    from .vgg import check_conv_layer

    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("no layer given")
    layers = []
    for item in items:
        name, _, weight = item.partition(":")
        try:
            check_conv_layer(name.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        value = _non_negative_float(weight) if weight else 1.0 / len(items)
        layers.append((name.strip(), value))
    names = [name for name, _ in layers]
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a layer is named twice in {text!r}")
    return layers


def _conv_layer(text):
    from .vgg import check_conv_layer

    try:
        return check_conv_layer(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser():
    """The parser of the main job; every default is the course's, from ``CONFIG``."""
    from .images import MAX_INPUT_PIXELS
    from .transfer import OPTIMIZERS, PRECISIONS
    from .vgg import MIN_IMAGE_SIDE

    p = _Parser(
        prog=PROG,
        description=(
            "Neural style transfer (Gatys et al. 2015) as in the deeplearning.ai course: "
            "VGG-19 from MatConvNet's .mat file, a TF1 graph and session, Adam on the pixels."
        ),
        epilog=(
            "Other commands: 'nst-tf1 figure --help' (the course's figures from a finished "
            "run), 'nst-tf1 activations --help' (a layer's activation maps), "
            "'nst-tf1 fetch-model --help' (download and verify the VGG-19 "
            "file), 'nst-tf1 make-vgg --help' (synthetic VGG-19 file for tests), "
            "'nst-tf1 make-demo --help' (the generated demo image pair). "
            f"The VGG-19 file (510 MB) comes from {VGG_URL}; when --model does not exist it "
            "is downloaded there first, unless --no-download is given.\n\n"
            "Images: any format Pillow reads (JPEG, PNG, GIF, BMP, TIFF, WebP); EXIF "
            "orientation is honoured; grayscale, palette, CMYK and 16-bit images are converted "
            "to 8-bit RGB; transparency (RGBA, LA, palette) is composited on WHITE. Files above "
            f"{MAX_INPUT_PIXELS:,} pixels are refused before decoding. The size the network "
            f"sees must be at least {MIN_IMAGE_SIDE} pixels a side, and is checked against the "
            "available memory (an estimate).\n\n"
            "Existing output: a run replaces OUTPUT_DIR/generated_image.jpg only when that "
            "image was made from the same content and style files (same bytes); otherwise it "
            "stops before starting, unless --overwrite is given.\n\n"
            "Ctrl-C (SIGINT) or SIGTERM saves the current image as generated_image.jpg.\n\n"
            "Exit status: 0 done; 1 the run failed (a cost became NaN/Inf, an image could not "
            "be written, out of memory); 2 bad input; 130 SIGINT; 143 SIGTERM."
        ),
    )
    p.add_argument("--content", default="images/demo_content.jpg",
                   help="content image C, or a directory: one run per image in it "
                        "(default: %(default)s, a generated demo scene)")
    p.add_argument("--style", nargs="+", default=[_DEFAULT_STYLE], metavar="S",
                   help="style image S; several images are blended (see --style-weights); "
                        "a directory gives one run per image in it "
                        f"(default: {_DEFAULT_STYLE}, a generated demo painting)")
    p.add_argument("--model", default=_env(ENV_MODEL, CONFIG.VGG_MODEL),
                   help="MatConvNet imagenet-vgg-verydeep-19.mat; downloaded there when "
                        f"missing (default: %(default)s; ${ENV_MODEL} sets it)")
    p.add_argument("--no-download", action="store_true",
                   help="stop with a message instead of downloading a missing --model")
    p.add_argument("--output-dir", default=CONFIG.OUTPUT_DIR,
                   help="where <i>.png and generated_image.jpg go (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing generated_image.jpg even if it comes from another "
                        "content/style pair, and rerun batch pairs whose result exists "
                        "(default: refuse / skip)")
    p.add_argument("--iterations", type=_positive_int,
                   default=CONFIG.NUM_ITERATIONS,
                   help="Adam iterations, or at most this many L-BFGS evaluations "
                        "(default: %(default)s)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=OPTIMIZERS[0],
                   help="adam: the course's Adam; lbfgs: SciPy's L-BFGS-B with the pixels kept "
                        "in 0..255, which needs far fewer evaluations, e.g. --optimizer lbfgs "
                        "--iterations 25 (default: %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=PRECISIONS[0],
                   help="fp32: the course's float32; bf16: TensorFlow's oneDNN bfloat16 "
                        "mixed-precision rewrite, on CPUs with avx512_bf16 or amx_bf16 "
                        "(default: %(default)s)")
    p.add_argument("--save-every", type=_positive_int,
                   default=CONFIG.SAVE_EVERY,
                   help="print the costs and save <i>.png every N iterations "
                        "(default: %(default)s)")
    p.add_argument("--height", type=_image_side, default=None,
                   help=f"height both images are resized to, at least {MIN_IMAGE_SIDE} "
                        f"(default: {CONFIG.IMAGE_HEIGHT})")
    p.add_argument("--width", type=_image_side, default=None,
                   help=f"width both images are resized to, at least {MIN_IMAGE_SIDE} "
                        f"(default: {CONFIG.IMAGE_WIDTH})")
    p.add_argument("--keep-aspect", action="store_true",
                   help="derive the side not given (--width, or --height when only --width is "
                        "given) from the content image's aspect ratio; with neither, the height "
                        f"is {CONFIG.IMAGE_HEIGHT}; the style image is resized to the same size")
    p.add_argument("--alpha", type=_non_negative_float, default=CONFIG.ALPHA,
                   help="weight of the content cost in J (default: %(default)s)")
    p.add_argument("--beta", type=_non_negative_float, default=CONFIG.BETA,
                   help="weight of the style cost in J (default: %(default)s)")
    p.add_argument("--learning-rate", type=_positive_float,
                   default=CONFIG.LEARNING_RATE, help="Adam's learning rate (default: %(default)s)")
    p.add_argument("--noise-ratio", type=_ratio,
                   default=CONFIG.NOISE_RATIO,
                   help="weight of the uniform(-20, 20) noise in the initial image, 0..1 "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=_non_negative_int, default=None,
                   help="seed of the initial noise; the same seed gives the same images "
                        "(default: %(default)s: a fresh one, recorded in run.json)")
    p.add_argument("--logdir", default=None,
                   help="write the graph and every iteration's costs there for TensorBoard "
                        "(tensorboard --logdir DIR); the course's run only "
                        "(default: %(default)s, none)")
    p.add_argument("--print-model", action="store_true",
                   help="build the graph from --model at --height x --width (and --pooling), "
                        "pprint the model dict as the course does (layer -> tensor name, "
                        "shape, dtype) and exit; needs no images, runs no optimisation and "
                        "never downloads")

    x = p.add_argument_group(
        "beyond the course",
        "Controls of the best style-transfer tools; the defaults are the course's. Any of "
        "them (or a directory as --content/--style) runs nst_tf1.engine, which gives the "
        "course's numbers when they are left at their defaults.")
    x.add_argument("--style-weights", nargs="+", type=_non_negative_float, metavar="W",
                   help="one weight per --style image; the Gram targets are blended with the "
                        "weights normalised to sum 1 (default: equal weights)")
    x.add_argument("--preserve-colors", choices=("luminance", "histogram"), default=None,
                   help="keep the content's colours: 'luminance' optimises on luminance (YIQ Y) "
                        "and puts back the content's chrominance; 'histogram' gives the style "
                        "the content's colour mean and covariance first (default: off)")
    x.add_argument("--tv-weight", type=_non_negative_float, default=0.0,
                   help="weight of the total variation cost against high-frequency noise "
                        "(default: %(default)s, the course has none)")
    x.add_argument("--init", default="noise", metavar="noise|content|style|PATH",
                   help="initial image: the course's noisy content (see --noise-ratio), the "
                        "content, the (first) style, or an image file (default: %(default)s)")
    x.add_argument("--style-scale", type=_positive_float, default=1.0,
                   help="resize the style image to this times the generated image's size "
                        "before taking its Gram targets (default: %(default)s)")
    x.add_argument("--pooling", choices=("avg", "max"), default="avg",
                   help="pooling between VGG blocks; avg is the course's, max VGG's own "
                        "(default: %(default)s)")
    x.add_argument("--content-layer", type=_conv_layer, default=CONFIG.CONTENT_LAYER,
                   help="layer of the content cost, one of conv1_1..conv5_4 "
                        "(default: %(default)s)")
    x.add_argument("--style-layers", type=_style_layers, default=_DEFAULT_STYLE_LAYERS,
                   metavar="NAME[:W],...",
                   help="style layers and their coefficients; a layer without :W gets "
                        "1/(number of layers) (default: %(default)s)")
    x.add_argument("--max-size", type=_positive_int, default=None, metavar="N",
                   help="longer side of the output; the other follows the content image's "
                        "aspect ratio (overrides --height/--width; default: off)")
    x.add_argument("--multires", type=_positive_int, default=1, metavar="K",
                   help="coarse to fine: optimise at 1/2^(K-1) of the size first, then upsample "
                        "each result as the next scale's initial image; --iterations per scale "
                        "(default: %(default)s)")
    return p


def _manual_model_hint(path, url):
    return (
        f"run 'nst-tf1 fetch-model --dest {path}', or download imagenet-vgg-verydeep-19.mat "
        f"(510 MB) from {url} and put it at {path}, or pass --model PATH"
    )


def _missing_model_message(path, url=VGG_URL, why="--no-download given"):
    return f"VGG-19 model file not found: {path} ({why}); " + _manual_model_hint(path, url)


def _mib(size):
    return f"{size / 2**20:.1f} MiB"


class _FetchProgress:
    """Shows :class:`~nst_tf1.weights.FetchEvent` values on stderr.

    On a terminal: a tqdm bar with size, rate and ETA. Otherwise (a log file, CI): plain lines,
    one when the transfer starts and one at every further 10%.
    """

    def __init__(self, url, dest):
        self.url, self.dest = url, dest
        self.terminal = sys.stderr.isatty()
        self.bar, self.next_tenth, self.started = None, 1, None

    def _line(self, text):
        if self.bar is not None:
            self.bar.write(f"{PROG}: {text}", file=sys.stderr)
        else:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    def __call__(self, event):
        import time

        if event.kind == "resume":
            self._line(f"resuming {self.dest}.part ({_mib(event.done)} from an earlier run)")
        elif event.kind == "start":
            self.started = (time.monotonic(), event.done)
            size = "unknown size" if event.total is None else _mib(event.total)
            if self.terminal:
                from tqdm import tqdm

                self.close()
                self.bar = tqdm(total=event.total, initial=event.done, unit="iB",
                                unit_scale=True, unit_divisor=1024, file=sys.stderr,
                                desc=os.path.basename(self.dest), dynamic_ncols=True)
            else:
                at = f", resuming at {_mib(event.done)}" if event.done else ""
                self._line(f"downloading {self.url} ({size}) to {self.dest}.part{at}")
                if event.total:
                    self.next_tenth = event.done * 10 // event.total + 1
        elif event.kind == "data":
            if self.bar is not None:
                self.bar.update(event.done - self.bar.n)
            elif event.total and event.done * 10 >= self.next_tenth * event.total:
                self.next_tenth = event.done * 10 // event.total + 1
                t0, d0 = self.started
                rate = (event.done - d0) / max(time.monotonic() - t0, 1e-6)
                self._line(f"{100 * event.done // event.total}% ({_mib(event.done)} of "
                           f"{_mib(event.total)}, {_mib(rate)}/s)")
        elif event.kind == "retry":
            self.close()  # the stalled bar stays on screen above the message
            self._line(event.message)
        elif event.kind == "done":
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fetch(dest, url, sha256, **options):
    """Run :func:`~nst_tf1.weights.fetch_vgg_model` with a progress display.

    Returns:
        (Digests, None) on success, else (None, (message, exit status)).
    """
    from .weights import DownloadError, fetch_vgg_model, part_path

    progress = _FetchProgress(url, dest)
    try:
        return fetch_vgg_model(dest, url, sha256, report=progress, **options), None
    except DownloadError as exc:
        return None, (str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        return None, (f"interrupted; {part_path(dest)} is kept and the next run resumes it",
                      EXIT_INTERRUPTED)
    finally:
        progress.close()


def _limit_malloc_arenas(arenas=2):
    """Cap glibc's malloc arenas (what ``MALLOC_ARENA_MAX=2`` does), where glibc is the libc.

    By default glibc gives each thread that allocates its own arena, up to 8 per core; the
    per-iteration image copies then fragment them, and a 300x400 run's resident memory creeps
    up by ~40-80 MB over 200 iterations (measured: peak 1288 MB after 20 iterations, 1249 MB
    with 2 arenas, at the same speed). Must run before TensorFlow starts its threads; does
    nothing on other C libraries.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_ARENA_MAX = -8  # from glibc's malloc.h
    mallopt(M_ARENA_MAX, arenas)


def _quiet_tensorflow():
    """Import TensorFlow without its start-up logging on the user's terminal.

    TensorFlow's C++ code logs at import and device discovery (oneDNN notices, CUDA probing
    on a machine without a GPU) before it reads ``TF_CPP_MIN_LOG_LEVEL``; those lines go to a
    temporary file, shown only if the import fails. A user who sets ``TF_CPP_MIN_LOG_LEVEL``
    gets TensorFlow's own behaviour.

    The first import also freezes the garbage collector's view of the process (``gc.freeze``):
    TensorFlow's modules leave about 330,000 tracked objects, all alive until exit, and every
    full collection traverses them, including the ones the interpreter runs at shutdown
    (0.8 s of every run's exit on the benchmark machine; 0.07 s once frozen).
    """
    first_import = "tensorflow" not in sys.modules
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow.compat.v1 as tf
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow.compat.v1 as tf

                tf.config.list_physical_devices()
            except Exception:  # an interrupt is not an import failure: no log dump
                os.dup2(saved, 2)
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
    tf.logging.set_verbosity(tf.logging.ERROR)
    if first_import:
        # Moves every object tracked so far to the permanent generation, which collections
        # skip; objects created later are collected as usual.
        gc.freeze()


def _uses_extensions(args):
    """Whether any option beyond the course (or a batch) is asked for."""
    return bool(
        len(args.style) > 1 or os.path.isdir(args.content)
        or any(os.path.isdir(style) for style in args.style)
        or args.style_weights is not None or args.preserve_colors or args.tv_weight
        or args.init != "noise" or args.style_scale != 1 or args.pooling != "avg"
        or args.content_layer != CONFIG.CONTENT_LAYER
        or args.style_layers != list(CONFIG.STYLE_LAYERS)
        or args.max_size or args.multires > 1
    )


def _course_lines(step):
    """The course's progress lines, its float32 formatting included."""
    import numpy as np

    return (
        f"Iteration {step.iteration} :\n"
        f"total cost = {np.float32(step.total_cost)!s}\n"
        f"content cost = {np.float32(step.content_cost)!s}\n"
        f"style cost = {np.float32(step.style_cost)!s}"
    )


def _check_precision(args, tensorflow):
    """One error line (exit 2) if ``--precision bf16`` cannot run here, else None.

    ``tensorflow=False`` checks the CPU only (instant, before the model is read);
    ``tensorflow=True`` also asks TensorFlow whether it runs with oneDNN.
    """
    if args.precision != "bf16":
        return None
    from .transfer import bf16_unsupported_reason

    reason = bf16_unsupported_reason(check_tensorflow=tensorflow)
    if reason:
        return _error(f"--precision bf16 is not available: {reason}")
    return None


def _ensure_model(args):
    """Download ``args.model`` if it is missing (unless --no-download).

    Returns:
        None when the file is there, else the exit status after printing the error.
    """
    if os.path.exists(args.model):
        return None
    url, sha256 = _model_source()
    if args.no_download:
        return _error(_missing_model_message(args.model, url))
    print(f"{PROG}: VGG-19 model file not found: {args.model}; downloading it from {url} "
          "(--no-download to stop instead)", file=sys.stderr, flush=True)
    digests, failure = _fetch(args.model, url, sha256)
    if failure:
        message, status = failure
        if status == EXIT_INTERRUPTED:
            return _error(message, status)
        return _error(f"{message}; {_manual_model_hint(args.model, url)}")
    print(f"Downloaded {args.model} ({_mib(digests.size)}, SHA256 verified)", flush=True)
    return None


def _load_model(args, note):
    """What both runs do between their checks and the optimisation: check that the CPU can
    do ``--precision bf16``, download a missing model, read it, print ``note`` (what happens
    to an existing result), import TensorFlow quietly and check its bf16 support.

    The .mat is read before TensorFlow is imported: loadmat briefly holds the whole file
    (fully connected layers included) and TensorFlow alone takes about 0.6 GB, so the two
    peaks do not add up. The file's SHA256 for run.json is computed meanwhile in a second
    thread (hashlib and file reads release the GIL): 0.35 s for the 575 MB benchmark file,
    hidden behind the read and the import.

    Returns:
        (weights, model info for run.json, None), or (None, None, exit status) after
        printing the error.
    """
    from .record import file_sha256
    from .vgg import ModelFileError, read_vgg_weights

    status = _check_precision(args, tensorflow=False)
    if status is None:
        status = _ensure_model(args)
    if status is not None:
        return None, None, status
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sha256") as pool:
        sha256 = pool.submit(file_sha256, args.model)
        try:
            weights = read_vgg_weights(args.model)
        except ModelFileError as exc:
            return None, None, _error(str(exc))
        if note:
            print(note)
        _quiet_tensorflow()
        info = {"size_bytes": os.path.getsize(args.model), "sha256": sha256.result(),
                "layout": weights.layout}
    return weights, info, _check_precision(args, tensorflow=True)


def _writable_dir_problem(path):
    """Create directory ``path`` if needed and prove it writable; an error message or None."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"{path}: directory is not writable ({exc.strerror or exc})"
    return None


def _read_model(path):
    """Read an existing model file (never downloaded: a 510 MB download just to look at the
    network would surprise); return (weights, None) or (None, error message)."""
    from .vgg import ModelFileError, read_vgg_weights

    if not os.path.exists(path):
        return None, _missing_model_message(path, _model_source()[0],
                                            why="this command never downloads it")
    try:
        return read_vgg_weights(path), None
    except ModelFileError as exc:
        return None, str(exc)


def print_model(args):
    """``--print-model``: the course's ``pprint(model)`` of the graph built from the file."""
    weights, problem = _read_model(args.model)
    if problem:
        return _error(problem)
    _quiet_tensorflow()
    import pprint

    import tensorflow.compat.v1 as tf

    from .vgg import build_vgg_model

    tf.disable_v2_behavior()
    with tf.Graph().as_default():
        model = build_vgg_model(weights, args.height, args.width, pooling=args.pooling)
        # pprint sorts the keys, as in the course's printout.
        print(pprint.pformat(model))
    return EXIT_OK


def _run_record(args, out, content, styles, size, seed, model):
    """A :class:`nst_tf1.record.RunRecord` of one run into ``out``, written once."""
    from .record import RunRecord, library_versions

    settings = {key: value for key, value in vars(args).items() if key != "print_model"}
    settings["style_layers"] = [list(pair) for pair in args.style_layers]
    files = {"content": os.path.abspath(content), "style": os.path.abspath(styles[0]),
             "styles": [os.path.abspath(s) for s in styles],
             "model": os.path.abspath(args.model), "output_dir": os.path.abspath(out)}
    record = RunRecord(out, settings, seed, files, model, library_versions(), size)
    record.write()
    return record


class _Interrupted(KeyboardInterrupt):
    """A signal that asks the run to stop now, without saving.

    A ``KeyboardInterrupt``, so that code which handles Ctrl-C (the model download keeps
    its partial file) handles SIGTERM the same way, and no ``except Exception`` swallows it.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _StopRequest:
    """SIGINT/SIGTERM handling for one run of the main job.

    Before the optimisation (``saving`` false) there is no image yet: a signal raises
    :class:`_Interrupted` and the run ends at once. During it, the first signal only records
    itself; the optimisation loop polls this object (it is the ``should_stop`` callable of
    :func:`nst_tf1.transfer.model_nn`), ends with the current image, and the caller saves it.
    A second signal raises :class:`_Interrupted` (stop without saving).
    """

    def __init__(self):
        self.signum = None
        self.saving = False
        self._previous = {}

    def __call__(self):
        return self.signum is not None

    def _handle(self, signum, frame):
        if not self.saving or self.signum is not None:
            raise _Interrupted(signum)
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False

    @property
    def name(self):
        return signal.Signals(self.signum).name


def run_main(argv):
    """The main job: check the inputs, optimise, print and save; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _limit_malloc_arenas()
    if args.keep_aspect and args.max_size:
        parser.error("--keep-aspect and --max-size both derive the size from the content "
                     "image: give one of them")
    if args.keep_aspect and args.height is not None and args.width is not None:
        parser.error("--keep-aspect derives one side from the content image: give --height "
                     "or --width, not both")
    if not args.keep_aspect:
        args.height = args.height or CONFIG.IMAGE_HEIGHT
        args.width = args.width or CONFIG.IMAGE_WIDTH
    elif args.height is None and args.width is None:
        args.height = CONFIG.IMAGE_HEIGHT
    if args.print_model:
        args.height = args.height or CONFIG.IMAGE_HEIGHT
        args.width = args.width or CONFIG.IMAGE_WIDTH
        return print_model(args)
    if args.logdir and _uses_extensions(args):
        return _error("--logdir writes the course's graph; it cannot be used with the options "
                      "beyond the course or a batch")
    with _StopRequest() as stop:
        try:
            if _uses_extensions(args):
                return _run_extended(args, stop)
            return _run_course(args, stop)
        except _Interrupted as exc:
            where = ("before the optimisation started; nothing saved" if stop.signum is None
                     else "again; stopped without saving the current image")
            _note(f"interrupted by {signal.Signals(exc.signum).name} {where}")
            return 128 + exc.signum
        except MemoryError:
            return _error("out of memory; try a smaller --height/--width", EXIT_FAILURE)


def _size_for(args, path):
    """(height, width) of the run for content image ``path``: --max-size or --keep-aspect
    derive it from the image's aspect ratio, else --height/--width; checked against the
    network's minimum side and the available memory, at every --multires scale and for the
    style image's --style-scale size too."""
    from .engine import scale_sizes
    from .images import ImageInputError, image_size, size_for_aspect, size_for_max_side
    from .preflight import PreflightError, check_memory
    from .vgg import MIN_IMAGE_SIDE

    if args.max_size or args.keep_aspect:
        src = image_size(path)
        if args.max_size:
            height, width = size_for_max_side(*src, args.max_size)
            how = f"--max-size {args.max_size}"
        else:
            height, width = size_for_aspect(*src, args.height, args.width)
            how = "keeping its aspect ratio"
        if min(height, width) < MIN_IMAGE_SIDE:
            raise ImageInputError(
                f"{path}: {how} turns its {src[1]}x{src[0]} (width x height) into {width}x"
                f"{height}; each side must be at least {MIN_IMAGE_SIDE} pixels"
            )
    else:
        height, width = args.height, args.width
    check_memory(height, width)
    # The sizes the engine builds graphs for: each scale, and the style image at each scale.
    scales = scale_sizes(height, width, args.multires)
    styles = [(max(1, round(h * args.style_scale)), max(1, round(w * args.style_scale)))
              for h, w in scales]
    for what, (h, w) in (("--multires coarsest scale", scales[0]),
                         ("--style-scale style image", styles[0])):
        if min(h, w) < MIN_IMAGE_SIDE:
            raise PreflightError(
                f"{what} would be {h}x{w} (height x width) for a {height}x{width} output; "
                f"each side must be at least {MIN_IMAGE_SIDE} pixels"
            )
    if args.style_scale > 1:
        h, w = styles[-1]
        check_memory(h, w, what=f"--style-scale {args.style_scale:g} (a {h}x{w} style image)")
    return height, width


def _run_course(args, stop):
    """The course's run of one content/style pair (no option beyond the course)."""
    from .images import ImageInputError, load_image, save_image
    from .preflight import (
        FINAL_IMAGE,
        PreflightError,
        check_existing_output,
        check_output_dir,
        interrupted_signature,
        run_signature,
    )

    # Everything a user can get wrong is checked before the 500 MB model is read.
    try:
        height, width = _size_for(args, args.content)
        content = load_image(args.content, height, width)
        style = load_image(args.style[0], height, width)
        n_images = len(range(0, args.iterations, args.save_every)) + 1
        check_output_dir(args.output_dir, height, width, n_images)
        signature = run_signature(args.content, args.style)
        note = check_existing_output(args.output_dir, signature, args.overwrite)
    except (ImageInputError, PreflightError) as exc:
        return _error(str(exc))
    except OSError as exc:  # an image vanished or became unreadable after loading
        return _error(f"{exc.filename}: cannot read ({exc.strerror or exc})")
    problem = args.logdir and _writable_dir_problem(args.logdir)
    if problem:
        return _error(problem)
    weights, model_info, status = _load_model(args, note)
    if status is not None:
        return status
    import tensorflow.compat.v1 as tf
    from tqdm import tqdm

    from .record import draw_seed
    from .transfer import NonFiniteCostError, style_transfer

    # A run without --seed draws one and records it, so it can be repeated exactly.
    seed = draw_seed() if args.seed is None else args.seed
    record = _run_record(args, args.output_dir, args.content, args.style, (height, width),
                         seed, model_info)
    steps = style_transfer(
        content, style, weights,
        noise_ratio=args.noise_ratio, alpha=args.alpha, beta=args.beta,
        learning_rate=args.learning_rate, num_iterations=args.iterations,
        save_every=args.save_every, seed=seed, should_stop=stop, logdir=args.logdir,
        optimizer=args.optimizer, precision=args.precision,
    )
    del weights  # the session holds the only copy of the weights from here on
    final = os.path.join(args.output_dir, FINAL_IMAGE)
    last, writing = None, final
    stop.saving = True  # from here on, a first signal ends the loop and keeps the image
    try:
        with tqdm(total=args.iterations, desc="style transfer", unit="it", file=sys.stderr,
                  disable=None, leave=False) as bar:
            for step in steps:
                last = step
                record.add_step(step)
                if step.iteration == args.iterations:
                    continue
                bar.update(1)
                bar.set_postfix(J=f"{step.total_cost:.4g}", refresh=False)
                if step.image is not None and step.iteration % args.save_every == 0:
                    tqdm.write(_course_lines(step), file=sys.stdout)
                    writing = os.path.join(args.output_dir, f"{step.iteration}.png")
                    save_image(writing, step.image)
                    record.add_save(step, os.path.basename(writing))
            # The last Step holds the final image (after a signal, the current one).
            writing = final
            if last.iteration < args.iterations:
                signature = interrupted_signature(signature, last.iteration)
            save_image(final, last.image, comment=signature)
            record.finish(last, FINAL_IMAGE,
                          "finished" if last.iteration == args.iterations else "stopped")
    except NonFiniteCostError as exc:
        record.interrupt("diverged")
        return _non_finite(exc, final, signature, args)
    except OSError as exc:
        record.interrupt("failed")
        return _cannot_write(writing, exc, args.output_dir)
    except tf.errors.ResourceExhaustedError:
        record.interrupt("failed")
        return _error(f"out of memory at {height}x{width}; try a smaller --height/--width",
                      EXIT_FAILURE)
    except BaseException:
        record.interrupt()
        raise
    finally:
        steps.close()
    if stop() and last.iteration < args.iterations:
        _note(f"interrupted by {stop.name} at iteration {last.iteration} of "
              f"{args.iterations}; saved the current image as {final}")
        return 128 + stop.signum
    print(f"Recorded the run in {record.path} (seed {seed})")
    if args.logdir:
        print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    print(_saved_line(args, final, last))
    return EXIT_OK


def _saved_line(args, final, step):
    """The closing line of one run: where the result is, after how much optimisation."""
    import numpy as np

    done = (f"{args.iterations} iterations" if args.optimizer == "adam"
            else f"at most {args.iterations} L-BFGS evaluations")
    return f"Saved {final} (after {done}: total cost = {np.float32(step.total_cost)!s})"


def _non_finite_message(exc, final, args, saved):
    """The one line for a NaN/Inf cost (``saved``: the last finite image was written)."""
    bad, good = exc.step, exc.last_finite
    lower = f"try a lower --learning-rate than {args.learning_rate:g}, such as " \
            f"{args.learning_rate / 10:g}"
    if good is None:
        return (f"the total cost is {bad.total_cost} for the initial image: nothing saved; "
                f"lower --alpha/--beta, or {lower}")
    if not saved:
        return (f"the total cost became {bad.total_cost} at iteration {bad.iteration}, and the "
                f"last image with a finite cost could not be written to {final}; {lower}")
    return (f"the total cost became {bad.total_cost} at iteration {bad.iteration}; stopped and "
            f"saved the last image with a finite cost (iteration {good.iteration}) as {final}; "
            f"{lower}")


def _save_last_finite(exc, final, signature):
    """Write the last finite image of a :class:`NonFiniteCostError`; whether it was written.

    The image is marked as a stopped run (like an interrupted one), so a batch reruns it.
    """
    from .images import save_image
    from .preflight import interrupted_signature

    if exc.last_finite is None:
        return False
    try:
        save_image(final, exc.last_finite.image,
                   comment=interrupted_signature(signature, exc.last_finite.iteration))
    except OSError:
        return False
    return True


def _non_finite(exc, final, signature, args):
    saved = _save_last_finite(exc, final, signature)
    return _error(_non_finite_message(exc, final, args, saved), EXIT_FAILURE)


def _cannot_write(path, exc, output_dir):
    return _error(f"cannot write {path} ({exc.strerror or exc}); the images saved before it "
                  f"in {output_dir} are intact", EXIT_FAILURE)


def _labels(paths):
    """Short names of image files for output directories: the stem, or the whole file name
    where two stems collide."""
    stems = [os.path.splitext(os.path.basename(path))[0] for path in paths]
    return {
        path: stem if stems.count(stem) == 1 else os.path.basename(path).replace(".", "_")
        for path, stem in zip(paths, stems)
    }


def _run_extended(args, stop):
    """The main job with options beyond the course, one content/style pair or a batch.

    A batch (a directory as --content or --style) runs every content image with every style
    (blended set), each into ``OUTPUT_DIR/<content>__<style>/`` with the course's file names;
    a pair whose ``generated_image.jpg`` exists is skipped (rerun with --overwrite). The VGG
    weights are read once; the runs are ordered by size so that each size's graph is built
    once and reused. A single pair follows the course run's existing-output policy.
    """
    from .engine import INIT_MODES, Runner, Settings
    from .images import (
        ImageInputError,
        image_size,
        list_images,
        load_image,
        reshape_and_normalize_image,
        resize_array,
        save_image,
    )
    from .preflight import (
        FINAL_IMAGE,
        PreflightError,
        check_existing_output,
        check_output_dir,
        interrupted_at,
        interrupted_signature,
        run_signature,
    )
    from .transfer import NonFiniteCostError

    # Everything a user can get wrong is checked before the 500 MB model is read.
    note = None
    try:
        batch = os.path.isdir(args.content) or any(os.path.isdir(s) for s in args.style)
        contents = list_images(args.content) if os.path.isdir(args.content) else [args.content]
        if any(os.path.isdir(s) for s in args.style):
            if args.style_weights is not None:
                return _error("--style-weights blends style files; it cannot be used with a "
                              "style directory (one run per style)")
            style_sets = [[path] for s in args.style
                          for path in (list_images(s) if os.path.isdir(s) else [s])]
        else:
            style_sets = [list(args.style)]
        if args.style_weights is not None:
            if len(args.style_weights) != len(args.style):
                return _error(f"--style-weights has {len(args.style_weights)} weights for "
                              f"{len(args.style)} style images")
            if sum(args.style_weights) <= 0:
                return _error("--style-weights must not all be 0")
        sizes = {path: _size_for(args, path) for path in contents}
        for path in {p for styles in style_sets for p in styles}:
            image_size(path)
        if args.init not in INIT_MODES:
            image_size(args.init)
        n_images = len(range(0, args.iterations, args.save_every)) + 1
        largest = max(sizes.values(), key=lambda size: size[0] * size[1])
        check_output_dir(args.output_dir, *largest,
                         n_images * len(contents) * len(style_sets))
        if not batch:
            note = check_existing_output(args.output_dir,
                                         run_signature(contents[0], style_sets[0]),
                                         args.overwrite)
    except (ImageInputError, PreflightError) as exc:
        return _error(str(exc))
    except OSError as exc:  # an image vanished or became unreadable after its header
        return _error(f"{exc.filename}: cannot read ({exc.strerror or exc})")

    content_labels = _labels(contents)
    style_labels = _labels(sorted({p for styles in style_sets for p in styles}))
    jobs = []
    for path in contents:
        for styles in style_sets:
            out = args.output_dir
            if batch:
                name = "+".join(style_labels[s] for s in styles)
                out = os.path.join(args.output_dir, f"{content_labels[path]}__{name}")
            jobs.append((sizes[path], path, styles, out))
    jobs.sort(key=lambda job: job[0])  # stable: runs of one size are consecutive
    todo = []
    for job in jobs:
        if batch and os.path.exists(os.path.join(job[3], FINAL_IMAGE)):
            stopped = interrupted_at(os.path.join(job[3], FINAL_IMAGE))
            if stopped is not None:
                print(f"Rerunning {job[3]}: its generated_image.jpg was interrupted at "
                      f"iteration {stopped}")
                todo.append(job)
            elif args.overwrite:
                print(f"Replacing {job[3]}: generated_image.jpg exists (--overwrite)")
                todo.append(job)
            else:
                print(f"Skipping {job[3]}: generated_image.jpg exists (--overwrite reruns it)")
        else:
            todo.append(job)
    if not todo:
        print("Nothing to do: every output exists")
        return EXIT_OK
    weights, model_info, status = _load_model(args, note)
    if status is not None:
        return status
    import tensorflow.compat.v1 as tf
    from tqdm import tqdm

    from .record import draw_seed

    # A run without --seed draws one and records it, so it can be repeated exactly.
    seed = draw_seed() if args.seed is None else args.seed
    settings = Settings(
        style_layers=tuple(args.style_layers), content_layer=args.content_layer,
        pooling=args.pooling, alpha=args.alpha, beta=args.beta, tv_weight=args.tv_weight,
        learning_rate=args.learning_rate, num_iterations=args.iterations,
        save_every=args.save_every, noise_ratio=args.noise_ratio, seed=seed,
        init=args.init, preserve_colors=args.preserve_colors, style_scale=args.style_scale,
        multires=args.multires, optimizer=args.optimizer, precision=args.precision,
    )
    failures = 0
    per_job = args.multires * args.iterations
    stop.saving = True  # from here on, a first signal ends the loop and keeps the image
    with Runner(weights, settings) as runner, tqdm(
        total=len(todo) * per_job, desc="style transfer", unit="it", file=sys.stderr,
        disable=None, leave=False,
    ) as bar:
        for number, (size, content_path, styles, out) in enumerate(todo, start=1):
            if batch:
                tqdm.write(f"[{number}/{len(todo)}] {content_path} + {' + '.join(styles)} "
                           f"-> {out}", file=sys.stdout)
            done, step, finished, record = 0, None, False, None
            final = writing = os.path.join(out, FINAL_IMAGE)
            try:
                signature = run_signature(content_path, styles)
                content = load_image(content_path, *size)
                os.makedirs(out, exist_ok=True)
                record = _run_record(args, out, content_path, styles, size, seed, model_info)
                for progress in runner.run(content, styles, args.style_weights,
                                           should_stop=stop):
                    step, last = progress.step, progress.scale == progress.scales
                    if last:
                        # run.json holds the costs of the output size's scale.
                        record.add_step(step)
                    if step.iteration == 0 and progress.scales > 1:
                        tqdm.write(f"Scale {progress.scale}/{progress.scales}: "
                                   f"{progress.height}x{progress.width}", file=sys.stdout)
                    if step.iteration == args.iterations:
                        if last:
                            writing = final
                            save_image(final, step.image, comment=signature)
                            record.finish(step, FINAL_IMAGE)
                            finished = True
                        continue
                    bar.update(1)
                    done += 1
                    bar.set_postfix(J=f"{step.total_cost:.4g}", refresh=False)
                    if step.image is not None and step.iteration % args.save_every == 0:
                        tqdm.write(_course_lines(step), file=sys.stdout)
                        if last:
                            writing = os.path.join(out, f"{step.iteration}.png")
                            save_image(writing, step.image)
                            record.add_save(step, os.path.basename(writing))
                if stop() and not finished:
                    # The loop ended early: its last Step holds the current image.
                    image, where = step.image, ""
                    if not last:
                        # A coarse scale: the saved image has the output's size all the same.
                        rgb = resize_array(image[0] + CONFIG.MEANS[0], *size)
                        image = reshape_and_normalize_image(rgb)
                        where = (f" of scale {progress.scale}/{progress.scales} "
                                 f"({progress.height}x{progress.width}, upsampled)")
                    writing = final
                    save_image(final, image,
                               comment=interrupted_signature(signature, step.iteration))
                    record.finish(step, FINAL_IMAGE, "stopped")
                    _note(f"interrupted by {stop.name} at iteration {step.iteration} of "
                          f"{args.iterations}{where}; saved the current image as {final}")
                    return 128 + stop.signum
            except ImageInputError as exc:
                # Found unreadable only now (the header was fine): report, go on with the rest.
                if record is not None:
                    record.interrupt("failed")
                bar.update(per_job - done)
                failures += 1
                tqdm.write(f"{PROG}: error: {exc}", file=sys.stderr)
                continue
            except NonFiniteCostError as exc:
                record.interrupt("diverged")
                if not batch:
                    return _non_finite(exc, final, signature, args)
                saved = _save_last_finite(exc, final, signature)
                bar.update(per_job - done)
                failures += 1
                tqdm.write(f"{PROG}: error: {out}: {_non_finite_message(exc, final, args, saved)}",
                           file=sys.stderr)
                continue
            except OSError as exc:
                if record is not None:
                    record.interrupt("failed")
                return _cannot_write(writing, exc, out)
            except tf.errors.ResourceExhaustedError:
                if record is not None:
                    record.interrupt("failed")
                return _error(f"out of memory at {size[0]}x{size[1]}; try a smaller size",
                              EXIT_FAILURE)
            except BaseException:
                if record is not None:
                    record.interrupt()
                raise
            tqdm.write(f"Recorded the run in {record.path} (seed {seed})", file=sys.stdout)
            tqdm.write(_saved_line(args, final, step), file=sys.stdout)
            if stop():
                _note(f"interrupted by {stop.name}; stopped after {final}, before the "
                      "remaining runs")
                return 128 + stop.signum
    if failures:
        return _error(f"{failures} of {len(todo)} runs failed", EXIT_FAILURE)
    return EXIT_OK


def figure_main(argv):
    """``nst-tf1 figure``: the course's figures from a finished run's output directory."""
    from .figures import FIGURES

    p = _Parser(
        prog=f"{PROG} figure",
        description="Make the course's figures from a run's output directory (its run.json, "
                    "saved images and final image): panel = content + style = generated; "
                    "strip = the saved images and the final one by iteration; noise = the "
                    "content image next to the noisy initial image (remade from the recorded "
                    "seed); costs = J, J_content, J_style against the iteration, log scale "
                    "(needs matplotlib: pip install 'nst-tf1[plots]'). All but costs need "
                    "only Pillow.",
    )
    def figure_name(text):
        if text not in FIGURES:
            raise argparse.ArgumentTypeError(
                f"unknown figure {text!r}; choose from {', '.join(FIGURES)}")
        return text

    p.add_argument("figures", nargs="*", type=figure_name, metavar="FIGURE",
                   help=f"which figures, from {', '.join(FIGURES)} (default: all)")
    p.add_argument("--run-dir", default=CONFIG.OUTPUT_DIR,
                   help="the run's output directory, holding run.json (default: %(default)s)")
    p.add_argument("--out-dir", default=None,
                   help="where <figure>.png go (default: RUN_DIR/figures)")
    p.add_argument("--columns", type=_positive_int, default=4,
                   help="images per row of the strip (default: %(default)s)")
    p.add_argument("--max-images", type=_positive_int, default=12,
                   help="most images in the strip, the final one included; evenly spaced "
                        "saves when the run saved more (default: %(default)s)")
    args = p.parse_args(argv)
    names = [name for name in FIGURES if name in args.figures] if args.figures else FIGURES
    from .figures import PlotsUnavailableError, require_matplotlib, run_figure, save_figure
    from .images import ImageInputError
    from .record import RunRecordError, read_run_record

    if "costs" in names:
        try:
            require_matplotlib()
        except PlotsUnavailableError as exc:
            others = " ".join(name for name in names if name != "costs")
            hint = f" (or make the others: {PROG} figure {others})" if others else ""
            return _error(f"{exc}{hint}")
    try:
        record = read_run_record(args.run_dir)
    except RunRecordError as exc:
        return _error(str(exc))
    out_dir = args.out_dir or os.path.join(args.run_dir, "figures")
    problem = _writable_dir_problem(out_dir)
    if problem:
        return _error(problem)
    for name in names:
        try:
            figure = run_figure(name, record, columns=args.columns,
                                max_images=args.max_images)
        except (ImageInputError, ValueError, OSError) as exc:
            return _error(f"{name}: {exc}")
        path = os.path.join(out_dir, f"{name}.png")
        save_figure(path, figure)
        print(f"Wrote {path} ({figure.width}x{figure.height})")
    return EXIT_OK


def activations_main(argv):
    """``nst-tf1 activations``: a grid of one layer's activation maps for an image."""
    from .vgg import MODEL_KEYS

    layers = MODEL_KEYS[1:]
    p = _Parser(
        prog=f"{PROG} activations",
        description="Show what a layer of VGG-19 sees: the image goes through the network "
                    "(resized to --height x --width and normalised as in a run) and the "
                    "layer's most active channels (highest mean activation) are drawn as "
                    "a grid of maps, each scaled to its own maximum.",
    )
    p.add_argument("--image", required=True, help="the input image")
    p.add_argument("--layer", default=CONFIG.CONTENT_LAYER, choices=layers, metavar="LAYER",
                   help="conv1_1 .. conv5_4 or avgpool1 .. avgpool5 (default: %(default)s, "
                        "the content layer)")
    p.add_argument("--channels", type=_positive_int, default=16,
                   help="how many maps (default: %(default)s)")
    p.add_argument("--model", default=_env(ENV_MODEL, CONFIG.VGG_MODEL),
                   help="MatConvNet imagenet-vgg-verydeep-19.mat, never downloaded here "
                        f"(default: %(default)s; ${ENV_MODEL} sets it)")
    p.add_argument("--height", type=_image_side, default=CONFIG.IMAGE_HEIGHT,
                   help="height the image is resized to, at least 32 (default: %(default)s)")
    p.add_argument("--width", type=_image_side, default=CONFIG.IMAGE_WIDTH,
                   help="width the image is resized to, at least 32 (default: %(default)s)")
    p.add_argument("--output", default=None,
                   help="output PNG (default: OUTPUT_DIR/activations_LAYER.png, "
                        f"OUTPUT_DIR being {CONFIG.OUTPUT_DIR})")
    args = p.parse_args(argv)
    output = args.output or os.path.join(CONFIG.OUTPUT_DIR, f"activations_{args.layer}.png")
    from .images import ImageInputError, load_image
    from .preflight import PreflightError, check_memory

    try:
        check_memory(args.height, args.width)
        image = load_image(args.image, args.height, args.width)
    except (ImageInputError, PreflightError) as exc:
        return _error(str(exc))
    problem = _writable_dir_problem(os.path.dirname(output) or ".")
    if problem:
        return _error(problem)
    weights, problem = _read_model(args.model)
    if problem:
        return _error(problem)
    _quiet_tensorflow()
    from .figures import activation_grid, layer_activations, save_figure

    activations = layer_activations(weights, image, args.layer)
    n_H, n_W, n_C = activations.shape
    count = min(args.channels, n_C)
    title = f"{args.layer} of {os.path.basename(args.image)}: {count} of {n_C} channels"
    figure = activation_grid(activations, args.channels, title=title)
    save_figure(output, figure)
    print(f"Wrote {output} ({figure.width}x{figure.height}): the {count} most active of the "
          f"{n_C} channels of {args.layer}, maps of {n_H}x{n_W}")
    return EXIT_OK


def make_demo_main(argv):
    """``nst-tf1 make-demo [DIR]``: write the generated demo content/style pair."""
    p = _Parser(
        prog=f"{PROG} make-demo",
        description="Write demo_content.jpg (a sky, a sun and a glass pyramid) and "
                    "demo_style.jpg (coloured brush strokes), drawn by nst_tf1.demo, into DIR: "
                    "the pair the main job uses when no images are given.",
    )
    p.add_argument("directory", nargs="?", default="images",
                   help="where to write them (default: %(default)s)")
    p.add_argument("--height", type=_image_side, default=CONFIG.IMAGE_HEIGHT,
                   help="height of the images (default: %(default)s)")
    p.add_argument("--width", type=_image_side, default=CONFIG.IMAGE_WIDTH,
                   help="width of the images (default: %(default)s)")
    args = p.parse_args(argv)
    from .demo import write_demo_images

    try:
        paths = write_demo_images(args.directory, args.height, args.width)
    except OSError as exc:
        return _error(f"{args.directory}: cannot write ({exc.strerror or exc})")
    for path in paths:
        print(f"Wrote {path}")
    return EXIT_OK


def make_vgg_main(argv):
    """``nst-tf1 make-vgg PATH``: write a synthetic MatConvNet VGG-19 file."""
    p = _Parser(
        prog=f"{PROG} make-vgg",
        description="Write a synthetic MatConvNet VGG-19 .mat: the real file's structure and "
                    "field names, random He-initialised weights. For tests and benchmarks; "
                    "it produces noise, not art.",
    )
    p.add_argument("path", help="output .mat file")
    p.add_argument("--layout", choices=("new", "old"), default="new",
                   help="the current MatConvNet layout or the older one (default: %(default)s)")
    p.add_argument("--width-divisor", type=_positive_int, default=8,
                   help="divide every layer's channels by this; 1 gives the real widths "
                        "(default: %(default)s)")
    p.add_argument("--fc", choices=("tiny", "full"), default="tiny",
                   help="fully connected layers as tiny placeholders or at full size, which "
                        "makes the file as large as the real one (default: %(default)s)")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seed of the weights (default: %(default)s)")
    args = p.parse_args(argv)
    from .testing import make_vgg_file

    try:
        make_vgg_file(args.path, layout=args.layout, width_divisor=args.width_divisor,
                      fc=args.fc, seed=args.seed)
    except OSError as exc:
        return _error(f"{args.path}: cannot write ({exc.strerror or exc})")
    print(f"Wrote {args.path} ({os.path.getsize(args.path) / 1e6:.1f} MB, layout {args.layout}, "
          f"width divisor {args.width_divisor}, fc {args.fc})")
    return EXIT_OK


def fetch_model_main(argv):
    """``nst-tf1 fetch-model``: download, verify and put the VGG-19 file in place."""
    from . import weights

    url, sha256 = _model_source()
    p = _Parser(
        prog=f"{PROG} fetch-model",
        description="Download MatConvNet's imagenet-vgg-verydeep-19.mat (510 MB) to --dest: "
                    "streamed to DEST.part with a progress bar, resumed with an HTTP Range "
                    "request after an interruption, checked against --sha256, then renamed "
                    "into place. An existing DEST is never overwritten.",
        epilog=f"Environment: ${ENV_MODEL} sets the default --dest, ${ENV_URL} and "
               f"${ENV_SHA256} the default --url and --sha256. Exit status: 0 when the file is "
               "in place, 1 when the download failed, 2 for bad arguments.",
    )
    p.add_argument("--dest", default=_env(ENV_MODEL, CONFIG.VGG_MODEL),
                   help="where the file goes (default: %(default)s)")
    p.add_argument("--url", type=_url, default=url,
                   help="where to download it from, e.g. a mirror (default: %(default)s)")
    p.add_argument("--sha256", type=_sha256, default=sha256,
                   help="expected SHA256 of the file (default: %(default)s, MatConvNet's "
                        "current file)")
    p.add_argument("--retries", type=_non_negative_int, default=weights.DEFAULT_RETRIES,
                   help="further attempts after a connection failure, a timeout or an HTTP "
                        "5xx (default: %(default)s)")
    p.add_argument("--backoff", type=_non_negative_float, default=weights.DEFAULT_BACKOFF,
                   help="seconds before the first retry, doubled before each further one "
                        f"(at most {weights.MAX_BACKOFF:g}) (default: %(default)s)")
    p.add_argument("--connect-timeout", type=_positive_float,
                   default=weights.DEFAULT_CONNECT_TIMEOUT,
                   help="seconds allowed to connect (default: %(default)s)")
    p.add_argument("--read-timeout", type=_positive_float, default=weights.DEFAULT_READ_TIMEOUT,
                   help="seconds allowed without receiving data (default: %(default)s)")
    args = p.parse_args(argv)

    if os.path.lexists(args.dest):
        if not os.path.isfile(args.dest):
            return _error(f"{args.dest}: exists and is not a regular file; not touching it")
        try:
            digests = weights.file_digests(args.dest)
        except OSError as exc:
            return _error(f"{args.dest}: cannot read ({exc.strerror or exc})")
        layout = weights.known_layout(digests)
        if digests.sha256 == args.sha256 or layout:
            what = f"the {layout} MatConvNet layout" if layout else "SHA256 matches --sha256"
            print(f"{args.dest} is already in place ({_mib(digests.size)}, {what}); "
                  "nothing to download")
            return EXIT_OK
        return _error(
            f"{args.dest} exists but is not a known VGG-19 file (SHA256 {digests.sha256}, "
            f"expected {args.sha256}); not overwriting it: move it away or pass --dest",
            EXIT_FAILURE,
        )

    digests, failure = _fetch(
        args.dest, args.url, args.sha256, retries=args.retries, backoff=args.backoff,
        connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
    )
    if failure:
        return _error(*failure)
    print(f"Saved {args.dest} ({_mib(digests.size)}; SHA256 {digests.sha256} verified; "
          f"MD5 {digests.md5})")
    return EXIT_OK


#: Subcommand name -> function taking the remaining arguments and returning an exit status.
SUBCOMMANDS = {
    "run": run_main,
    "figure": figure_main,
    "activations": activations_main,
    "fetch-model": fetch_model_main,
    "make-vgg": make_vgg_main,
    "make-demo": make_demo_main,
}


def main(argv=None):
    """Entry point of ``run_nst.py`` and the ``nst-tf1`` console script.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        int: exit status (0 success, 2 bad input, 1 other failure).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    return run_main(argv)
