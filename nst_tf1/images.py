"""Image files in and out: decode, convert, resize, normalise, add noise, save atomically.

Arrays the network sees are float32 (1, height, width, 3), RGB, with ``CONFIG.MEANS``
subtracted; :func:`save_image` undoes that.
"""

import os
import tempfile

import numpy as np

from .config import CONFIG

__all__ = [
    "ImageInputError",
    "load_image",
    "reshape_and_normalize_image",
    "generate_noise_image",
    "save_image",
    "IMAGE_EXTENSIONS",
    "image_size",
    "size_for_max_side",
    "list_images",
    "resize_array",
]

#: File name endings :func:`list_images` takes as images (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageInputError(ValueError):
    """An input image cannot be used; the message names the file and the problem."""


def load_image(path, height=CONFIG.IMAGE_HEIGHT, width=CONFIG.IMAGE_WIDTH):
    """Read an image file as (height, width, 3) float32 RGB in 0..255.

    EXIF orientation is honoured; grayscale, palette and CMYK images are converted to RGB;
    alpha is composited on white; the image is resized (bicubic) to exactly height x width,
    as the course's images are prepared to 300x400 before the assignment.

    Args:
        path: image file (JPEG, PNG, or anything Pillow reads).
        height, width: output size.

    Returns:
        np.ndarray: (height, width, 3) float32.

    Raises:
        ImageInputError: the file is missing, not a file, empty, or not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageInputError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ImageInputError(f"{path}: not a regular file")
    if os.path.getsize(path) == 0:
        raise ImageInputError(f"{path}: empty file")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img.load()
            img = _to_rgb(img)
            img = img.resize((width, height), Image.BICUBIC)
            return np.asarray(img, dtype=np.float32)
    except UnidentifiedImageError:
        raise ImageInputError(f"{path}: not an image file Pillow can read") from None
    except PermissionError:
        raise ImageInputError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports truncated and corrupt data as OSError/SyntaxError/ValueError.
        raise ImageInputError(f"{path}: unreadable image data ({exc})") from None


def _to_rgb(img):
    """Convert any Pillow mode to 8-bit RGB; alpha is composited on white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit integer) grayscale: scale to 0..255.
        a = np.asarray(img, dtype=np.float64)
        a = a / (65535.0 if a.max(initial=0) > 255 else 255.0) * 255.0
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def reshape_and_normalize_image(image):
    """The course's preprocessing: add the batch axis and subtract ``CONFIG.MEANS``.

    Args:
        image: (n_H, n_W, 3) RGB array in 0..255.

    Returns:
        np.ndarray: (1, n_H, n_W, 3) float32, mean-subtracted.
    """
    image = np.reshape(image, ((1,) + np.shape(image)))
    return (image - CONFIG.MEANS).astype(np.float32)


def generate_noise_image(content_image, noise_ratio=CONFIG.NOISE_RATIO, seed=None):
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


def save_image(path, image):
    """The course's ``save_image``: add ``CONFIG.MEANS`` back, clip to 0..255, write uint8.

    The file is written to a temporary name in the same directory and renamed into place,
    so an interrupted run never leaves a half-written image under ``path``.

    Args:
        path: output file; the format follows the extension (``.png``, ``.jpg``).
        image: (1, n_H, n_W, 3) normalised image.
    """
    import imageio.v2 as imageio

    path = os.fspath(path)
    image = np.clip(np.asarray(image) + CONFIG.MEANS, 0, 255).astype("uint8")[0]
    directory, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{ext}", dir=directory or ".")
    try:
        os.close(fd)
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        # The temporary name ends in the same extension, which selects the format.
        imageio.imwrite(tmp, image)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def image_size(path):
    """(height, width) of an image file as :func:`load_image` sees it (EXIF orientation applied).

    Raises:
        ImageInputError: as :func:`load_image`.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageInputError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            width, height = img.size
            # EXIF orientations 5..8 are transposed: width and height swap.
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
            return height, width
    except UnidentifiedImageError:
        raise ImageInputError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"{path}: unreadable image data ({exc})") from None


def size_for_max_side(height, width, max_size):
    """Scale (height, width) so that the longer side is ``max_size``, keeping the aspect ratio.

    Returns:
        (height, width): ints, each at least 1; the longer side equals ``max_size`` (images
        smaller than that are scaled up, so every run has the size asked for).
    """
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def list_images(directory):
    """The image files directly in ``directory`` (by extension), sorted by name.

    Raises:
        ImageInputError: ``directory`` holds no image file.
    """
    directory = os.fspath(directory)
    names = sorted(
        name for name in os.listdir(directory)
        if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
        and os.path.isfile(os.path.join(directory, name))
    )
    if not names:
        raise ImageInputError(
            f"{directory}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the directory"
        )
    return [os.path.join(directory, name) for name in names]


def resize_array(image, height, width):
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
        np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c]))
                   .resize((width, height), Image.BICUBIC))
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1).astype(np.float32)
