"""Planning a run: :class:`~nst_tf1.settings.Settings` -> the jobs, with every check that
needs neither the model nor TensorFlow.

A job is one content image with its style images, its size and its output folder; a batch
(a content or style folder) is many. :func:`make_plan` reads image headers (and, for one
pair, decodes both images, as the course does before it reads the model), checks the sizes
against the network's minimum side and the memory, and the output folder's free space,
before the 500 MB model is read. A batch leaves out of the folders it lists the files it
writes itself (:func:`without_own_outputs`). Nothing here writes or imports TensorFlow.
"""

from __future__ import annotations

import collections
import os

from .contact_sheet import PNG_FILE
from .errors import InputError
from .images import (
    ImageInputError,
    image_size,
    list_images,
    load_image,
    size_for_aspect,
    size_for_max_side,
)
from .outputs import STEP_IMAGE, UNFINISHED_DIR
from .preflight import (
    FINAL_IMAGE,
    FINAL_PNG,
    PreflightError,
    check_memory,
    check_output_dir,
    run_signature,
)
from .settings import INIT_MODES, MAX_SIDE, Settings, check_style_weights
from .vgg import MIN_IMAGE_SIDE

__all__ = [
    "Job",
    "Plan",
    "STRETCH_TOLERANCE",
    "Stretched",
    "check_size",
    "make_plan",
    "stretched",
    "style_sets",
    "output_steps",
    "steps_per_job",
    "scale_sizes",
    "style_size",
    "without_own_outputs",
]

Job = collections.namedtuple("Job", "size content styles out")
Job.__doc__ = """One content image with its style images: (height, width), paths, output dir."""

Plan = collections.namedtuple("Plan", "jobs images signature stretched")
Plan.__doc__ = """What :func:`make_plan` found: the :class:`Job` list (ordered by size), the
decoded content image of a single pair (path -> array; empty for a batch), the single
pair's :func:`~nst_tf1.preflight.run_signature` (``None`` for a batch) and the
:class:`Stretched` content images (no size option given and another shape than the run's)."""

Stretched = collections.namedtuple("Stretched", "path height width to_height to_width")
Stretched.__doc__ = """A content image of ``height`` x ``width`` pixels that the run resizes
to ``to_height`` x ``to_width``, changing its aspect ratio by more than
:data:`STRETCH_TOLERANCE`."""

#: Relative change of a content image's aspect ratio (width / height) from which the run
#: says that it stretches the image: 3%, beyond the rounding of any 300x400-like size.
STRETCH_TOLERANCE = 0.03


def make_plan(settings: Settings) -> Plan:
    """The jobs of ``settings``, every image, size and the output folder checked.

    Raises:
        InputError: bad input (an image, a size, the output folder, two pairs of a batch
            writing into one folder).
    """
    s = settings
    batch = s.batch()
    images = {}
    try:
        contents = list_images(s.content) if os.path.isdir(s.content) else [s.content]
        sets = style_sets(s)
        if batch:
            contents, sets = without_own_outputs(s, contents, sets)
        sizes = {path: _size_for(s, path) for path in contents}
        if batch:
            for path in {p for styles in sets for p in styles}:
                image_size(path)
        else:  # one pair: decode both now, as the course does before the model
            images = {path: load_image(path, *sizes[path]) for path in contents}
            for path in sets[0]:
                if s.style_scale == 1:
                    load_image(path, *sizes[contents[0]])
                else:
                    image_size(path)
        if s.init not in INIT_MODES:
            image_size(s.init)
        n_images = len(range(0, output_steps(s), s.save_every)) + 1
        largest = max(sizes.values(), key=lambda size: size[0] * size[1])
        check_output_dir(s.output_dir, *largest, n_images * len(contents) * len(sets))
        jobs = _jobs(s, contents, sets, sizes, batch)
        signature = None if batch else run_signature(contents[0], sets[0])
        shapes = [] if s.size_given else [stretched(path, *sizes[path]) for path in contents]
    except OSError as exc:  # an image vanished or became unreadable after its header
        raise InputError(f"{exc.filename}: cannot read ({exc.strerror or exc})") from None
    return Plan(jobs, images, signature, [shape for shape in shapes if shape is not None])


def stretched(path: str, height: int, width: int) -> Stretched | None:
    """A :class:`Stretched` when resizing the image at ``path`` to ``height`` x ``width``
    changes its aspect ratio by more than :data:`STRETCH_TOLERANCE`, else ``None``."""
    src_height, src_width = image_size(path)
    change = (width / height) / (src_width / src_height)
    if abs(change - 1) <= STRETCH_TOLERANCE:
        return None
    return Stretched(path, src_height, src_width, height, width)


def style_sets(settings: Settings) -> list[list[str]]:
    """The style images of each run: all styles blended, or one run per style file."""
    s = settings
    if any(os.path.isdir(style) for style in s.style):
        if s.style_weights is not None:
            raise InputError(
                "--style-weights blends style files; it cannot be used with a "
                "style directory (one run per style)"
            )
        return [
            [path]
            for style in s.style
            for path in (list_images(style) if os.path.isdir(style) else [style])
        ]
    if s.style_weights is not None:
        check_style_weights(s.style_weights, len(s.style))
    return [list(s.style)]


def output_steps(settings: Settings) -> int:
    """Optimisation steps at the output size: ``iterations``, and with L-BFGS the detail
    phase's ``detail_iterations`` before them."""
    detail = settings.detail_iterations if settings.optimizer == "lbfgs" else 0
    return settings.iterations + detail


def steps_per_job(settings: Settings) -> int:
    """Optimisation steps of one pair: every scale's budget (a progress bar's share)."""
    coarse = settings.coarse_iterations or settings.iterations
    return (settings.multires - 1) * coarse + output_steps(settings)


def scale_sizes(height: int, width: int, scales: int) -> list[tuple[int, int]]:
    """Sizes of the K coarse-to-fine scales: (height, width) / 2^(K-k) for k = 1..K."""
    return [
        (max(1, round(height / 2 ** (scales - k))), max(1, round(width / 2 ** (scales - k))))
        for k in range(1, scales + 1)
    ]


def style_size(height: int, width: int, style_scale: float) -> tuple[int, int]:
    """The size the style image is resized to for a (height, width) generated image."""
    return max(1, round(height * style_scale)), max(1, round(width * style_scale))


def without_own_outputs(
    settings: Settings, contents: list[str], style_sets: list[list[str]]
) -> tuple[list[str], list[list[str]]]:
    """A batch's contents and style sets without the files the batch writes itself.

    A content or style folder that is the output folder, or inside it, can list what the
    batch writes there: its contact sheet ``OUTPUT_DIR/contact_sheet.png``, and in each of
    its pair folders (and their ``unfinished/``) the pair's ``<i>.png``,
    ``generated_image.png`` and ``generated_image.jpg``. Run again, the batch took them for
    inputs of new pairs. Those paths are left out of what the folders list, compared by what
    they name (:func:`os.path.realpath`): a file of that name anywhere else, another file in
    a pair folder, and a file given by its own path (not through a folder) stay.

    Raises:
        ImageInputError: a content or style folder holds no image file but those.
    """
    listed = {d: list_images(d) for d in (settings.content, *settings.style) if os.path.isdir(d)}
    candidates = {path for paths in listed.values() for path in paths}
    sheet = os.path.realpath(os.path.join(settings.output_dir, PNG_FILE))
    left_out: set[str] = set()
    while True:  # leaving files out can change the labels, and so the pair folders
        pairs = {os.path.realpath(out) for out in _pair_folders(settings, contents, style_sets)}
        own = {path for path in candidates if _own_output(os.path.realpath(path), sheet, pairs)}
        if own <= left_out:
            break
        left_out |= own
        contents = [path for path in contents if path not in own]
        style_sets = [styles for styles in style_sets if own.isdisjoint(styles)]
    for folder, paths in listed.items():
        if left_out.issuperset(paths):
            raise ImageInputError(
                f"{folder}: no image files besides the ones this batch writes into "
                f"{settings.output_dir} (its {PNG_FILE}, its pairs' images)"
            )
    return contents, style_sets


def _own_output(path, sheet, pairs):
    """Whether the real path ``path`` is the batch's contact sheet ``sheet`` or an image a
    pair writes into its folder, one of ``pairs`` (real paths), or its ``unfinished/``."""
    if path == sheet:
        return True
    folder, name = os.path.split(path)
    if os.path.basename(folder) == UNFINISHED_DIR:
        folder = os.path.dirname(folder)
    written = name in (FINAL_PNG, FINAL_IMAGE) or STEP_IMAGE.fullmatch(name) is not None
    return folder in pairs and written


def _pair_folders(settings, contents, style_sets):
    """The output folder of every pair of a batch: each content with each style set, in turn."""
    content_labels = _labels(contents)
    style_labels = _labels(sorted({p for styles in style_sets for p in styles}))
    return [
        os.path.join(
            settings.output_dir,
            f"{content_labels[path]}__{'+'.join(style_labels[s] for s in styles)}",
        )
        for path in contents
        for styles in style_sets
    ]


def _jobs(settings, contents, style_sets, sizes, batch):
    """Every (content, styles) pair as a :class:`Job`, ordered by size so that runs of one
    size are consecutive (each size's graph is built once).

    Raises:
        InputError: two pairs of a batch would write into one folder.
    """
    batch_folders = iter(_pair_folders(settings, contents, style_sets))
    jobs, folders = [], {}
    for path in contents:
        for styles in style_sets:
            out = settings.output_dir
            if batch:
                out = next(batch_folders)
                pair = f"{path} + {' + '.join(styles)}"
                if out in folders:
                    raise InputError(
                        f"{folders[out]} and {pair} would both write into {out}; "
                        "rename one of the files"
                    )
                folders[out] = pair
            jobs.append(Job(sizes[path], path, list(styles), out))
    jobs.sort(key=lambda job: job.size)  # stable
    return jobs


def _labels(paths):
    """Short names of image files for output directories: the stem (``x`` of ``x.jpg``), or
    the whole file name where the stem is another file's stem or name (``x.jpg``, ``x.png``
    and ``x_jpg.bmp`` give ``x.jpg``, ``x.png`` and ``x_jpg``). File names in one folder
    differ, so the labels of one folder's files do too; :func:`_jobs` refuses the rest."""
    names = [os.path.basename(path) for path in paths]
    stems = [os.path.splitext(name)[0] for name in names]
    return {
        path: stem if stems.count(stem) == 1 and stem not in names else name
        for path, name, stem in zip(paths, names, stems)
    }


def _size_for(settings, path):
    """(height, width) of the run for content image ``path``: --max-size or --keep-aspect
    derive it from the image's aspect ratio, else --height/--width; checked against the
    network's minimum side and the available memory, at every --multires scale and for the
    style image's --style-scale size too."""
    s = settings
    if s.max_size or s.keep_aspect:
        src = image_size(path)
        if s.max_size:
            height, width = size_for_max_side(*src, s.max_size)
            how = f"--max-size {s.max_size}"
        else:
            height, width = size_for_aspect(*src, s.height, s.width)
            how = "keeping its aspect ratio"
        if min(height, width) < MIN_IMAGE_SIDE:
            raise ImageInputError(
                f"{path}: {how} turns its {src[1]}x{src[0]} (width x height) into {width}x"
                f"{height}; each side must be at least {MIN_IMAGE_SIDE} pixels"
            )
        if max(height, width) > MAX_SIDE:  # as --height and --width are (and JPEG's 65,500)
            raise ImageInputError(
                f"{path}: {how} turns its {src[1]}x{src[0]} (width x height) into {width}x"
                f"{height}; each side must be at most {MAX_SIDE} pixels ({_fitting(s, src)})"
            )
    else:
        height, width = s.height, s.width
    check_size(s, height, width)
    return height, width


def _fitting(settings, src):
    """What --keep-aspect's given side would keep the other within MAX_SIDE for an image of
    ``src`` (height, width), or that none would."""
    flag, given, other = ("--height", *src) if settings.height else ("--width", *src[::-1])
    largest = MAX_SIDE * given // other
    if largest < MIN_IMAGE_SIDE:
        return f"no size of {MIN_IMAGE_SIDE}..{MAX_SIDE} pixels a side keeps this aspect ratio"
    return f"{flag} {largest} or less keeps it"


def check_size(settings: Settings, height: int, width: int) -> None:
    """Check a run's ``height`` x ``width`` against the network's minimum side and the
    available memory, at every --multires scale and for the style image's --style-scale
    size too (no image needed: the page's form checks its explicit size with it).

    Raises:
        PreflightError: a size too small or too large, with the option to change.
    """
    s = settings
    check_memory(height, width)
    # The sizes the run builds graphs for: each scale, and the style image at each scale.
    scales = scale_sizes(height, width, s.multires)
    styles = [style_size(h, w, s.style_scale) for h, w in scales]
    # --fast chose --multires where the user did not give it: say so, and how to do without.
    fast = (
        " (--fast's --multires; --multires 1 runs one scale)"
        if "multires" in s.chosen_by_fast
        else ""
    )
    for what, (h, w), hint in (
        ("--multires coarsest scale", scales[0], fast),
        ("--style-scale style image", styles[0], ""),
    ):
        if min(h, w) < MIN_IMAGE_SIDE:
            raise PreflightError(
                f"{what} would be {h}x{w} (height x width) for a {height}x{width} output; "
                f"each side must be at least {MIN_IMAGE_SIDE} pixels{hint}"
            )
    if s.style_scale > 1:
        h, w = styles[-1]
        check_memory(h, w, what=f"--style-scale {s.style_scale:g} (a {h}x{w} style image)")
