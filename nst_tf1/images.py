"""Image files in and out: decode, convert, resize, normalise, add noise, save atomically.

Arrays the network sees are float32 (1, height, width, 3), RGB, with ``CONFIG.MEANS``
subtracted; :func:`save_image` undoes that.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time

import numpy as np

from .config import CONFIG
from .errors import InputError

__all__ = [
    "ImageInputError",
    "MAX_INPUT_PIXELS",
    "load_image",
    "reshape_and_normalize_image",
    "generate_noise_image",
    "save_image",
    "write_atomically",
    "is_temporary",
    "remove_temporaries",
    "IMAGE_EXTENSIONS",
    "JPEG_QUALITY",
    "image_size",
    "size_for_aspect",
    "size_for_max_side",
    "list_images",
    "resize_array",
    "read_comment",
    "to_uint8",
]

#: JPEG quality of saved images. Pillow's default (75) smears the fine texture the style's
#: Gram matrices measure: on the trained stand-in model, the course run's final image costs
#: 2.5x its optimised cost once saved at 75 (see benchmarks/README.md); the lossless PNG
#: beside it keeps every pixel.
JPEG_QUALITY = 95

#: File name endings :func:`list_images` takes as images (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageInputError(InputError):
    """An input image cannot be used; the message names the file and the problem."""


#: Largest input image accepted, in pixels (width x height of the file, e.g. 10000 x 10000).
#: Checked on the header, before any pixel is decoded: a small compressed file can declare
#: a huge image (a "decompression bomb"), and decoding 100 million RGB pixels already takes
#: 300 MB. Pillow's own guard (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 million, an error
#: at twice that) stays in force as well.
MAX_INPUT_PIXELS = 100_000_000

# EXIF orientations that turn the image by a quarter: its upright width is the stored height.
_QUARTER_TURNS = (5, 6, 7, 8)


def _one_line(text, limit=200):
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_image(
    path: str | os.PathLike[str],
    height: int | None = CONFIG.IMAGE_HEIGHT,
    width: int | None = CONFIG.IMAGE_WIDTH,
) -> np.ndarray:
    """Read an image file as (height, width, 3) float32 RGB in 0..255.

    What is accepted and how it is converted:

    * any format Pillow reads (JPEG, PNG, GIF, BMP, TIFF, WebP, ...); of an animation or a
      multi-page file, the first frame;
    * EXIF orientation is honoured (a phone portrait comes out upright);
    * grayscale (L, 1-bit) is repeated on three channels; palette images are expanded;
      CMYK, YCbCr, LAB and HSV are converted to RGB by Pillow;
    * 16-bit images (PNG ``I;16``) are scaled to 0..255 (value * 255 / 65535); 32-bit
      integer or float images are used as they are when they lie in 0..255, multiplied by
      255 when they lie in 0..1, else stretched linearly from their min..max to 0..255;
    * transparency (RGBA, LA, palette or single-colour tRNS) is composited on white, so
      transparent areas become white rather than black;
    * the image is resized (bicubic) to exactly height x width, as the course's images are
      prepared to 300 x 400 before the assignment. With ``height`` or ``width`` ``None``, that
      side follows the image's aspect ratio (after orientation), rounded to whole pixels.

    Refused (``ImageInputError``): a missing path, a directory or other non-regular file, an
    empty file, a file Pillow cannot identify, truncated or corrupt data, an image with more
    than :data:`MAX_INPUT_PIXELS` pixels (checked before decoding). The size the network
    sees must have sides of at least :data:`nst_tf1.vgg.MIN_IMAGE_SIDE` pixels; the command
    line checks that (``height``/``width`` here are taken as given).

    Args:
        path: image file.
        height, width: output size; at most one may be ``None`` (see above).

    Returns:
        np.ndarray: (height, width, 3) float32, values in 0..255.

    Raises:
        ImageInputError: the message names the file and the problem, on one line.
    """
    path = os.fspath(path)
    if height is None and width is None:
        raise ValueError("load_image: give height or width (or both)")
    return _open_checked(path, lambda path, img: _decode(path, img, height, width))


def _open_checked(path, use):
    """Open ``path`` with Pillow after the file checks, call ``use(path, img)``, and turn
    every failure into an :class:`ImageInputError` naming the file (one line)."""
    import stat
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageInputError(f"{path}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageInputError(f"{path}: not a regular file")
    if info.st_size == 0:
        raise ImageInputError(f"{path}: empty file (0 bytes)")

    try:
        with warnings.catch_warnings():
            # Pillow warns above its own pixel limit (the explicit check decides) and about
            # damaged metadata such as corrupt EXIF (the pixels may still be fine; bad pixel
            # data raises): neither warning may reach the user's terminal.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as img:
                return use(path, img)
    except ImageInputError:
        raise
    except Image.DecompressionBombError as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageInputError(
            _too_many_pixels(path, int(match.group(1)) if match else None)
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError(
            f"{path}: not an image file (Pillow cannot identify its format)"
        ) from None
    except MemoryError:
        raise ImageInputError(f"{path}: not enough memory to decode this image") from None
    except OSError as exc:
        if exc.errno is not None:  # the file system, not the image data
            raise ImageInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
        raise ImageInputError(
            f"{path}: truncated or corrupt image data ({_one_line(exc)})"
        ) from None
    except Exception as exc:
        # Pillow's decoders report bad data as SyntaxError, ValueError, struct.error,
        # IndexError, EOFError, ... depending on the format: all mean corrupt data.
        raise ImageInputError(
            f"{path}: truncated or corrupt image data ({type(exc).__name__}: {_one_line(exc)})"
        ) from None


def _checked_size(path, img, upright=False):
    """(width, height) from the header of an open image, after the pixel limit is checked;
    with ``upright``, (height, width) with EXIF orientation applied (5..8 swap the sides)."""
    # Image.open reads only the header: the size is known, no pixel is decoded yet.
    src_width, src_height = img.size
    if src_width * src_height > MAX_INPUT_PIXELS:
        raise ImageInputError(_too_many_pixels(path, src_width * src_height))
    if min(src_width, src_height) < 1:
        raise ImageInputError(f"{path}: image is {src_width}x{src_height} pixels: empty")
    if not upright:
        return src_width, src_height
    if _orientation(img) in _QUARTER_TURNS:
        src_width, src_height = src_height, src_width
    return src_height, src_width


def _decode(path, img, height, width):
    """Size checks, decoding, orientation, colour conversion and resizing of an open image."""
    from PIL import Image

    _checked_size(path, img)
    if img.format == "JPEG":
        _check_jpeg_length(path, img.size)
    sixteen_bit = _is_16_bit(img)
    img.load()  # decodes; truncated or corrupt data fails here
    img = _upright(img)
    img = _to_rgb(img, sixteen_bit)
    height, width = _output_size(path, img.size, height, width)
    img = img.resize((width, height), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def _check_jpeg_length(path, size):
    """Refuse a JPEG far shorter than its header's size allows.

    libjpeg decodes a file whose data stops early (but ends with an end-of-image marker) as
    a gray image and only warns, which Pillow does not pass on; so a header saying
    9999x9999 followed by a few bytes would be "read". Huffman coding (baseline and
    progressive, what cameras and editors write) spends at least one bit on every 8x8 block
    of the full-resolution component, which bounds the file's length from below.
    Arithmetic-coded files (rare) have no such bound and are left to the decoder.
    """
    width, height = size
    needed = (-(-width // 8) * -(-height // 8)) // 8
    length = os.path.getsize(path)
    if length < needed and not _jpeg_is_arithmetic(path):
        raise ImageInputError(
            f"{path}: truncated or corrupt image data (its header says {width}x{height} "
            f"pixels, which take at least {needed:,} bytes of JPEG data; the file has "
            f"{length:,} bytes)"
        )


def _jpeg_is_arithmetic(path):
    """Whether a JPEG's frame header (SOF9..SOF15) says arithmetic coding."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    i = 2  # after SOI
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in (0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            return True
        elif marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xDA):
            return False  # a Huffman frame, or the scan started
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return False


def _too_many_pixels(path, pixels):
    size = f"{pixels:,} pixels" if pixels else "too many pixels"
    return (
        f"{path}: image has {size}, above the limit of {MAX_INPUT_PIXELS:,} "
        "(possible decompression bomb); downscale it first"
    )


def _output_size(path, size, height, width):
    """(height, width) of the output; a ``None`` side follows the aspect ratio of ``size``."""
    src_width, src_height = size
    return size_for_aspect(src_height, src_width, height, width)


def size_for_aspect(
    src_height: int, src_width: int, height: int | None = None, width: int | None = None
) -> tuple[int, int]:
    """Complete (height, width) from the source's aspect ratio: the side given as ``None``
    is ``round(other side * source ratio)``, at least 1. Both given: returned as they are.

    Returns:
        (height, width): ints.
    """
    if height is None and width is None:
        raise ValueError("size_for_aspect: give height or width")
    if height is None:
        height = max(1, round(width * src_height / src_width))
    elif width is None:
        width = max(1, round(height * src_width / src_height))
    return int(height), int(width)


def _is_16_bit(img):
    """Whether the undecoded image stores 16-bit samples (decided from the header)."""
    if img.mode.startswith("I;16"):
        return True
    # Older Pillow opens 16-bit grayscale PNG as mode "I" with raw mode "I;16B".
    tile = getattr(img, "tile", None) or ()
    for t in tile:
        args = t[3] if len(t) > 3 else None
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and rawmode.startswith("I;16"):
            return True
    return False


def _orientation(img):
    """EXIF orientation 1..8 of an open image, read from the header without decoding (as
    Pillow reads it: the EXIF tag, else XMP's); 1 (upright) when absent or unreadable."""
    from PIL import ExifTags

    try:
        return int(img.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # corrupt EXIF must not make a good image unusable
        return 1


def _upright(img):
    """Turn a decoded image upright by its EXIF orientation, with Pillow's
    ``ImageOps.exif_transpose`` (in place); an unreadable EXIF block means "already upright"."""
    from PIL import ImageOps

    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:  # corrupt EXIF must not make a good image unusable
        pass
    return img


def _to_rgb(img, sixteen_bit=False):
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    from PIL import Image

    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = Image.fromarray(_scale_to_8_bit(np.asarray(img), sixteen_bit), "L")
    if img.mode in ("P", "L", "RGB") and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        try:
            rgba = img.convert("RGBA")
        except ValueError:
            rgba = img.convert("LA" if img.mode == "La" else "RGBa").convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def _scale_to_8_bit(a, sixteen_bit):
    """One channel of 16-bit, 32-bit integer or float samples as uint8 0..255."""
    if sixteen_bit:
        # 0..65535 -> 0..255, rounded: value * 255 / 65535 = value / 257.
        return ((np.clip(a, 0, 65535).astype(np.uint32) + 128) // 257).astype(np.uint8)
    is_float = a.dtype.kind == "f"
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if is_float and low >= 0 and high <= 1:
        a = a * 255.0
    elif low < 0 or high > 255:
        a = (a - low) * (255.0 / (high - low)) if high > low else np.zeros_like(a)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def reshape_and_normalize_image(image: np.ndarray) -> np.ndarray:
    """The course's preprocessing: add the batch axis and subtract ``CONFIG.MEANS``.

    Args:
        image: (n_H, n_W, 3) RGB array in 0..255.

    Returns:
        np.ndarray: (1, n_H, n_W, 3) float32, mean-subtracted.
    """
    image = np.reshape(image, ((1,) + np.shape(image)))
    return (image - CONFIG.MEANS).astype(np.float32)


def generate_noise_image(
    content_image: np.ndarray, noise_ratio: float = CONFIG.NOISE_RATIO, seed: int | None = None
) -> np.ndarray:
    """The course's initial image: content blended with uniform(-20, 20) noise.

    G = noise_ratio * noise + (1 - noise_ratio) * content_image

    Args:
        content_image: (1, n_H, n_W, 3) normalised content image.
        noise_ratio: weight of the noise, in [0, 1].
        seed: seed of the noise (``None``: fresh randomness).

    Returns:
        np.ndarray: (1, n_H, n_W, 3) float32.
    """
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-20, 20, np.shape(content_image)).astype(np.float32)
    return (noise * noise_ratio + content_image * (1 - noise_ratio)).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A (1, n_H, n_W, 3) normalised image as the (n_H, n_W, 3) uint8 RGB that
    :func:`save_image` writes: ``CONFIG.MEANS`` added back, clipped to 0..255."""
    return np.clip(np.asarray(image) + CONFIG.MEANS, 0, 255).astype("uint8")[0]


def save_image(path: str | os.PathLike[str], image: np.ndarray, comment: str | None = None) -> None:
    """The course's ``save_image``: add ``CONFIG.MEANS`` back, clip to 0..255, write uint8.

    The image is encoded in memory, written to a temporary file in the same directory,
    flushed to disk (``fsync``, so a full disk is reported here rather than lost) and renamed
    over ``path`` with ``os.replace``. An interrupted or failed save leaves ``path`` as it was
    (absent, or the previous complete image) and removes the temporary file.

    Args:
        path: output file; the format follows the extension (``.png``, ``.jpg``).
        image: (1, n_H, n_W, 3) normalised image.
        comment: optional text stored in the file (a JPEG COM segment, or a PNG ``Comment``
            text chunk), e.g. what produced the image.

    A JPEG is written at quality :data:`JPEG_QUALITY`.

    Raises:
        ValueError: Pillow has no writer for the extension.
        OSError: the file cannot be written (for example ``ENOSPC``: no space left).
    """
    import io

    from PIL import Image

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    extra: dict = {"quality": JPEG_QUALITY} if ext in (".jpg", ".jpeg") else {}
    if comment is not None:
        if ext == ".png":
            from PIL.PngImagePlugin import PngInfo

            extra["pnginfo"] = PngInfo()
            extra["pnginfo"].add_text("Comment", comment)
        else:
            extra["comment"] = comment.encode("utf-8")
    # Pillow itself, as imageio's writer would call it, without that writer: a signal's
    # exception raised while imageio sets its writer up leaves a half-built one whose
    # __del__ prints a traceback (tests/test_faults.py: a save stopped at any line).
    file_format = Image.registered_extensions().get(ext)
    if file_format is None:
        raise ValueError(f"{path}: Pillow cannot write {ext or 'extensionless'} files")
    encoded = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(encoded, format=file_format, **extra)
    write_atomically(path, encoded.getbuffer())


def write_atomically(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` (bytes) to ``path`` so that ``path`` only ever holds a complete file.

    The bytes go to a temporary file in the same directory, are flushed to disk (``fsync``,
    so a full disk is reported here rather than lost) and the file is renamed over ``path``
    with ``os.replace``. On any failure ``path`` is left as it was (absent, or the previous
    complete file) and the temporary file is removed. Images, figures and ``run.json`` are
    all written this way.

    Raises:
        OSError: the file cannot be written (for example ``ENOSPC``: no space left).
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    # The name is drawn here and the file created by open(..., "xb") (O_EXCL), not by
    # tempfile.mkstemp: an exception that a signal handler raises in mkstemp's own Python
    # lines, after it has created the file and before it returns its name, would leave the
    # file behind (tests/test_faults.py: a save stopped at any line). open() also gives the
    # file the permissions any new file gets (0666 less the umask).
    tmp = os.path.join(directory, f".{stem}.{secrets.token_hex(4)}.tmp{ext}")
    try:
        with open(tmp, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except FileExistsError:  # the drawn name is another writer's (1 in 4 billion): not ours
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


# Names write_atomically gives its temporary files: ".<stem>.<8 random>.tmp<ext>".
_TEMPORARY = re.compile(r"^\..*\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$")


def is_temporary(name: str) -> bool:
    """Whether ``name`` (a file name) is a temporary file of :func:`write_atomically`."""
    return bool(_TEMPORARY.match(name))


def remove_temporaries(
    directory: str | os.PathLike[str], older_than: float | None = None
) -> list[str]:
    """Remove the temporary files :func:`write_atomically` left in ``directory`` when its
    process was killed (SIGKILL, a power cut) between writing and renaming them.

    Only call it while no other process writes there (the run holds the folder's lock), or
    give ``older_than``: then only files untouched for that many seconds go (a live writer's
    is seconds old at most).

    Returns:
        list of the names removed (none when the directory does not exist).
    """
    try:
        names = sorted(name for name in os.listdir(directory) if is_temporary(name))
    except OSError:
        return []
    removed, now = [], time.time()
    for name in names:
        path = os.path.join(directory, name)
        try:
            if older_than is None or now - os.stat(path).st_mtime > older_than:
                os.remove(path)
                removed.append(name)
        except OSError:
            pass  # gone meanwhile
    return removed


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(height, width) of an image file as :func:`load_image` sees it (EXIF orientation applied).

    Reads the header only, with the checks :func:`load_image` makes before decoding (missing,
    empty or non-image file, more than :data:`MAX_INPUT_PIXELS`); truncated pixel data is
    found only by :func:`load_image`.

    Raises:
        ImageInputError: as :func:`load_image`.
    """
    return _open_checked(path, lambda path, img: _checked_size(path, img, upright=True))


def size_for_max_side(height: int, width: int, max_size: int) -> tuple[int, int]:
    """Scale (height, width) so that the longer side is ``max_size``, keeping the aspect ratio.

    Returns:
        (height, width): ints, each at least 1; the longer side equals ``max_size`` (images
        smaller than that are scaled up, so every run has the size asked for).
    """
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def list_images(directory: str | os.PathLike[str]) -> list[str]:
    """The image files directly in ``directory`` (by extension), sorted by name.

    Raises:
        ImageInputError: ``directory`` holds no image file.
    """
    directory = os.fspath(directory)
    names = sorted(
        name
        for name in os.listdir(directory)
        if name.lower().endswith(IMAGE_EXTENSIONS)
        and not name.startswith(".")
        and os.path.isfile(os.path.join(directory, name))
    )
    if not names:
        raise ImageInputError(
            f"{directory}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the directory"
        )
    return [os.path.join(directory, name) for name in names]


def resize_array(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a float (n_H, n_W, 3) image with bicubic interpolation, channel by channel.

    Values are not clipped or rounded (unlike resizing a uint8 image), so a normalised or
    out-of-range image keeps its values.

    Returns:
        np.ndarray: (height, width, 3) float32.
    """
    from PIL import Image

    image = np.asarray(image, dtype=np.float32)
    if image.shape[:2] == (height, width):
        return image.copy()
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c])).resize(
                (width, height), Image.BICUBIC
            )
        )
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1).astype(np.float32)


def read_comment(path: str | os.PathLike[str]) -> str | None:
    """The comment :func:`save_image` stored in ``path``, or ``None`` (absent or unreadable)."""
    from PIL import Image

    try:
        with Image.open(os.fspath(path)) as img:
            comment = img.info.get("comment", img.info.get("Comment"))
    except Exception:
        return None
    if isinstance(comment, bytes):
        comment = comment.decode("utf-8", errors="replace")
    return comment
