"""End to end: the course's optimisation on a narrow synthetic VGG-19 and small images."""

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH

from nst_tf1 import load_image, style_transfer


@pytest.fixture(scope="module")
def images(image_pair):
    content_path, style_path = image_pair
    return load_image(content_path, HEIGHT, WIDTH), load_image(style_path, HEIGHT, WIDTH)


def run(images, vgg_file, **kwargs):
    content, style = images
    return list(style_transfer(content, style, vgg_file, **kwargs))


def test_total_cost_falls_by_at_least_half_in_50_iterations(images, vgg_file):
    steps = run(images, vgg_file, num_iterations=50, seed=0)
    assert [s.iteration for s in steps] == list(range(51))
    first, last = steps[0], steps[-1]
    assert last.total_cost <= 0.5 * first.total_cost
    for s in steps:
        assert s.total_cost == pytest.approx(10 * s.content_cost + 40 * s.style_cost, rel=1e-5)
    # Images come with the iterations that are multiples of save_every, and with the last Step.
    assert [s.iteration for s in steps if s.image is not None] == [0, 20, 40, 50]
    assert last.image.shape == (1, HEIGHT, WIDTH, 3)


def test_first_step_is_the_noisy_initial_image(images, vgg_file):
    from nst_tf1 import generate_noise_image, reshape_and_normalize_image

    steps = run(images, vgg_file, num_iterations=1, seed=5)
    expected = generate_noise_image(reshape_and_normalize_image(images[0]), 0.6, seed=5)
    np.testing.assert_array_equal(steps[0].image, expected)
    assert not np.array_equal(steps[-1].image, expected)  # Adam moved the pixels


def test_same_seed_gives_the_same_result(images, vgg_file):
    a = run(images, vgg_file, num_iterations=5, seed=7)
    b = run(images, vgg_file, num_iterations=5, seed=7)
    c = run(images, vgg_file, num_iterations=5, seed=8)
    np.testing.assert_allclose(a[-1].image, b[-1].image, rtol=1e-6, atol=1e-4)
    assert [s.total_cost for s in a] == pytest.approx([s.total_cost for s in b], rel=1e-6)
    assert not np.allclose(a[-1].image, c[-1].image)


def test_content_only_run_approaches_the_content_image(images, vgg_file):
    """With beta = 0 only J_content remains: it must fall far below its start."""
    steps = run(images, vgg_file, num_iterations=30, beta=0, seed=1)
    assert steps[-1].style_cost > 0  # still measured, just not optimised
    assert steps[-1].total_cost < 0.2 * steps[0].total_cost


def test_images_of_different_sizes_are_refused(images, vgg_file):
    content, style = images
    with pytest.raises(ValueError, match="differ in size"):
        next(style_transfer(content, style[:-1], vgg_file))
