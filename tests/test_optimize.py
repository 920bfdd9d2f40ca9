"""The opt-in fast modes: L-BFGS, bf16, weights as Variables, and what a training step runs."""

import threading

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_args, run_cli


@pytest.fixture(scope="module")
def images():
    """(content, style): (HEIGHT, WIDTH, 3) float32 RGB in 0..255, seeded."""
    from nst_tf1.demo import make_demo_content, make_demo_style

    return (
        make_demo_content(HEIGHT, WIDTH).astype(np.float32),
        make_demo_style(HEIGHT, WIDTH).astype(np.float32),
    )


def _run(images, vgg_file, **kwargs):
    from nst_tf1.transfer import style_transfer

    kwargs.setdefault("seed", 0)
    return list(style_transfer(*images, vgg_file, **kwargs))


def _in_bounds(image):
    from nst_tf1.config import CONFIG

    pixels = np.asarray(image, np.float64) + CONFIG.MEANS
    return pixels.min() >= -1e-3 and pixels.max() <= 255 + 1e-3


def test_pixel_bounds_are_0_to_255_after_adding_means():
    from nst_tf1.config import CONFIG
    from nst_tf1.optimize import pixel_bounds

    low, high = pixel_bounds((1, 2, 3, 3))
    assert low.shape == high.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(low + CONFIG.MEANS, 0)
    np.testing.assert_allclose(high + CONFIG.MEANS, 255)


def test_lbfgs_runs_the_float32_minimiser_on_the_clipped_image(monkeypatch, images, vgg_file):
    """model_lbfgs runs nst_tf1.lbfgs.minimize (SciPy's L-BFGS-B cost 20-30 ms between two
    evaluations at 300x400, with the bounds 1 s more): it clips the image instead of
    bounding it, and every image it reports is inside the bounds."""
    from nst_tf1 import lbfgs

    calls = []
    real = lbfgs.minimize

    def spy(fun, x0, **kwargs):
        calls.append((x0.dtype, x0.shape, kwargs))
        return real(fun, x0, **kwargs)

    monkeypatch.setattr(lbfgs, "minimize", spy)
    steps = _run(images, vgg_file, optimizer="lbfgs", num_iterations=3, save_every=1)
    assert len(steps) == 4 and len(calls) == 1
    dtype, shape, kwargs = calls[0]
    assert dtype == np.float64 and len(shape) == 1 and kwargs == {}
    assert all(_in_bounds(step.image) for step in steps)


def test_lbfgs_lowers_the_cost_and_keeps_pixels_in_range(images, vgg_file):
    # noise_ratio 0.6 puts some start pixels outside 0..255: the start is clipped first.
    steps = _run(images, vgg_file, optimizer="lbfgs", num_iterations=12, save_every=3)
    assert [s.iteration for s in steps] == [*range(12), 12]
    costs = [s.total_cost for s in steps[:-1]]
    final = steps[-1]
    assert np.all(np.isfinite(costs))
    # The final Step is the best image evaluated, far below the start.
    assert final.total_cost == pytest.approx(min(costs))
    assert final.total_cost < 0.5 * costs[0]
    np.testing.assert_allclose(
        final.total_cost, 10 * final.content_cost + 40 * final.style_cost, rtol=1e-5
    )
    saved = [s for s in steps if s.image is not None]
    assert [s.iteration for s in saved] == [0, 3, 6, 9, 12]
    for step in saved:
        assert step.image.shape == (1, HEIGHT, WIDTH, 3)
        assert _in_bounds(step.image)


def test_lbfgs_first_evaluation_is_the_costs_of_the_start_image(images, vgg_file):
    # Without noise the start image is the content image, inside the bounds, so L-BFGS's
    # first evaluation and Adam's first step see the same image: same costs.
    adam = _run(images, vgg_file, noise_ratio=0.0, num_iterations=1)
    lbfgs = _run(images, vgg_file, noise_ratio=0.0, optimizer="lbfgs", num_iterations=5)
    assert lbfgs[0].total_cost == pytest.approx(adam[0].total_cost, rel=1e-5)
    assert lbfgs[0].content_cost == pytest.approx(0.0, abs=1e-6)
    # The gradient fetched with J is J's: the line search along it finds a lower J.
    assert lbfgs[-1].total_cost < lbfgs[0].total_cost


def test_lbfgs_generator_close_stops_the_worker(images, vgg_file):
    from nst_tf1.transfer import style_transfer

    steps = style_transfer(*images, vgg_file, optimizer="lbfgs", num_iterations=50, seed=0)
    next(steps)
    next(steps)
    steps.close()
    assert not [t for t in threading.enumerate() if t.name == "lbfgs"]


class _CountingSession:
    """A session that records which thread ran each evaluation (a list of fetches fed an
    image; ``Variable.load`` at the end feeds a single op)."""

    def __init__(self, sess):
        self.sess, self.evaluations = sess, []

    def run(self, fetches, feed_dict=None):
        if feed_dict and isinstance(fetches, list):
            self.evaluations.append(threading.current_thread().name)
        return self.sess.run(fetches, feed_dict)


def _quadratic_target(shape=(1, 4, 5, 3)):
    return np.random.default_rng(0).uniform(-200, 200, shape).astype(np.float32)


def _quadratic_problem(tf, shape=(1, 4, 5, 3)):
    """(image Variable, (J, J, 0*J)): J = sum((image - target)^2), target
    (:func:`_quadratic_target`) partly outside the pixel bounds, so the optimum is on them."""
    image = tf.Variable(np.zeros(shape, np.float32), name="input")
    target = tf.constant(_quadratic_target(shape))
    J = tf.reduce_sum(tf.square(image - target))
    return image, (J, J, 0.0 * J)


def test_lbfgs_first_evaluation_runs_once_while_the_minimiser_prepares():
    import tensorflow.compat.v1 as tf

    from nst_tf1.optimize import model_lbfgs

    tf.disable_v2_behavior()
    with tf.Graph().as_default(), tf.Session() as sess:
        image, costs = _quadratic_problem(tf)
        sess.run(image.initializer)
        counting = _CountingSession(sess)
        steps = list(model_lbfgs(counting, {"input": image}, costs, 8, save_every=1))
        # One run per evaluation: the minimiser's first call took the consumer's result.
        assert len(counting.evaluations) == len(steps) - 1
        assert counting.evaluations[0] == threading.current_thread().name
        assert set(counting.evaluations[1:]) == {"lbfgs"}
        assert steps[-1].total_cost < 0.1 * steps[0].total_cost
        assert _in_bounds(steps[-1].image)


def test_lbfgs_reaches_the_optimum_on_the_bounds():
    """J(clip(x)) with dJ/dG 0 outside the bounds: the pixels whose target lies outside end
    on the bound, the others on their target (the minimum of J over the box)."""
    import tensorflow.compat.v1 as tf

    from nst_tf1.optimize import model_lbfgs, pixel_bounds

    tf.disable_v2_behavior()
    with tf.Graph().as_default(), tf.Session() as sess:
        image, costs = _quadratic_problem(tf)
        sess.run(image.initializer)
        steps = list(model_lbfgs(sess, {"input": image}, costs, 40, save_every=40))
    target = _quadratic_target()
    low, high = pixel_bounds(target.shape)
    outside = (target < low) | (target > high)
    assert 0 < outside.mean() < 1
    np.testing.assert_allclose(steps[-1].image, np.clip(target, low, high), atol=0.05)


def test_lbfgs_error_in_the_first_evaluation_reaches_the_caller():
    import tensorflow.compat.v1 as tf

    from nst_tf1.optimize import model_lbfgs

    tf.disable_v2_behavior()
    with tf.Graph().as_default(), tf.Session() as sess:
        image, (J, _, _) = _quadratic_problem(tf)
        bad = tf.debugging.check_numerics(J * np.float32(np.nan), "J is not finite")
        sess.run(image.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="J is not finite"):
            list(model_lbfgs(sess, {"input": image}, (bad, bad, bad), 5))
    assert not [t for t in threading.enumerate() if t.name == "lbfgs"]


def test_unknown_optimizer_or_precision_is_a_value_error(images, vgg_file):
    with pytest.raises(ValueError, match="optimizer"):
        _run(images, vgg_file, optimizer="sgd", num_iterations=1)
    with pytest.raises(ValueError, match="precision"):
        _run(images, vgg_file, precision="fp16", num_iterations=1)


def test_bf16_runs_close_to_fp32_or_reports_unsupported(images, vgg_file):
    from nst_tf1.graph import PrecisionError, bf16_unsupported_reason

    reason = bf16_unsupported_reason()
    if reason is not None:
        with pytest.raises(PrecisionError, match="bf16 is not available"):
            _run(images, vgg_file, precision="bf16", num_iterations=1)
        return
    fp32 = _run(images, vgg_file, num_iterations=4)
    bf16 = _run(images, vgg_file, precision="bf16", num_iterations=4)
    # bfloat16 keeps 8 bits of mantissa: the costs agree to a few percent, not exactly.
    for a, b in zip(fp32, bf16):
        assert b.total_cost == pytest.approx(a.total_cost, rel=0.05)
    assert bf16[-1].total_cost < bf16[0].total_cost


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_costs_are_exact_sums_of_what_the_network_gives(images, vgg_file, precision):
    """In bf16 the network (convolutions, Grams) runs in bfloat16, but the costs after it
    are computed in float64: in an L-BFGS evaluation, J_content equals the NumPy sum over
    the graph's own activation to 1e-6 relative (it was off by 3e-4), and J is exactly
    alpha J_content + beta J_style + tv_weight J_tv. Rounded to bfloat16 (8 bits) as
    before, J_content moved in steps of 0.6% and L-BFGS stalled (benchmarks/README.md,
    round 8). In fp32 the costs stay float32: the course's arithmetic."""
    from nst_tf1.graph import PrecisionError, TransferGraph
    from nst_tf1.images import reshape_and_normalize_image
    from nst_tf1.settings import Settings
    from nst_tf1.vgg import read_vgg_weights

    s = Settings(optimizer="lbfgs", height=HEIGHT, width=WIDTH, precision=precision, tv_weight=1e-3)
    try:
        graph = TransferGraph(
            read_vgg_weights(vgg_file), HEIGHT, WIDTH, s.cost_terms(), s.optimizer_options()
        )
    except PrecisionError:
        pytest.skip("no bf16 on this CPU")
    with graph:
        content, style = (reshape_and_normalize_image(x) for x in images)
        a_C = graph.content_target(content)
        grams = [np.asarray(g, np.float32) for g in graph.style_grams(style)]
        graph.set_targets(a_C, grams)
        noisy = content + np.random.default_rng(0).normal(0, 30, content.shape).astype(np.float32)
        feed = {graph.model["input"]: noisy}
        a_G, grams_G = graph.sess.run([graph.model[s.content_layer], graph._grams], feed)
        # What an L-BFGS evaluation fetches (nst_tf1.optimize), alone: the rewrite paints
        # each fetch's graph on its own, and this one had its costs in bfloat16.
        J, J_content, J_style = graph.costs
        fetched = graph.sess.run([J, J_content, J_style, graph._gradient, graph.objective], feed)
        j, jc, js, gradient, objective = fetched
        wide = np.float64 if precision == "bf16" else np.float32
        assert J.dtype.as_numpy_dtype is wide and graph.objective.dtype.as_numpy_dtype is wide
        assert gradient.dtype == np.float32 and np.isfinite(gradient).all()
        if precision == "fp32":
            return
        _, n_H, n_W, n_C = a_G.shape
        diff = a_C.astype(np.float64) - a_G.astype(np.float64)
        assert jc == pytest.approx((diff**2).sum() / (4 * n_H * n_W * n_C), rel=1e-6)
        expected = 0.0
        for (_, coeff), G_S, G_G, pixels in zip(s.style_layers, grams, grams_G, graph.layer_pixels):
            n = G_S.shape[0]
            diff = G_S.astype(np.float64) - G_G.astype(np.float64)
            expected += coeff * (diff**2).sum() / (4 * n**2 * pixels**2)
        # The evaluation's Grams are the bfloat16 matmul's (rounded to 8 bits), the fetched
        # ones here need not be: J_style agrees to that rounding.
        assert js == pytest.approx(expected, rel=1e-2)
        x = noisy.astype(np.float64)
        tv = ((x[:, 1:] - x[:, :-1]) ** 2).sum() + ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum()
        assert j == pytest.approx(s.alpha * jc + s.beta * js + s.tv_weight * tv, rel=1e-12)
        assert objective == pytest.approx(j, rel=1e-12)  # w = 1, no bound fed


def test_bf16_session_config_sets_the_onednn_rewrite(monkeypatch):
    from tensorflow.core.protobuf import rewriter_config_pb2

    from nst_tf1 import graph

    monkeypatch.setattr(graph, "bf16_unsupported_reason", lambda check_tensorflow=True: None)
    rewrite = graph.session_config("bf16").graph_options.rewrite_options
    assert rewrite.auto_mixed_precision_onednn_bfloat16 == rewriter_config_pb2.RewriterConfig.ON
    fp32 = graph.session_config("fp32").graph_options.rewrite_options
    assert fp32.auto_mixed_precision_onednn_bfloat16 == rewriter_config_pb2.RewriterConfig.DEFAULT


def test_cli_bf16_unsupported_is_one_line_and_exit_2(
    monkeypatch, capsys, image_pair, vgg_file, tmp_path
):
    from nst_tf1 import cli, graph

    monkeypatch.setattr(
        graph, "bf16_unsupported_reason", lambda check_tensorflow=True: "no bf16 on this CPU"
    )
    status = cli.main(
        [
            *run_args(image_pair[0], image_pair[1], vgg_file),
            "--output-dir",
            str(tmp_path),
            "--precision",
            "bf16",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == ["nst-tf1: error: --precision bf16 is not available: no bf16 on this CPU"]


def test_cli_lbfgs_writes_the_result(image_pair, vgg_file, tmp_path):
    result = run_cli(
        *run_args(image_pair[0], image_pair[1], vgg_file),
        "--output-dir",
        tmp_path,
        "--optimizer",
        "lbfgs",
        "--iterations",
        4,
        "--save-every",
        2,
        "--seed",
        0,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "at most 4 L-BFGS evaluations" in result.stdout
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if n.endswith((".png", ".jpg"))] == [
        "0.png",
        "2.png",
        "generated_image.jpg",
        "generated_image.png",
    ]
    if "run.json" in names:
        import json

        settings = json.loads((tmp_path / "run.json").read_text())["settings"]
        assert settings["optimizer"] == "lbfgs"


def test_weights_as_variables_match_constants_and_leave_the_graphdef_small(vgg_file):
    import tensorflow.compat.v1 as tf

    from nst_tf1.vgg import build_vgg_model, initialize_vgg_weights, read_vgg_weights

    weights = read_vgg_weights(vgg_file)
    image = np.random.default_rng(0).uniform(-100, 100, (1, HEIGHT, WIDTH, 3)).astype(np.float32)
    outputs, sizes = {}, {}
    for mode in ("constants", "variables"):
        with tf.Graph().as_default() as graph, tf.Session() as sess:
            model = build_vgg_model(weights, HEIGHT, WIDTH, weights_as=mode)
            initialize_vgg_weights(sess, weights)
            sess.run(model["input"].assign(image))
            outputs[mode] = sess.run(
                {key: model[key] for key in ("conv1_1", "conv4_2", "avgpool5")}
            )
            sizes[mode] = graph.as_graph_def().ByteSize()
    for key, value in outputs["constants"].items():
        np.testing.assert_allclose(outputs["variables"][key], value, rtol=1e-5, atol=1e-4)
    weight_bytes = sum(W.nbytes + b.nbytes for W, b in weights.layers.values())
    assert sizes["constants"] > weight_bytes
    # Only the input Variable's zero start image remains: 4 bytes per pixel channel.
    assert sizes["variables"] < 4 * HEIGHT * WIDTH * 3 + 200_000
    with pytest.raises(ValueError, match="weights_as"):
        with tf.Graph().as_default():
            build_vgg_model(weights, HEIGHT, WIDTH, weights_as="disk")


def test_adam_step_runs_nothing_past_conv5_1(images, vgg_file):
    # The cost reads conv4_2 and conv1_1..conv5_1: conv5_2..conv5_4 and the pooling after
    # conv5_1 must not run in a training step.
    import tensorflow.compat.v1 as tf

    from nst_tf1.costs import compute_content_cost, compute_style_cost, total_cost
    from nst_tf1.images import generate_noise_image, reshape_and_normalize_image
    from nst_tf1.vgg import build_vgg_model, initialize_vgg_weights, read_vgg_weights

    weights = read_vgg_weights(vgg_file)
    content, style = (reshape_and_normalize_image(i) for i in images)
    with tf.Graph().as_default(), tf.Session() as sess:
        model = build_vgg_model(weights, HEIGHT, WIDTH, weights_as="variables")
        initialize_vgg_weights(sess, weights)
        sess.run(model["input"].assign(content))
        J_content = compute_content_cost(sess.run(model["conv4_2"]), model["conv4_2"])
        sess.run(model["input"].assign(style))
        J = total_cost(J_content, compute_style_cost(sess, model))
        train_step = tf.train.AdamOptimizer(2.0).minimize(J)
        sess.run(tf.global_variables_initializer())
        sess.run(model["input"].assign(generate_noise_image(content, seed=0)))
        metadata = tf.RunMetadata()
        sess.run(
            [train_step, J],
            options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
            run_metadata=metadata,
        )
    ran = {node.node_name for dev in metadata.step_stats.dev_stats for node in dev.node_stats}
    assert any(name.startswith("vgg19/conv5_1/") for name in ran)
    assert any("conv1_1" in name and "grad" in name.lower() for name in ran)
    for skipped in ("conv5_2", "conv5_3", "conv5_4", "avgpool5"):
        assert not [name for name in ran if f"/{skipped}/" in name], skipped


def test_style_cost_with_a_S_in_variables_equals_the_course_constants(images, vgg_file):
    import tensorflow.compat.v1 as tf

    from nst_tf1.costs import compute_style_cost
    from nst_tf1.images import reshape_and_normalize_image
    from nst_tf1.vgg import load_vgg_model

    style = reshape_and_normalize_image(images[1])
    generated = reshape_and_normalize_image(images[0])
    values, sizes = {}, {}
    for mode in ("constants", "variables"):
        with tf.Graph().as_default() as graph, tf.Session() as sess:
            model = load_vgg_model(vgg_file, HEIGHT, WIDTH)
            sess.run(model["input"].assign(style))
            J_style = compute_style_cost(sess, model, a_S_as=mode)
            # Held a_S must not follow the input: assign another image before evaluating.
            sess.run(model["input"].assign(generated))
            values[mode] = sess.run(J_style)
            sizes[mode] = graph.as_graph_def().ByteSize()
    assert values["variables"] == pytest.approx(values["constants"], rel=1e-6)
    assert values["constants"] > 0
    assert sizes["variables"] < sizes["constants"]
    with pytest.raises(ValueError, match="a_S_as"):
        compute_style_cost(None, {}, a_S_as="disk")


def test_engine_lbfgs_and_bf16_through_the_reused_graph(images, vgg_file):
    from nst_tf1.graph import bf16_unsupported_reason
    from nst_tf1.settings import Settings
    from nst_tf1.transfer import Runner
    from nst_tf1.vgg import read_vgg_weights

    weights = read_vgg_weights(vgg_file)
    precision = "bf16" if bf16_unsupported_reason() is None else "fp32"
    settings = Settings(
        optimizer="lbfgs", precision=precision, iterations=6, save_every=3, seed=0, pooling="max"
    )
    with Runner(weights, settings) as runner:
        for _ in range(2):  # the second run reuses the finalised graph
            steps = [p.step for p in runner.run(images[0], [images[1]])]
            assert [s.iteration for s in steps] == [*range(6), 6]
            assert steps[-1].total_cost < steps[0].total_cost
            assert _in_bounds(steps[-1].image)
        assert runner.graphs_built == 1


def test_cli_extended_path_takes_the_optimizer(image_pair, vgg_file, tmp_path):
    result = run_cli(
        *run_args(image_pair[0], image_pair[1], vgg_file),
        "--output-dir",
        tmp_path,
        "--pooling",
        "max",
        "--optimizer",
        "lbfgs",
        "--iterations",
        3,
        "--seed",
        0,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "generated_image.jpg").exists()


def _only_a_cpu():
    import tensorflow.compat.v1 as tf

    return all(d.device_type == "CPU" for d in tf.config.list_physical_devices())


def _backprop_labels(graph):
    return {
        op.get_attr("_kernel").decode()
        for op in graph.get_operations()
        if op.type == "Conv2DBackpropInput" and "_kernel" in op.node_def.attr
    }


def _style_transposes(graph):
    """How many Transpose ops the forward style costs of ``graph`` hold (the course's Gram
    transposes each layer's activations twice: ``_unroll`` and ``gram_matrix``)."""
    ops = graph.get_operations()
    return sum(op.type == "Transpose" and op.name.startswith("style_cost/") for op in ops)


@pytest.mark.skipif("not _only_a_cpu()", reason="the labels apply only without accelerators")
def test_lbfgs_gradient_takes_the_lean_kernel_and_matches_the_default(images, vgg_file):
    """The L-BFGS graph's dJ/dX of each convolution runs TensorFlow's blockwise Eigen kernel
    (LBFGS_KERNEL_LABELS) and its Grams are symmetric_gram's (no transposed copy of an
    activation); the gradient equals the default kernel's through the course's gram_matrix up
    to rounding, and the course's Adam graph keeps the default kernel and the course's Gram
    (it matches the course bit for bit)."""
    import tensorflow.compat.v1 as tf

    from nst_tf1.graph import TransferGraph
    from nst_tf1.images import generate_noise_image, reshape_and_normalize_image
    from nst_tf1.optimize import LBFGS_KERNEL_LABELS
    from nst_tf1.settings import Settings
    from nst_tf1.vgg import read_vgg_weights

    weights = read_vgg_weights(vgg_file)
    content, style = (reshape_and_normalize_image(i) for i in images)
    generated = generate_noise_image(content, seed=0)
    course, fast = Settings(), Settings(optimizer="lbfgs", precision="fp32")
    with TransferGraph(
        weights, HEIGHT, WIDTH, course.cost_terms(), course.optimizer_options()
    ) as adam:
        assert _backprop_labels(adam.graph) == set()
        assert _style_transposes(adam.graph) == len(course.style_layers) * 2
    with TransferGraph(
        weights, HEIGHT, WIDTH, fast.cost_terms(), fast.optimizer_options()
    ) as lbfgs:
        assert _backprop_labels(lbfgs.graph) == {LBFGS_KERNEL_LABELS["Conv2DBackpropInput"]}
        assert _style_transposes(lbfgs.graph) == 0
        a_C, grams = lbfgs.content_target(content), lbfgs.style_grams(style)
        feed = {lbfgs._a_C_value: a_C, **dict(zip(lbfgs._gram_values, grams))}
        lbfgs.sess.run([lbfgs._assign_a_C, *lbfgs._assign_grams], feed)
        lean = lbfgs.sess.run(lbfgs._gradient, {lbfgs.model["input"]: generated})
        # The same J, differentiated in a second graph with the default kernels.
        with tf.Graph().as_default():
            from nst_tf1.costs import compute_content_cost, compute_style_cost, total_cost
            from nst_tf1.vgg import build_vgg_model

            with tf.Session() as sess:
                model = build_vgg_model(weights, HEIGHT, WIDTH)
                sess.run(model["input"].assign(content))
                J_content = compute_content_cost(sess.run(model["conv4_2"]), model["conv4_2"])
                sess.run(model["input"].assign(style))
                J = total_cost(J_content, compute_style_cost(sess, model))
                (gradient,) = tf.gradients(J, model["input"])
                assert _backprop_labels(sess.graph) == set()
                default = sess.run(gradient, {model["input"]: generated})
    assert np.abs(lean).max() > 0
    np.testing.assert_allclose(lean, default, rtol=1e-4, atol=1e-5 * np.abs(default).max())


@pytest.mark.skipif("not _only_a_cpu()", reason="the labels apply only without accelerators")
def test_lean_kernels_change_nothing_without_the_kernel_or_with_a_gpu(monkeypatch):
    import tensorflow.compat.v1 as tf

    from nst_tf1.optimize import lean_kernels

    def backprop_labels(labels):
        with tf.Graph().as_default() as graph:
            x = tf.placeholder(tf.float32, (1, 4, 4, 2))
            with lean_kernels(graph, labels):
                tf.gradients(tf.nn.conv2d(x, tf.ones((3, 3, 2, 2)), 1, "SAME"), x)
        return _backprop_labels(graph)

    assert backprop_labels({"Conv2DBackpropInput": "eigen_tensor"}) == {"eigen_tensor"}
    assert backprop_labels({"Conv2DBackpropInput": "no_such_kernel"}) == set()
    real = tf.config.list_physical_devices()
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [*real, gpu])
    assert backprop_labels({"Conv2DBackpropInput": "eigen_tensor"}) == set()
    # A TensorFlow whose graphs lack the private switch: nothing changes, nothing fails.
    monkeypatch.undo()
    monkeypatch.delattr(tf.Graph, "_kernel_label_map")
    assert backprop_labels({"Conv2DBackpropInput": "eigen_tensor"}) == set()
