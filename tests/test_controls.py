"""Issue 7: the controls beyond the course each change what they should and nothing else."""

import os

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_cli, write_image

from nst_tf1 import cli, colors, graph, transfer
from nst_tf1.config import CONFIG
from nst_tf1.images import generate_noise_image, reshape_and_normalize_image, resize_array
from nst_tf1.settings import Settings

ITERATIONS = 4


@pytest.fixture(scope="module")
def weights(vgg_file):
    from nst_tf1.vgg import read_vgg_weights

    return read_vgg_weights(vgg_file)


@pytest.fixture(scope="module")
def arrays():
    """(content, style, other style) float32 RGB 0..255 arrays at the test size."""
    from nst_tf1.demo import make_demo_content, make_demo_style

    content = make_demo_content(HEIGHT, WIDTH).astype(np.float32)
    style = make_demo_style(HEIGHT, WIDTH).astype(np.float32)
    other = make_demo_style(HEIGHT, WIDTH)[::-1, ::-1].astype(np.float32)
    return content, style, other


def _run(weights, content, styles, style_weights=None, **settings):
    from nst_tf1.settings import Settings

    settings.setdefault("iterations", ITERATIONS)
    settings.setdefault("save_every", 1)
    settings.setdefault("seed", 0)
    with transfer.Runner(weights, Settings(**settings)) as runner:
        return list(runner.run(content, styles, style_weights))


def _tv(image):
    image = np.asarray(image, dtype=np.float64)
    return np.square(np.diff(image, axis=1)).sum() + np.square(np.diff(image, axis=2)).sum()


# --- costs -------------------------------------------------------------------------------


def test_total_variation_cost_matches_numpy():
    import tensorflow.compat.v1 as tf

    x = np.random.default_rng(0).normal(0, 30, (1, 7, 9, 3)).astype(np.float32)
    from nst_tf1.costs import total_variation_cost

    with tf.Graph().as_default(), tf.Session() as sess:
        value = sess.run(total_variation_cost(tf.constant(x)))
    np.testing.assert_allclose(value, _tv(x), rtol=1e-5)


def test_gram_style_cost_equals_course_layer_cost():
    import tensorflow.compat.v1 as tf

    from nst_tf1.costs import activation_gram, compute_gram_style_cost, compute_layer_style_cost

    rng = np.random.default_rng(1)
    a_S, a_G = (rng.normal(size=(1, 5, 6, 4)).astype(np.float32) for _ in range(2))
    with tf.Graph().as_default(), tf.Session() as sess:
        G_S = sess.run(activation_gram(tf.constant(a_S)))
        ours = sess.run(compute_gram_style_cost(G_S, tf.constant(a_G)))
        course = sess.run(compute_layer_style_cost(tf.constant(a_S), tf.constant(a_G)))
    A = a_S[0].reshape(30, 4).T.astype(np.float64)
    np.testing.assert_allclose(G_S, A @ A.T, rtol=1e-5)
    np.testing.assert_allclose(ours, course, rtol=1e-5)


# --- colours -----------------------------------------------------------------------------


def test_yiq_round_trip_and_luminance_recombination():
    rng = np.random.default_rng(2)
    generated, content = rng.uniform(0, 255, (2, 6, 7, 3))
    np.testing.assert_allclose(colors.yiq_to_rgb(colors.rgb_to_yiq(content)), content, atol=1e-9)
    out = colors.recombine_luminance(generated, content)
    yiq_out, yiq_c = colors.rgb_to_yiq(out), colors.rgb_to_yiq(content)
    np.testing.assert_allclose(yiq_out[..., 0], colors.rgb_to_yiq(generated)[..., 0], atol=1e-3)
    np.testing.assert_allclose(yiq_out[..., 1:], yiq_c[..., 1:], atol=1e-3)
    grey = colors.luminance_image(content)
    assert np.allclose(grey[..., 0], grey[..., 1]) and np.allclose(grey[..., 0], grey[..., 2])
    matched = colors.match_luminance(colors.luminance_image(generated), grey)
    np.testing.assert_allclose(matched[..., 0].mean(), grey[..., 0].mean(), rtol=1e-4)
    np.testing.assert_allclose(matched[..., 0].std(), grey[..., 0].std(), rtol=1e-4)


def test_histogram_matching_gives_the_style_the_contents_colour_statistics(arrays):
    content, style, _ = arrays
    matched = colors.match_color_histogram(style, content)
    assert matched.shape == style.shape
    c, m = content.reshape(-1, 3).astype(np.float64), matched.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(m.mean(axis=0), c.mean(axis=0), atol=1e-2)
    np.testing.assert_allclose(m.std(axis=0), c.std(axis=0), rtol=1e-3)
    np.testing.assert_allclose(
        np.cov(m, rowvar=False), np.cov(c, rowvar=False), rtol=1e-3, atol=1e-2
    )
    # Different from the style before: the statistics moved.
    assert not np.allclose(style.reshape(-1, 3).mean(axis=0), c.mean(axis=0), atol=1)


# --- VGG: pooling and layer names --------------------------------------------------------


def test_max_pooling_changes_the_op_type_and_keeps_the_keys(weights):
    import tensorflow.compat.v1 as tf

    from nst_tf1.vgg import MODEL_KEYS, build_vgg_model

    kinds = {}
    for pooling in ("avg", "max"):
        with tf.Graph().as_default() as graph:
            model = build_vgg_model(weights, 16, 16, pooling=pooling)
            assert tuple(model) == MODEL_KEYS
            kinds[pooling] = [model[f"avgpool{i}"].op.type for i in range(1, 6)]
            types = {op.type for op in graph.get_operations()}
            shapes = [model[key].shape.as_list() for key in MODEL_KEYS]
        kinds[pooling + "_shapes"] = shapes
        assert ("MaxPool" in types) == (pooling == "max")
        assert ("AvgPool" in types) == (pooling == "avg")
    assert kinds["avg"] == ["AvgPool"] * 5 and kinds["max"] == ["MaxPool"] * 5
    assert kinds["avg_shapes"] == kinds["max_shapes"]
    with pytest.raises(ValueError, match="pooling"):
        build_vgg_model(weights, 16, 16, pooling="min")


def test_style_layers_parse_and_check_names():
    from nst_tf1.settings import Settings

    def parse(argv):
        return Settings(
            **{
                k: v
                for k, v in vars(cli.build_parser().parse_args(argv)).items()
                if k not in ("print_model", "verbose")
            }
        )

    args = parse(["--style-layers", "conv1_1,conv3_2:0.5", "--content-layer", "conv5_4"])
    assert args.style_layers == [("conv1_1", 0.5), ("conv3_2", 0.5)]
    assert args.content_layer == "conv5_4"
    assert parse([]).style_layers == list(CONFIG.STYLE_LAYERS)


@pytest.mark.parametrize(
    "option,value",
    [
        ("--style-layers", "conv1_1:0.2,conv9_1:0.8"),
        ("--content-layer", "avgpool4"),
        ("--style-layers", "conv1_1:heavy"),
    ],
)
def test_unknown_layer_names_exit_2_with_one_line(option, value):
    result = run_cli(option, value)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nst-tf1: error: {option}: "), lines
    assert "Traceback" not in result.stderr


# --- the one graph against the course's own code ----------------------------------------


def test_style_transfer_matches_the_course_notebook_code(weights, arrays):
    """The assignment's flow written out as its notebook does (weights and a_S as constants,
    ``compute_style_cost``, a fresh Adam) gives the costs and the image of ``style_transfer``,
    which is built on the one ``TransferGraph`` every run uses."""
    import tensorflow.compat.v1 as tf

    from nst_tf1 import (
        build_vgg_model,
        compute_content_cost,
        compute_style_cost,
        style_transfer,
        total_cost,
    )

    content, style, _ = arrays
    C, S = reshape_and_normalize_image(content), reshape_and_normalize_image(style)
    G = generate_noise_image(C, CONFIG.NOISE_RATIO, seed=0)
    with tf.Graph().as_default(), tf.Session() as sess:
        model = build_vgg_model(weights, HEIGHT, WIDTH)
        sess.run(model["input"].assign(C))
        a_G = model[CONFIG.CONTENT_LAYER]
        J_content = compute_content_cost(sess.run(a_G), a_G)
        sess.run(model["input"].assign(S))
        J_style = compute_style_cost(sess, model, CONFIG.STYLE_LAYERS)
        J = total_cost(J_content, J_style, alpha=CONFIG.ALPHA, beta=CONFIG.BETA)
        train_step = tf.train.AdamOptimizer(CONFIG.LEARNING_RATE).minimize(J)
        sess.run(tf.global_variables_initializer())
        sess.run(model["input"].assign(G))
        reference = [sess.run([train_step, J, J_content, J_style])[1:] for _ in range(ITERATIONS)]
        reference.append(sess.run([J, J_content, J_style]))
        final = sess.run(model["input"])
    ours = list(
        style_transfer(content, style, weights, num_iterations=ITERATIONS, save_every=1, seed=0)
    )
    assert [s.iteration for s in ours] == list(range(ITERATIONS + 1))
    np.testing.assert_allclose(
        [(s.total_cost, s.content_cost, s.style_cost) for s in ours], reference, rtol=1e-5
    )
    np.testing.assert_allclose(ours[-1].image, final, atol=1e-3)


def test_two_styles_weighted_1_0_equal_the_single_style_run(weights, arrays):
    content, style, other = arrays
    single = [p.step for p in _run(weights, content, [style])]
    blended = [p.step for p in _run(weights, content, [style, other], [1.0, 0.0])]
    np.testing.assert_array_equal([s.total_cost for s in blended], [s.total_cost for s in single])
    np.testing.assert_array_equal(blended[-1].image, single[-1].image)
    # Weights that are not (1, 0) do change the style targets and so the style cost.
    mixed = [p.step for p in _run(weights, content, [style, other], [1.0, 1.0], iterations=1)]
    assert mixed[0].style_cost != single[0].style_cost
    assert mixed[0].content_cost == single[0].content_cost


def test_tv_weight_lowers_the_total_variation_on_the_same_seed(weights, arrays):
    content, style, _ = arrays
    plain = _run(weights, content, [style], learning_rate=5.0)
    smooth = _run(weights, content, [style], learning_rate=5.0, tv_weight=1e3)
    # The same initial image (same seed), a smoother result.
    np.testing.assert_array_equal(plain[0].step.image, smooth[0].step.image)
    assert _tv(smooth[-1].step.image) < 0.9 * _tv(plain[-1].step.image)


def test_luminance_transfer_keeps_the_contents_chrominance(weights, arrays):
    content, style, _ = arrays
    final = _run(weights, content, [style], preserve_colors="luminance")[-1].step
    rgb = final.image[0] + CONFIG.MEANS[0]
    yiq, yiq_c = colors.rgb_to_yiq(rgb), colors.rgb_to_yiq(content)
    np.testing.assert_allclose(yiq[..., 1:], yiq_c[..., 1:], atol=1e-2)
    # The luminance is the optimised one, not the content's.
    assert np.abs(yiq[..., 0] - yiq_c[..., 0]).mean() > 1
    plain = _run(weights, content, [style], iterations=1)[0].step
    assert (
        np.abs(colors.rgb_to_yiq(plain.image[0] + CONFIG.MEANS[0])[..., 1:] - yiq_c[..., 1:]).mean()
        > 1
    )


def test_histogram_mode_changes_only_the_style_targets(weights, arrays):
    content, style, _ = arrays
    plain = _run(weights, content, [style], iterations=1)[0].step
    matched = _run(weights, content, [style], iterations=1, preserve_colors="histogram")[0].step
    expected = _run(weights, content, [colors.match_color_histogram(style, content)], iterations=1)[
        0
    ].step
    assert matched.content_cost == plain.content_cost
    assert matched.style_cost != plain.style_cost
    np.testing.assert_allclose(matched.style_cost, expected.style_cost, rtol=1e-5)


def test_init_modes_set_the_first_image(weights, arrays, tmp_path):
    content, style, _ = arrays
    normalised = reshape_and_normalize_image(content)

    def first(init, **kw):
        return _run(weights, content, [style], iterations=1, init=init, **kw)[0].step.image

    np.testing.assert_array_equal(first("noise"), generate_noise_image(normalised, 0.6, seed=0))
    np.testing.assert_array_equal(first("noise", noise_ratio=0.0), normalised)
    np.testing.assert_array_equal(first("content"), normalised)
    np.testing.assert_allclose(first("style"), reshape_and_normalize_image(style), atol=1e-4)
    path = write_image(tmp_path / "init.png", np.full((10, 20, 3), 77, np.uint8))
    np.testing.assert_allclose(
        first(path), reshape_and_normalize_image(np.full((HEIGHT, WIDTH, 3), 77.0)), atol=1e-3
    )


def test_style_scale_rescales_the_style_before_its_grams(weights, arrays):
    content, style, _ = arrays
    course = Settings()
    with graph.TransferGraph(
        weights, HEIGHT, WIDTH, course.cost_terms(), course.optimizer_options()
    ) as transfer_graph:
        same = transfer_graph.style_grams(reshape_and_normalize_image(style))
    # The own-graph path (other sizes) gives the same Grams as the main graph at equal size.
    own, pixels = graph.style_grams_in_own_graph(weights, reshape_and_normalize_image(style))
    for a, b in zip(own, same):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    half = _run(weights, content, [style], iterations=1, style_scale=0.5)[0].step
    full = _run(weights, content, [style], iterations=1)[0].step
    assert half.content_cost == full.content_cost and half.style_cost != full.style_cost
    # A style made of 2x2 tiles of a half-size style has (nearly) the same per-pixel Grams.
    small = resize_array(style, HEIGHT // 2, WIDTH // 2)
    tiled = np.tile(small, (2, 2, 1))
    g_small, p_small = graph.style_grams_in_own_graph(weights, reshape_and_normalize_image(small))
    g_tiled, p_tiled = graph.style_grams_in_own_graph(weights, reshape_and_normalize_image(tiled))
    # conv1_1 (the smallest boundary effects): per pixel within 15%; the raw sums differ 4x.
    per_small, per_tiled = g_small[0] / p_small[0], g_tiled[0] / p_tiled[0]
    assert np.linalg.norm(per_small - per_tiled) < 0.15 * np.linalg.norm(per_tiled)
    assert p_tiled[0] == 4 * p_small[0]


def test_multires_optimises_coarse_to_fine(weights, arrays):
    content, style, _ = arrays
    progress = _run(weights, content, [style], multires=2, iterations=2)
    sizes = [(p.scale, p.height, p.width) for p in progress]
    assert sizes == [(1, HEIGHT // 2, WIDTH // 2)] * 3 + [(2, HEIGHT, WIDTH)] * 3
    coarse_final = progress[2].step.image[0] + CONFIG.MEANS[0]
    fine_first = progress[3].step.image
    np.testing.assert_allclose(
        fine_first,
        reshape_and_normalize_image(resize_array(coarse_final, HEIGHT, WIDTH)),
        atol=1e-3,
    )
    assert progress[-1].step.image.shape == (1, HEIGHT, WIDTH, 3)


# --- the command line: sizes and batches -------------------------------------------------


def _main(*argv):
    return cli.main([str(a) for a in argv])


def test_max_size_follows_the_contents_aspect_ratio(vgg_file, image_pair, tmp_path, capsys):
    from PIL import Image

    content, style = image_pair  # 2*HEIGHT x 2*WIDTH: 3:4
    out = tmp_path / "out"
    assert (
        _main(
            "--content",
            content,
            "--style",
            style,
            "--model",
            vgg_file,
            "--output-dir",
            out,
            "--iterations",
            1,
            "--max-size",
            48,
            "--seed",
            0,
        )
        == 0
    )
    with Image.open(out / "generated_image.jpg") as img:
        assert img.size == (48, 36)  # each side at least MIN_IMAGE_SIDE = 32


def test_batch_reads_the_weights_once_and_builds_one_graph(
    vgg_file, image_pair, tmp_path, monkeypatch, capsys
):
    import nst_tf1.vgg
    from nst_tf1.demo import make_demo_content

    _, style = image_pair
    contents = tmp_path / "contents"
    contents.mkdir()
    for i in range(3):
        write_image(contents / f"c{i}.png", np.roll(make_demo_content(HEIGHT, WIDTH), 9 * i, 1))
    (contents / "notes.txt").write_text("not an image")
    reads, graphs = [], []
    real_read, real_init = nst_tf1.vgg.read_vgg_weights, graph.TransferGraph.__init__
    monkeypatch.setattr(
        nst_tf1.vgg, "read_vgg_weights", lambda path: reads.append(path) or real_read(path)
    )
    monkeypatch.setattr(
        graph.TransferGraph,
        "__init__",
        lambda self, *a, **k: graphs.append(a[1:3]) or real_init(self, *a, **k),
    )
    out = tmp_path / "out"
    argv = [
        "--content",
        contents,
        "--style",
        style,
        "--model",
        vgg_file,
        "--output-dir",
        out,
        "--iterations",
        2,
        "--save-every",
        1,
        "--height",
        HEIGHT,
        "--width",
        WIDTH,
        "--seed",
        0,
        "--tv-weight",
        1,
    ]
    assert _main(*argv) == 0
    assert len(reads) == 1 and graphs == [(HEIGHT, WIDTH)]
    names = sorted(name for name in os.listdir(out) if os.path.isdir(out / name))
    assert names == ["c0__style", "c1__style", "c2__style"]
    assert sorted(set(os.listdir(out)) - set(names)) == ["contact_sheet.png", "index.html"]
    for name in names:
        # run.json: each run's record (issue 5).
        assert sorted(os.listdir(out / name)) == [
            "0.png",
            "1.png",
            "generated_image.jpg",
            "generated_image.png",
            "run.json",
        ]
    printed = capsys.readouterr().out
    # One line per pair (issue 24): no cost lines, no "Saved" lines without --verbose.
    assert printed.count("Saved ") == 0 and "Iteration" not in printed and "[3/3]" in printed
    # Outputs present: the second run skips them all without reading the weights.
    stamp = os.path.getmtime(out / "c1__style" / "generated_image.jpg")
    assert _main(*argv) == 0
    assert len(reads) == 1 and os.path.getmtime(out / "c1__style" / "generated_image.jpg") == stamp
    assert capsys.readouterr().out.count("Skipping") == 3


def test_style_weights_must_match_the_styles(vgg_file, image_pair, tmp_path, capsys):
    content, style = image_pair
    status = _main(
        "--content",
        content,
        "--style",
        style,
        style,
        "--style-weights",
        1,
        "--model",
        vgg_file,
        "--output-dir",
        tmp_path,
    )
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 weights for 2 style images" in err[0]
