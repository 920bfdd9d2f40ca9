"""Command line: ``python run_nst.py --content C --style S`` (or ``nst-tf1 ...``,
``python -m nst_tf1 ...``).

This module parses the arguments into a :class:`~nst_tf1.settings.Settings`, hands it to
:func:`nst_tf1.run.run`, prints what the run reports (the course's lines, a progress bar on
stderr when it is a terminal) and maps errors to exit statuses. It is the only module that
prints or exits, and no module imports it.

Exit statuses: 0 done; 1 the run failed (a cost became NaN or infinite, an image could not
be written, out of memory, a failed model download in the main job or ``fetch-model``); 2 bad
input (arguments, images, model file, output directory, an existing result of another
content/style pair, an output folder or download destination in use by another process);
128 + the signal's number when stopped by a signal (130 Ctrl-C, 143 SIGTERM).

Subcommands (``nst-tf1 SUBCOMMAND --help`` for each): ``run`` (the default), ``figure``,
``activations``, ``fetch-model``, ``where``, ``make-vgg``, ``make-demo``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .config import (
    CONFIG,
    ENV_HOME,
    ENV_MODEL,
    ENV_SHA256,
    ENV_URL,
    default_model_path,
    model_source,
)

__all__ = ["main", "build_parser"]

PROG = "nst-tf1"

# Exit statuses; a signal gives 128 + its number.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but wrapping only at spaces (paths such as
    models/imagenet-vgg-verydeep-19.mat stay whole) and keeping the epilog's paragraphs."""

    def _wrap(self, text, width, indent=""):
        import textwrap

        return textwrap.wrap(
            self._whitespace_matcher.sub(" ", text).strip(),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )

    def _split_lines(self, text, width):
        return self._wrap(text, width)

    def _fill_text(self, text, width, indent):
        return "\n\n".join(
            "\n".join(self._wrap(paragraph, width, indent)) for paragraph in text.split("\n\n")
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


def _print_answer(text):
    """Print ``text`` on standard output; False when it is closed (``>&-``) or its reader
    has gone (a broken pipe), without a traceback then, at exit either."""
    if sys.stdout is None:  # Python's stdout when the command started without one
        return False
    try:
        print(text, flush=True)
    except (OSError, ValueError):  # EPIPE, EBADF; ValueError: the file object is closed
        # Python flushes stdout again at exit: let that go nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            sys.stdout = None
        finally:
            os.close(devnull)
        return False
    return True


def _note(message):
    """A one-line status message on stderr that is not an error."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _number(kind):
    """An argparse type: text -> ``kind`` (int or float), with a one-line message for
    anything else."""

    def parse(text):
        try:
            return kind(text)
        except ValueError:
            pass
        try:
            float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")

    parse.__name__ = kind.__name__
    return parse


def _check_range(parser, flag, value, least, most):
    """``parser.error`` unless ``least <= value <= most`` (the bounds its --help states)."""
    if not least <= value <= most:
        parser.error(f"argument {flag}: must be a whole number from {least} to {most}, got {value}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the main job; its defaults are :class:`~nst_tf1.settings.Settings`'s,
    the course's ``CONFIG``. Values are checked by ``Settings`` itself."""
    from .images import MAX_INPUT_PIXELS
    from .vgg import MIN_IMAGE_SIDE

    p = _Parser(
        prog=PROG,
        description=(
            "Neural style transfer (Gatys et al. 2015) as in the deeplearning.ai course: "
            "VGG-19 from MatConvNet's .mat file, a TF1 graph and session, Adam on the pixels."
        ),
        epilog=(
            "Other commands: 'nst-tf1 figure --help' (the course's figures from a finished run), "
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
        ),
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _settings_arguments(p)
    p.add_argument(
        "--print-model",
        action="store_true",
        help=(
            "build the graph from --model at --height x --width (and --pooling), pprint the model "
            "dict as the course does (layer -> tensor name, shape, dtype) and exit; needs no "
            "images (so --max-size and --keep-aspect are ignored), runs no optimisation and "
            "never downloads; a size a run could not fit in memory is refused"
        ),
    )
    return p


def _settings_arguments(p):
    """One flag per :class:`~nst_tf1.settings.Settings` field, with the field's default and
    help text; the values are checked when the ``Settings`` is built."""
    import dataclasses

    from .settings import Settings

    beyond = p.add_argument_group(
        "beyond the course",
        (
            "Controls of the best style-transfer tools; the defaults are the course's, and left "
            "at them the run gives the course's numbers (one graph builder serves both)."
        ),
    )
    for field in dataclasses.fields(Settings):
        meta = field.metadata
        default = (
            field.default
            if field.default_factory is dataclasses.MISSING
            else field.default_factory()
        )
        if field.name == "style_layers":
            default = ",".join(f"{name}:{coeff}" for name, coeff in default)
        options = {"default": default, "help": meta["help"], **meta["argparse"]}
        if options.get("action") == "extend":
            # Repeated flags add to the list; argparse would add to the default too, so
            # the default is left to Settings (None means "not given").
            options["default"] = None
        kind = field.type.split(" | ")[0]  # the annotation: "int | None" -> "int"
        value_type = {"int": int, "float": float}.get(kind, meta["item"])
        if kind == "bool":
            options["action"] = "store_true"
        elif value_type is not str:
            options["type"] = _number(value_type)
        (beyond if meta["beyond"] else p).add_argument(
            "--" + field.name.replace("_", "-"), **options
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


class _Printer:
    """Prints the events of :func:`nst_tf1.run.run`: lines, the course's costs, a progress
    bar on stderr (only when it is a terminal) and the download's progress."""

    def __init__(self):
        self.bar = self.fetch = None

    def __call__(self, event):
        from . import run
        from .weights import FetchEvent

        if isinstance(event, run.Message):
            prefix = {"out": "", "note": f"{PROG}: ", "error": f"{PROG}: error: "}[event.kind]
            self._write(prefix + event.text, sys.stdout if event.kind == "out" else sys.stderr)
        elif isinstance(event, run.Costs):
            self._write(_course_lines(event.step), sys.stdout)
        elif isinstance(event, run.Advance):
            self.bar.update(event.count)
            if event.total_cost is not None:
                self.bar.set_postfix(J=f"{event.total_cost:.4g}", refresh=False)
        elif isinstance(event, run.Begin):
            from tqdm import tqdm

            self.bar = tqdm(
                total=event.total,
                desc="style transfer",
                unit="it",
                file=sys.stderr,
                disable=None,
                leave=False,
            )
        elif isinstance(event, run.Download):
            self.fetch = _FetchProgress(event.url, event.dest)
        elif isinstance(event, FetchEvent) and self.fetch is not None:
            self.fetch(event)

    def _write(self, text, stream):
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def close(self):
        for shown in (self.bar, self.fetch):
            if shown is not None:
                shown.close()
        self.bar = self.fetch = None


class _FetchProgress:
    """Shows :class:`~nst_tf1.weights.FetchEvent` values on stderr: a tqdm bar (size, rate,
    ETA) on a terminal, else plain lines at the start and at every further 10%."""

    def __init__(self, url, dest):
        self.url, self.dest = url, dest
        self.terminal = sys.stderr.isatty()
        self.bar, self.next_tenth, self.started = None, 1, None

    def _line(self, text):
        (self.bar.write if self.bar is not None else print)(f"{PROG}: {text}", file=sys.stderr)

    def __call__(self, event):
        import time

        from .weights import format_mib as mib

        if event.kind == "resume":
            self._line(f"resuming {self.dest}.part ({mib(event.done)} from an earlier run)")
        elif event.kind == "start":
            self.started = (time.monotonic(), event.done)
            if self.terminal:
                from tqdm import tqdm

                self.close()
                self.bar = tqdm(
                    total=event.total,
                    initial=event.done,
                    unit="iB",
                    unit_scale=True,
                    unit_divisor=1024,
                    file=sys.stderr,
                    desc=os.path.basename(self.dest),
                    dynamic_ncols=True,
                )
            else:
                size = "unknown size" if event.total is None else mib(event.total)
                at = f", resuming at {mib(event.done)}" if event.done else ""
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
                self._line(
                    f"{100 * event.done // event.total}% ({mib(event.done)} of "
                    f"{mib(event.total)}, {mib(rate)}/s)"
                )
        elif event.kind in ("retry", "done"):
            self.close()  # a stalled bar stays on screen above the retry's message
            if event.kind == "retry":
                self._line(event.message)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _guarded(work):
    """Run ``work()`` and map the package's errors to one line and an exit status."""
    from .errors import InputError, Interrupted, RunFailed
    from .weights import DownloadError

    try:
        return work()
    except Interrupted as exc:
        _note(exc.message or "interrupted")
        return 128 + exc.signum
    except InputError as exc:
        return _error(exc)
    except (RunFailed, DownloadError) as exc:
        return _error(exc, EXIT_FAILURE)


def run_main(argv: Sequence[str], *, program: bool = False) -> int:
    """The main job: parse, run, print; return the exit status.

    ``program``: this process is the command itself (not a caller of :func:`main`); it is
    then started again with glibc's malloc tunables (:mod:`nst_tf1.allocator`) before work.
    """
    from .settings import Settings

    args = build_parser().parse_args(argv)
    print_model = args.print_model
    del args.print_model
    if program and not print_model:
        from .allocator import reexec_with_tunables

        reexec_with_tunables()

    def work():
        settings = Settings(**vars(args))
        if print_model:
            return _print_model(settings)
        from .run import run

        printer = _Printer()
        try:
            run(settings, printer)
        finally:
            printer.close()
        return EXIT_OK

    return _guarded(work)


def _print_model(settings):
    """``--print-model``: the course's ``pprint(model)`` of the graph built from the file."""
    from .graph import import_tensorflow
    from .preflight import check_memory
    from .vgg import describe_model
    from .weights import read_existing_model

    # --keep-aspect and --max-size derive a side from a content image, which is not read here.
    height = settings.height or CONFIG.IMAGE_HEIGHT
    width = settings.width or CONFIG.IMAGE_WIDTH
    for flag in ("--max-size", "--keep-aspect"):
        if getattr(settings, flag[2:].replace("-", "_")):
            _note(
                f"{flag} is ignored by --print-model (no content image is read): "
                f"showing {height}x{width}"
            )
    # The graph of a run at that size: refused where a run would be, before the model is read.
    check_memory(height, width, what=f"a run at {height}x{width}, whose graph --print-model shows,")
    weights = read_existing_model(settings.model)
    import_tensorflow()
    print(describe_model(weights, height, width, settings.pooling))
    return EXIT_OK


def figure_main(argv: Sequence[str]) -> int:
    """``nst-tf1 figure``: the course's figures from a finished run's output directory."""
    from .figures import FIGURES, make_run_figures

    p = _Parser(
        prog=f"{PROG} figure",
        description=(
            "Make the course's figures from a run's output directory (its run.json, saved images "
            "and final image): panel = content + style = generated; strip = the saved images and "
            "the final one by iteration; noise = the content image next to the noisy initial "
            "image (remade from the recorded seed); costs = J, J_content, J_style against the "
            "iteration, log scale (drawn with matplotlib). All but costs need only Pillow. With "
            "no FIGURE named, each figure is skipped with a note where it does not apply (noise, "
            "for a run that did not start from the noisy content image, as a --fast one) or "
            "where matplotlib is missing (costs)."
        ),
    )

    def figure_name(text):
        if text not in FIGURES:
            raise argparse.ArgumentTypeError(
                f"unknown figure {text!r}; choose from {', '.join(FIGURES)}"
            )
        return text

    p.add_argument(
        "figures",
        nargs="*",
        type=figure_name,
        metavar="FIGURE",
        help=f"which figures, from {', '.join(FIGURES)} (default: all that apply)",
    )
    p.add_argument(
        "--run-dir",
        default=CONFIG.OUTPUT_DIR,
        help="the run's output directory, holding run.json, or a batch's: the figures of "
        "every pair (default: %(default)s)",
    )
    p.add_argument(
        "--out-dir",
        default=None,
        help="where <figure>.png go (default: RUN_DIR/figures; for a batch, each pair's "
        "PAIR/figures, or OUT_DIR/PAIR)",
    )
    p.add_argument(
        "--columns",
        type=_number(int),
        default=4,
        help="images per row of the strip, 1..100 (default: %(default)s)",
    )
    p.add_argument(
        "--max-images",
        type=_number(int),
        default=12,
        help="most images in the strip, the final one included; evenly spaced saves "
        "when the run saved more; 1..1000 (default: %(default)s)",
    )
    args = p.parse_args(argv)
    _check_range(p, "--columns", args.columns, 1, 100)
    _check_range(p, "--max-images", args.max_images, 1, 1000)

    def work():
        # None (no figure named): all that apply and that this install can draw, with notes.
        for path, figure in make_run_figures(
            args.run_dir, args.figures or None, args.out_dir, args.columns, args.max_images, _note
        ):
            print(f"Wrote {path} ({figure.width}x{figure.height})")
        return EXIT_OK

    return _guarded(work)


def activations_main(argv: Sequence[str]) -> int:
    """``nst-tf1 activations``: a grid of one layer's activation maps for an image."""
    from .figures import make_activation_figure
    from .vgg import MODEL_KEYS

    p = _Parser(
        prog=f"{PROG} activations",
        description=(
            "Show what a layer of VGG-19 sees: the image goes through the network (resized to "
            "--height x --width and normalised as in a run) and the layer's most active channels "
            "(highest mean activation) are drawn as a grid of maps, each scaled to its own "
            "maximum."
        ),
    )
    add, num = p.add_argument, _number(int)
    add("--image", required=True, help="the input image")
    add(
        "--layer",
        default=CONFIG.CONTENT_LAYER,
        choices=MODEL_KEYS[1:],
        metavar="LAYER",
        help="conv1_1 .. conv5_4 or avgpool1 .. avgpool5 (default: %(default)s, the content layer)",
    )
    add(
        "--channels",
        type=num,
        default=16,
        help="how many maps, 1..512 (VGG-19's widest layer) (default: %(default)s)",
    )
    add(
        "--model",
        default=default_model_path(),
        help="MatConvNet imagenet-vgg-verydeep-19.mat, never downloaded here (default: "
        f"%(default)s; ${ENV_MODEL} sets it)",
    )
    add(
        "--height",
        type=num,
        default=CONFIG.IMAGE_HEIGHT,
        help="height the image is resized to, at least 32 (default: %(default)s)",
    )
    add(
        "--width",
        type=num,
        default=CONFIG.IMAGE_WIDTH,
        help="width the image is resized to, at least 32 (default: %(default)s)",
    )
    add(
        "--output",
        default=None,
        help=f"output PNG (default: OUTPUT_DIR/activations_LAYER.png, OUTPUT_DIR being "
        f"{CONFIG.OUTPUT_DIR})",
    )
    args = p.parse_args(argv)

    def work():
        from .settings import Settings

        Settings(height=args.height, width=args.width)  # the same size checks as a run
        _check_range(p, "--channels", args.channels, 1, 512)
        path, figure, (n_H, n_W, n_C), count = make_activation_figure(
            args.image, args.layer, args.model, args.channels, args.height, args.width, args.output
        )
        print(
            f"Wrote {path} ({figure.width}x{figure.height}): the {count} most active of the "
            f"{n_C} channels of {args.layer}, maps of {n_H}x{n_W}"
        )
        return EXIT_OK

    return _guarded(work)


def make_demo_main(argv: Sequence[str]) -> int:
    """``nst-tf1 make-demo [DIR]``: write the generated demo content/style pair."""
    from .demo import write_demo_images

    p = _Parser(
        prog=f"{PROG} make-demo",
        description=(
            "Write demo_content.jpg (a sky, a sun and a glass pyramid) and demo_style.jpg "
            "(coloured brush strokes), drawn by nst_tf1.demo, into DIR: the pair the main job "
            "uses when no images are given."
        ),
    )
    p.add_argument(
        "directory", nargs="?", default="images", help="where to write them (default: %(default)s)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace demo_content.jpg and demo_style.jpg already there (default: refuse)",
    )
    p.add_argument(
        "--height",
        type=_number(int),
        default=CONFIG.IMAGE_HEIGHT,
        help="height of the images (default: %(default)s)",
    )
    p.add_argument(
        "--width",
        type=_number(int),
        default=CONFIG.IMAGE_WIDTH,
        help="width of the images (default: %(default)s)",
    )
    args = p.parse_args(argv)

    def work():
        from .settings import Settings

        Settings(height=args.height, width=args.width)  # the same size checks as a run
        try:
            paths = write_demo_images(args.directory, args.height, args.width, args.force)
        except OSError as exc:
            return _error(f"{args.directory}: cannot write ({exc.strerror or exc})")
        for path in paths:
            print(f"Wrote {path}")
        return EXIT_OK

    return _guarded(work)


def make_vgg_main(argv: Sequence[str]) -> int:
    """``nst-tf1 make-vgg PATH``: write a synthetic MatConvNet VGG-19 file."""
    from .testing import make_vgg_file

    p = _Parser(
        prog=f"{PROG} make-vgg",
        description=(
            "Write a synthetic MatConvNet VGG-19 .mat: the real file's structure and field names, "
            "random He-initialised weights. For tests and benchmarks; it produces noise, not art."
        ),
    )
    add, num = p.add_argument, _number(int)
    add("path", help="output .mat file")
    add(
        "--layout",
        choices=("new", "old"),
        default="new",
        help="the current MatConvNet layout or the older one (default: %(default)s)",
    )
    add(
        "--width-divisor",
        type=num,
        default=8,
        help="divide every layer's channels by this, 1..64; 1 gives the real widths "
        "(default: %(default)s)",
    )
    add(
        "--fc",
        choices=("tiny", "full"),
        default="tiny",
        help="fully connected layers as tiny placeholders or at full size, which makes the "
        "file as large as the real one (default: %(default)s)",
    )
    add(
        "--seed",
        type=num,
        default=0,
        help="seed of the weights, 0..4294967295 (default: %(default)s)",
    )
    add(
        "--force",
        action="store_true",
        help="replace an existing file at PATH (default: refuse, so that a real VGG-19 file "
        "is never overwritten by a synthetic one)",
    )
    args = p.parse_args(argv)
    _check_range(p, "--width-divisor", args.width_divisor, 1, 64)
    _check_range(p, "--seed", args.seed, 0, 2**32 - 1)

    def work():
        try:
            make_vgg_file(
                args.path,
                layout=args.layout,
                width_divisor=args.width_divisor,
                fc=args.fc,
                seed=args.seed,
                overwrite=args.force,
            )
        except OSError as exc:
            return _error(f"{args.path}: cannot write ({exc.strerror or exc})")
        print(
            f"Wrote {args.path} ({os.path.getsize(args.path) / 1e6:.1f} MB, layout "
            f"{args.layout}, width divisor {args.width_divisor}, fc {args.fc})"
        )
        return EXIT_OK

    return _guarded(work)


def fetch_model_main(argv: Sequence[str]) -> int:
    """``nst-tf1 fetch-model``: download, verify and put the VGG-19 file in place."""
    from . import weights

    url, sha256 = model_source()
    p = _Parser(
        prog=f"{PROG} fetch-model",
        description=(
            "Download MatConvNet's imagenet-vgg-verydeep-19.mat (510 MB) to --dest: streamed to "
            "DEST.part with a progress bar, resumed with an HTTP Range request after an "
            "interruption, checked against --sha256, then renamed into place. An existing DEST is "
            "never overwritten."
        ),
        epilog=(
            f"Environment: ${ENV_MODEL} sets the default --dest (else {CONFIG.VGG_MODEL} if it "
            f"exists here, else the per-user cache, moved by ${ENV_HOME}; 'nst-tf1 where' shows "
            f"it), ${ENV_URL} and ${ENV_SHA256} the default --url and --sha256. Exit status: 0 "
            "when the file is in place, 1 when the download failed (as for the main job's own "
            "download), 2 for bad arguments or when another process is downloading to DEST."
        ),
    )
    add, flt = p.add_argument, _number(float)
    add("--dest", default=default_model_path(), help="where the file goes (default: %(default)s)")
    add(
        "--url", default=url, help="where to download it from, e.g. a mirror (default: %(default)s)"
    )
    add(
        "--sha256",
        default=sha256,
        help="expected SHA256 of the file (default: %(default)s, MatConvNet's current file)",
    )
    add(
        "--retries",
        type=_number(int),
        default=weights.DEFAULT_RETRIES,
        help="further attempts after a connection failure, a timeout or an HTTP 5xx, "
        f"0..{weights.MAX_RETRIES} (default: %(default)s)",
    )
    add(
        "--backoff",
        type=flt,
        default=weights.DEFAULT_BACKOFF,
        help="seconds before the first retry, doubled before each further one (at most "
        f"{weights.MAX_BACKOFF:g}) (default: %(default)s)",
    )
    add(
        "--connect-timeout",
        type=flt,
        default=weights.DEFAULT_CONNECT_TIMEOUT,
        help=f"seconds allowed to connect, at most {weights.MAX_TIMEOUT:g} (default: %(default)s)",
    )
    add(
        "--read-timeout",
        type=flt,
        default=weights.DEFAULT_READ_TIMEOUT,
        help=f"seconds allowed without receiving data, at most {weights.MAX_TIMEOUT:g} "
        "(default: %(default)s)",
    )
    args = p.parse_args(argv)

    def work():
        options = weights.check_fetch_options(**vars(args))
        progress = _FetchProgress(args.url, args.dest)
        try:  # SIGINT/SIGTERM: weights.Interrupted, a note saying what was kept
            placed = weights.place_model(report=progress, **options)
        finally:
            progress.close()
        size, digests = weights.format_mib(placed.digests.size), placed.digests
        if not placed.downloaded:
            what = (
                f"the {placed.layout} MatConvNet layout"
                if placed.layout
                else "SHA256 matches --sha256"
            )
            print(f"{args.dest} is already in place ({size}, {what}); nothing to download")
        else:
            print(
                f"Saved {args.dest} ({size}; SHA256 {digests.sha256} verified; MD5 {digests.md5})"
            )
        return EXIT_OK

    return _guarded(work)


def where_main(argv: Sequence[str]) -> int:
    """``nst-tf1 where``: where the VGG-19 file is, or will go."""
    from .config import cache_dir, model_location
    from .weights import format_mib

    p = _Parser(
        prog=f"{PROG} where",
        description=(
            "Print the path of the VGG-19 file the main job and fetch-model use by default, alone "
            "on standard output, and on standard error whether the file is there and why that "
            f"path: ${ENV_MODEL} when set; else {CONFIG.VGG_MODEL} when it exists in the current "
            "folder; else the per-user cache, shared by every folder "
            f"(${ENV_HOME}, or the platform's user cache folder). --model overrides all of them."
        ),
    )
    p.parse_args(argv)
    location = model_location()
    why = {
        "env": f"set by ${ENV_MODEL}",
        "local": f"found in this folder; the per-user cache is {cache_dir()}",
        "cache": f"the per-user cache (${ENV_HOME} moves it)",
    }[location.source]
    if os.path.isfile(location.path):
        state = f"present ({format_mib(os.path.getsize(location.path))})"
    else:
        state = "not there yet: 'nst-tf1 fetch-model' (or the first run) downloads it"
    if not _print_answer(location.path):
        return _error("standard output is closed: the path was not printed", EXIT_FAILURE)
    _note(f"{state}; {why}")
    return EXIT_OK


#: Subcommand name -> function taking the remaining arguments and returning an exit status.
SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "run": run_main,
    "figure": figure_main,
    "activations": activations_main,
    "fetch-model": fetch_model_main,
    "where": where_main,
    "make-vgg": make_vgg_main,
    "make-demo": make_demo_main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``run_nst.py``, ``python -m nst_tf1`` and the ``nst-tf1`` script.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        int: the exit status.
    """
    program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    return run_main(argv, program=program)
