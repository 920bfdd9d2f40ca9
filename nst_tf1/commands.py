"""The subcommands beside the main job: ``figure``, ``activations``, ``make-demo``,
``make-vgg``, ``fetch-model`` and ``where`` (``nst-tf1 SUBCOMMAND --help`` for each). Each
parses its arguments, calls the module it drives, prints and returns an exit status; the main
job is :mod:`nst_tf1.cli`'s.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from .config import (
    CONFIG,
    ENV_HOME,
    ENV_MODEL,
    ENV_SHA256,
    ENV_URL,
    default_model_path,
    model_source,
)
from .console import (
    EXIT_FAILURE,
    EXIT_OK,
    PROG,
    FetchProgress,
    Parser,
    check_range,
    error,
    guarded,
    note,
    number,
    print_answer,
    sigterm_interrupts,
)

__all__ = [
    "figure_main",
    "activations_main",
    "make_demo_main",
    "make_vgg_main",
    "fetch_model_main",
    "where_main",
]


def _figure_parser() -> Parser:
    """The arguments of ``figure_main``."""
    from .figures import FIGURES

    p = Parser(
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
        type=number(int),
        default=4,
        help="images per row of the strip, 1..100 (default: %(default)s)",
    )
    p.add_argument(
        "--max-images",
        type=number(int),
        default=12,
        help="most images in the strip, the final one included; evenly spaced saves "
        "when the run saved more; 1..1000 (default: %(default)s)",
    )
    return p


def figure_main(argv: Sequence[str]) -> int:
    """``nst-tf1 figure``: the course's figures from a finished run's output directory."""
    from .figure_files import make_run_figures

    p = _figure_parser()
    args = p.parse_args(argv)
    check_range(p, "--columns", args.columns, 1, 100)
    check_range(p, "--max-images", args.max_images, 1, 1000)

    def work():
        # None (no figure named): all that apply and that this install can draw, with notes.
        for path, figure in make_run_figures(
            args.run_dir, args.figures or None, args.out_dir, args.columns, args.max_images, note
        ):
            print(f"Wrote {path} ({figure.width}x{figure.height})")
        return EXIT_OK

    return guarded(work)


def _activations_parser() -> Parser:
    """The arguments of ``activations_main``."""
    from .vgg import MODEL_KEYS

    p = Parser(
        prog=f"{PROG} activations",
        description=(
            "Show what a layer of VGG-19 sees: the image goes through the network (resized to "
            "--height x --width and normalised as in a run) and the layer's most active channels "
            "(highest mean activation) are drawn as a grid of maps, each scaled to its own "
            "maximum."
        ),
    )
    add, num = p.add_argument, number(int)
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
    return p


def activations_main(argv: Sequence[str]) -> int:
    """``nst-tf1 activations``: a grid of one layer's activation maps for an image."""
    from .figure_files import make_activation_figure

    p = _activations_parser()
    args = p.parse_args(argv)

    def work():
        from .process import import_tensorflow
        from .settings import Settings

        Settings(height=args.height, width=args.width)  # the same size checks as a run
        check_range(p, "--channels", args.channels, 1, 512)
        import_tensorflow()  # quietly, before the figure's graph
        path, figure, (n_H, n_W, n_C), count = make_activation_figure(
            args.image, args.layer, args.model, args.channels, args.height, args.width, args.output
        )
        print(
            f"Wrote {path} ({figure.width}x{figure.height}): the {count} most active of the "
            f"{n_C} channels of {args.layer}, maps of {n_H}x{n_W}"
        )
        return EXIT_OK

    return guarded(work)


def make_demo_main(argv: Sequence[str]) -> int:
    """``nst-tf1 make-demo [DIR]``: write the generated demo content/style pair."""
    from .demo import write_demo_images

    p = Parser(
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
        type=number(int),
        default=CONFIG.IMAGE_HEIGHT,
        help="height of the images (default: %(default)s)",
    )
    p.add_argument(
        "--width",
        type=number(int),
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
            return error(f"{args.directory}: cannot write ({exc.strerror or exc})")
        for path in paths:
            print(f"Wrote {path}")
        return EXIT_OK

    return guarded(work)


def _make_vgg_parser() -> Parser:
    """The arguments of ``make_vgg_main``."""
    p = Parser(
        prog=f"{PROG} make-vgg",
        description=(
            "Write a synthetic MatConvNet VGG-19 .mat: the real file's structure and field names, "
            "random He-initialised weights. For tests and benchmarks; it produces noise, not art."
        ),
    )
    add, num = p.add_argument, number(int)
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
    return p


def make_vgg_main(argv: Sequence[str]) -> int:
    """``nst-tf1 make-vgg PATH``: write a synthetic MatConvNet VGG-19 file."""
    from .testing import make_vgg_file

    p = _make_vgg_parser()
    args = p.parse_args(argv)
    check_range(p, "--width-divisor", args.width_divisor, 1, 64)
    check_range(p, "--seed", args.seed, 0, 2**32 - 1)

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
            return error(f"{args.path}: cannot write ({exc.strerror or exc})")
        print(
            f"Wrote {args.path} ({os.path.getsize(args.path) / 1e6:.1f} MB, layout "
            f"{args.layout}, width divisor {args.width_divisor}, fc {args.fc})"
        )
        return EXIT_OK

    return guarded(work)


def _fetch_model_parser() -> Parser:
    """The arguments of ``fetch_model_main``."""
    from . import weights

    url, sha256 = model_source()
    p = Parser(
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
    add, flt = p.add_argument, number(float)
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
        type=number(int),
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
    return p


def fetch_model_main(argv: Sequence[str]) -> int:
    """``nst-tf1 fetch-model``: download, verify and put the VGG-19 file in place."""
    from . import model_file

    url, sha256 = model_source()
    p = _fetch_model_parser()
    args = p.parse_args(argv)

    def work():
        options = model_file.check_fetch_options(**vars(args))
        progress = FetchProgress(args.url, args.dest)
        try:  # SIGINT/SIGTERM: weights.Interrupted, a note saying what was kept
            with sigterm_interrupts():
                placed = model_file.place_model(report=progress, **options)
        finally:
            progress.close()
        size, digests = model_file.format_mib(placed.digests.size), placed.digests
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

    return guarded(work)


def where_main(argv: Sequence[str]) -> int:
    """``nst-tf1 where``: where the VGG-19 file is, or will go."""
    from .config import cache_dir, model_location
    from .conv_cache import current_copy
    from .model_file import format_mib

    p = Parser(
        prog=f"{PROG} where",
        description=(
            "Print the path of the VGG-19 file the main job and fetch-model use by default, alone "
            "on standard output, and on standard error whether the file is there and why that "
            f"path: ${ENV_MODEL} when set; else {CONFIG.VGG_MODEL} when it exists in the current "
            "folder; else the per-user cache, shared by every folder "
            f"(${ENV_HOME}, or the platform's user cache folder). --model overrides all of them. "
            "When a run has kept a copy of the file's convolutions (a compressed file's, read "
            "faster), standard error names it too."
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
        copy = current_copy(location.path)
        if copy is not None:
            state += f"; runs read the copy of its convolutions, {copy}"
    elif os.path.exists(location.path):
        kind = "a folder" if os.path.isdir(location.path) else "not a regular file"
        state = f"{kind}, not the .mat file: runs refuse it"
    else:
        state = "not there yet: 'nst-tf1 fetch-model' (or the first run) downloads it"
    if not print_answer(location.path):
        return error(
            "standard output cannot be written (closed, full, or its reader gone): the path "
            "was not printed",
            EXIT_FAILURE,
        )
    note(f"{state}; {why}")
    return EXIT_OK
