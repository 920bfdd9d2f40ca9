"""Image preprocessing, noise and saving, as the course defines them."""

import os

import numpy as np
import pytest
from conftest import write_image

from nst_tf1 import (
    CONFIG,
    ImageInputError,
    generate_noise_image,
    load_image,
    reshape_and_normalize_image,
    save_image,
)


def test_reshape_and_normalize_adds_batch_axis_and_subtracts_means():
    image = np.full((3, 4, 3), 200.0)
    out = reshape_and_normalize_image(image)
    assert out.shape == (1, 3, 4, 3) and out.dtype == np.float32
    np.testing.assert_allclose(
        out[0, 1, 2], [200 - 123.68, 200 - 116.779, 200 - 103.939], rtol=1e-6
    )


def test_noise_image_blends_uniform_noise_with_the_content():
    content = reshape_and_normalize_image(np.full((30, 40, 3), 128.0))
    G = generate_noise_image(content, noise_ratio=0.6, seed=3)
    assert G.shape == content.shape and G.dtype == np.float32
    noise = (G - 0.4 * content) / 0.6
    assert noise.min() >= -20 - 1e-3 and noise.max() <= 20 + 1e-3
    assert noise.min() < -18 and noise.max() > 18  # spans the whole uniform(-20, 20) range
    assert abs(noise.mean()) < 1.0
    np.testing.assert_array_equal(G, generate_noise_image(content, 0.6, seed=3))
    assert not np.array_equal(G, generate_noise_image(content, 0.6, seed=4))
    np.testing.assert_allclose(generate_noise_image(content, 0.0, seed=3), content)


def test_save_image_adds_means_back_clips_and_writes_uint8(tmp_path):
    from PIL import Image

    pixels = np.zeros((1, 2, 3, 3), np.float32)
    pixels[0, 0, 0] = [300.0, -300.0, 0.0]  # clipped to 255 and 0
    image = pixels - CONFIG.MEANS
    path = tmp_path / "out.png"
    save_image(str(path), image)
    read = np.asarray(Image.open(path))
    assert read.dtype == np.uint8 and read.shape == (2, 3, 3)
    assert list(read[0, 0]) == [255, 0, 0]
    assert [p for p in os.listdir(tmp_path)] == ["out.png"]  # no temporary file left


def test_load_image_resizes_and_converts_to_rgb(tmp_path):
    gray = write_image(tmp_path / "gray.png", np.full((20, 30), 90, np.uint8))
    image = load_image(gray, height=12, width=16)
    assert image.shape == (12, 16, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image, 90, atol=1)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"this is not an image", "not an image file"),
    ],
)
def test_load_image_rejects_bad_files_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "input.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageInputError) as info:
        load_image(str(path))
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_config_holds_the_course_values():
    """The course's settings, as literals: a change to CONFIG must be deliberate."""
    assert (CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH, CONFIG.COLOR_CHANNELS) == (300, 400, 3)
    assert CONFIG.NOISE_RATIO == 0.6
    assert CONFIG.MEANS.shape == (1, 1, 1, 3)
    np.testing.assert_array_equal(CONFIG.MEANS.reshape(3), [123.68, 116.779, 103.939])
    assert CONFIG.VGG_MODEL == "models/imagenet-vgg-verydeep-19.mat"
    assert list(CONFIG.STYLE_LAYERS) == [
        ("conv1_1", 0.2),
        ("conv2_1", 0.2),
        ("conv3_1", 0.2),
        ("conv4_1", 0.2),
        ("conv5_1", 0.2),
    ]
    assert CONFIG.CONTENT_LAYER == "conv4_2"
    assert (CONFIG.ALPHA, CONFIG.BETA) == (10, 40)
    assert (CONFIG.LEARNING_RATE, CONFIG.NUM_ITERATIONS, CONFIG.SAVE_EVERY) == (2.0, 200, 20)
    assert CONFIG.OUTPUT_DIR == "output/"
