"""--fast, --precision auto, L-BFGS's first step and stopping rule, and the saved results."""

import json

import numpy as np
import pytest
from conftest import run_args, run_cli

from nst_tf1.config import CONFIG
from nst_tf1.settings import COURSE, FAST, FAST_MAX_SIZE, Settings, SettingsError

NO_BF16_CPU = {"fpu", "sse2", "avx2", "fma"}


def _main(*argv, capsys):
    from nst_tf1.cli import main

    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _record(out_dir):
    with open(out_dir / "run.json") as f:
        return json.load(f)


# --- settings -----------------------------------------------------------------------------


def test_fast_fills_only_the_options_not_given():
    fast = Settings(fast=True, optimizer="lbfgs", iterations=7)
    assert fast.optimizer == "lbfgs" and fast.iterations == 7  # explicit flags win
    for name, value in FAST.items():
        if name not in ("optimizer", "iterations"):
            assert getattr(fast, name) == value
    assert fast.chosen_by_fast == {
        **{k: v for k, v in FAST.items() if k not in ("optimizer", "iterations") and v is not None},
        "max_size": FAST_MAX_SIZE,  # no size given: the content's shape kept
    }
    course = Settings()
    assert {name: getattr(course, name) for name in COURSE} == COURSE
    assert course.chosen_by_fast == {}


def test_fast_chooses_only_what_acts():
    """Issue 23 (UX): --fast --optimizer adam announced L-BFGS's --term-balance and
    --stop-progress, --fast --multires 1 the coarse scales' --coarse-iterations and
    --coarse-upsample; none of them acts there."""
    adam = Settings(fast=True, optimizer="adam")
    assert (adam.multires, adam.coarse_iterations) == (FAST["multires"], FAST["coarse_iterations"])
    assert not {"course_preview", "stop_progress"} & set(adam.chosen_by_fast)
    assert adam.course_preview is None and adam.stop_progress is None
    one = Settings(fast=True, multires=1)
    assert one.optimizer == "lbfgs" and one.course_preview == FAST["course_preview"]
    assert not {"coarse_iterations", "coarse_upsample"} & set(one.chosen_by_fast)
    assert (one.coarse_iterations, one.coarse_upsample) == (None, COURSE["coarse_upsample"])
    assert adam.ignored == one.ignored == Settings(fast=True).ignored == {}


def test_options_that_do_not_act_are_said_once(vgg_file, image_pair, tmp_path, capsys):
    """Issue 23 (UX): --stop-balance, --term-balance and --stop-progress with Adam, and
    --coarse-iterations or --coarse-upsample without --multires, were ignored without a
    word. One note says which (an option at the course's value is not news)."""
    settings = Settings(stop_progress=0.1, coarse_upsample="image", coarse_iterations=5)
    assert settings.ignored == {
        "stop_progress": "--optimizer lbfgs",
        "coarse_iterations": "--multires 2 or more",
    }
    status, _, err = _main(
        *run_args(image_pair[0], image_pair[1], vgg_file),
        "--output-dir",
        tmp_path / "out",
        "--iterations",
        1,
        "--stop-balance",
        3000,
        "--coarse-iterations",
        5,
        capsys=capsys,
    )
    assert status == 0, err
    lines = [line for line in err.splitlines() if "ignored" in line]
    assert lines == [
        "nst-tf1: ignored: --stop-balance 3000 (acts only with --optimizer lbfgs), "
        "--coarse-iterations 5 (acts only with --multires 2 or more)"
    ], err


def test_a_learning_rate_given_to_lbfgs_is_said_to_be_ignored():
    """--learning-rate with L-BFGS (--fast's optimizer) was ignored without a word: its
    default was a number, so a given value could not be told from it."""
    assert Settings(optimizer="lbfgs", learning_rate=5.0).ignored == {
        "learning_rate": "--optimizer adam"
    }
    fast = Settings(fast=True, learning_rate=0.5)
    assert fast.ignored == {"learning_rate": "--optimizer adam"}
    assert fast.learning_rate == 0.5  # kept as given: run.json records what was asked
    # Not given, or given at the course's value, or acting: nothing to say.
    for quiet in (
        Settings(fast=True),
        Settings(optimizer="lbfgs", learning_rate=CONFIG.LEARNING_RATE),
        Settings(learning_rate=5.0),
        Settings(fast=True, optimizer="adam", learning_rate=5.0),
    ):
        assert quiet.ignored == {}
    assert Settings().learning_rate == Settings(fast=True).learning_rate == CONFIG.LEARNING_RATE
    assert (
        Settings(fast=True, optimizer="adam", learning_rate=5.0).optimizer_options().learning_rate
        == 5.0
    )


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("stop_balance", -1.0, "--stop-balance: must be a finite number > 0"),
        ("stop_balance", 0.0, "--stop-balance: must be a finite number > 0"),
        ("coarse_iterations", 0, "--coarse-iterations: must be a whole number of at least 1"),
        ("term_balance", 0.0, "--term-balance: must be a finite number > 0"),
        ("course_preview", 0, "--course-preview: must be a whole number of at least 1"),
        ("course_preview", 2.5, "--course-preview: must be a whole number"),
        ("stop_progress", float("inf"), "--stop-progress: must be a finite number > 0"),
        ("coarse_upsample", "nearest", "--coarse-upsample: choose from image, residual"),
    ],
)
def test_fast_options_are_checked(field, value, needle):
    with pytest.raises(SettingsError, match=needle):
        Settings(**{field: value})


def test_help_says_explicit_flags_win():
    result = run_cli("--help")
    text = " ".join(result.stdout.split())
    assert "--fast" in text and "given explicitly wins over --fast's choice" in text
    assert "auto: bf16 where the CPU has it, else fp32" in text


# --- precision ----------------------------------------------------------------------------


def test_precision_auto_is_fp32_without_bf16_instructions(monkeypatch):
    from nst_tf1 import graph

    monkeypatch.setattr(graph, "cpu_info", lambda: {"flags": set(NO_BF16_CPU)})
    precision, why = graph.resolve_precision("auto")
    assert precision == "fp32" and "no bfloat16 instructions" in why
    config = graph.session_config("auto")  # never an error
    assert not config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16
    with pytest.raises(graph.PrecisionError):
        graph.session_config("bf16")


def test_precision_auto_is_bf16_with_bf16_instructions(monkeypatch):
    from tensorflow.python.util import _pywrap_util_port

    from nst_tf1 import graph

    monkeypatch.setattr(graph, "cpu_info", lambda: {"flags": NO_BF16_CPU | {"avx512_bf16"}})
    monkeypatch.setattr(_pywrap_util_port, "IsMklEnabled", lambda: True)
    assert graph.resolve_precision("auto")[0] == "bf16"


# --- L-BFGS: the first step and the stopping rule ------------------------------------------


def _quadratic(tf, shape=(1, 6, 8, 3), offset=120.0):
    """J = sum (G - T)^2 with T far from the start, so dJ/dG is large at the start."""
    rng = np.random.default_rng(0)
    image = tf.Variable(np.zeros(shape, np.float32), name="input")
    target = tf.constant((rng.uniform(-1, 1, shape) * offset).astype(np.float32))
    J = 1000.0 * tf.reduce_sum(tf.square(image - target))
    return image, (J, J, 0.0 * J)


def _evaluated_images(first_step, stop_when=None, budget=10):
    import tensorflow.compat.v1 as tf

    from nst_tf1.optimize import model_lbfgs

    tf.disable_v2_behavior()
    with tf.Graph().as_default(), tf.Session() as sess:
        image, costs = _quadratic(tf)
        sess.run(image.initializer)
        steps = list(
            model_lbfgs(
                sess,
                {"input": image},
                costs,
                budget,
                save_every=1,
                first_step=first_step,
                stop_when=stop_when,
            )
        )
    return steps


def test_lbfgs_first_step_moves_no_pixel_further_than_first_step():
    steps = _evaluated_images(first_step=32.0)
    moved = np.abs(steps[1].image - steps[0].image).max()
    assert moved <= 32.0 + 1e-3
    assert steps[1].total_cost < steps[0].total_cost  # no overshoot
    # Unscaled, L-BFGS-B's first step has length 1 over all the pixels together.
    unscaled = _evaluated_images(first_step=None)
    assert np.linalg.norm(unscaled[1].image - unscaled[0].image) <= 1.0 + 1e-3


def test_lbfgs_with_no_evaluations_gives_the_start_and_its_costs():
    """Runner.run(iterations=0) allows 0 ("only the initial image's costs"); L-BFGS raised
    AttributeError there (the objective refuses an evaluation past the budget, so no best
    image)."""
    steps = _evaluated_images(first_step=32.0, budget=0)
    start = _evaluated_images(first_step=32.0, budget=1)[0]
    assert [s.iteration for s in steps] == [0]
    np.testing.assert_array_equal(steps[0].image, start.image)
    assert steps[0].total_cost == pytest.approx(start.total_cost, rel=1e-6)


def test_lbfgs_stop_when_ends_early_as_converged():
    from nst_tf1.optimize import MIN_EVALUATIONS

    seen = []

    def half_way(best):
        seen.append(best)
        return best.total_cost <= 0.5 * start

    start = _evaluated_images(first_step=32.0, budget=1)[0].total_cost
    steps = _evaluated_images(first_step=32.0, stop_when=half_way, budget=30)
    evaluated, final = steps[:-1], steps[-1]
    assert MIN_EVALUATIONS <= len(evaluated) < 30
    assert final.iteration == 30  # the final image, as when the budget is spent
    assert final.total_cost <= 0.5 * start
    assert final.total_cost == min(s.total_cost for s in evaluated)
    assert all(best.image is None for best in seen)


def test_stop_balance_compares_the_weighted_terms():
    from nst_tf1.optimize import Step
    from nst_tf1.schedule import balanced
    from nst_tf1.settings import Settings

    settings = Settings(stop_balance=100.0, alpha=10, beta=40)
    assert balanced(settings, Step(0, 0.0, content_cost=10.0, style_cost=250.0, image=None))
    assert not balanced(settings, Step(0, 0.0, content_cost=10.0, style_cost=251.0, image=None))
    assert not balanced(Settings(), Step(0, 0.0, 10.0, 1.0, None))


# --- the content weight, the stopping rule, the coarse scale's upsampling -----------------


def test_content_weight_weighs_the_terms_against_their_own_scales():
    from nst_tf1.schedule import content_weight

    # J_style(C) = 1e7, J_content(S) = 1000: beta 1e7 / (R alpha 1000) = 40e7 / 160e3.
    w = content_weight(10, 40, 1e7, 1000.0, 16)
    assert w == pytest.approx(2500.0)
    # Each term divided by its scale, the style term weighs R times the content term.
    assert (40 * 1e7) / (w * 10 * 1000.0) == pytest.approx(16)
    assert content_weight(10, 40, 1.0, 1000.0, 16) == 1.0  # never below the course's J
    assert content_weight(0, 40, 1e7, 1000.0, 16) == 1.0  # no content term to weigh
    assert content_weight(10, 40, 1e7, 0.0, 16) == 1.0  # the style is the content
    assert content_weight(10, 40, float("nan"), 1000.0, 16) == 1.0


def test_progress_stop_reads_the_weighted_objective_over_its_window():
    from nst_tf1.optimize import Step
    from nst_tf1.schedule import ProgressStop

    def step(J, J_content):
        return Step(0, J, J_content, 0.0, None)

    stop = ProgressStop(0.1, window=2, alpha=10, weight=3.0)
    # J_w = J + 2 * 10 * J_content: 200, 150, 120, 110, 105.
    assert stop.objective(step(100.0, 5.0)) == 200.0
    answers = [stop(step(J, 5.0)) for J in (100.0, 50.0, 20.0, 10.0, 5.0)]
    # Falls over two evaluations: 200 -> 120 by 80, 150 -> 110 by 40, 120 -> 105 by 15 (more
    # than 10% of 105): it goes on.
    assert answers == [False] * 5
    assert stop(step(2.0, 5.0))  # 110 -> 102 by 8, less than 10% of 102: it stops
    # The content term counts w times: the same J with a rising J_content does not stop.
    rising = ProgressStop(0.1, window=2, alpha=10, weight=3.0)
    assert not any(rising(step(J, c)) for J, c in ((100, 5), (50, 3), (20, 2), (10, 1)))


def test_content_bound_reads_the_course_start_and_the_style_scale():
    from nst_tf1.schedule import bound_penalty, content_bound

    # b = 1.5 J_content(G0); rho = kappa beta J_style(C) / b^2.
    b, rho = content_bound(40, 1e7, 400.0, 1.5, strength=100.0)
    assert b == pytest.approx(600.0)
    assert rho == pytest.approx(100.0 * 40 * 1e7 / 600.0**2)
    # Exceeding b by 10% of b costs kappa 0.01 beta J_style(C): the style term of C at kappa=100.
    assert bound_penalty(660.0, (b, rho)) == pytest.approx(40 * 1e7)
    assert bound_penalty(600.0, (b, rho)) == 0.0 and bound_penalty(1.0, (b, rho)) == 0.0
    assert bound_penalty(1e9, None) == 0.0
    assert content_bound(0, 1e7, 400.0, 1.5) is None  # no style term: nothing to trade
    assert content_bound(40, 1e7, 0.0, 1.5) is None  # the start is the content itself
    assert content_bound(40, float("inf"), 400.0, 1.5) is None


def test_progress_stop_counts_the_content_bound_penalty():
    from nst_tf1.optimize import Step
    from nst_tf1.schedule import ProgressStop

    stop = ProgressStop(0.1, window=2, alpha=10, bound=(5.0, 2.0))
    # J + 2 max(0, J_content - 5)^2: J_content 5 adds nothing, 7 adds 8.
    assert stop.objective(Step(0, 100.0, 5.0, 0.0, None)) == 100.0
    assert stop.objective(Step(0, 100.0, 7.0, 0.0, None)) == 108.0
    # J falls fast while the content leaves the region: the objective 100, 88, 92, 100, 117
    # stops falling (100 -> 92 over two evaluations, less than 10% of 92).
    trace = [(100.0, 5.0), (80.0, 7.0), (60.0, 9.0), (50.0, 10.0), (45.0, 11.0)]
    assert [stop(Step(0, J, c, 0.0, None)) for J, c in trace] == [False, False, True, True, True]
    free = ProgressStop(0.1, window=2, alpha=10)  # J alone: 100, 80, 60, 50, 45 goes on
    assert not any(free(Step(0, J, c, 0.0, None)) for J, c in trace[:4])


def test_graph_minimises_j_plus_the_content_bound_penalty(vgg_file, image_pair):
    from nst_tf1.graph import TransferGraph
    from nst_tf1.images import generate_noise_image, load_image, reshape_and_normalize_image
    from nst_tf1.settings import Settings
    from nst_tf1.vgg import read_vgg_weights

    s = Settings(optimizer="lbfgs", precision="fp32", height=32, width=48)
    with TransferGraph(
        read_vgg_weights(vgg_file), 32, 48, s.cost_terms(), s.optimizer_options()
    ) as g:
        C = reshape_and_normalize_image(load_image(image_pair[0], 32, 48))
        S = reshape_and_normalize_image(load_image(image_pair[1], 32, 48))
        g.set_targets(g.content_target(C), g.style_grams(S))
        G = generate_noise_image(C, 0.6, seed=0)
        J, Jc, Js = g.evaluate(G)
        assert Jc > 0
        rho = np.float32(4 * J / Jc**2)  # a penalty as large as J at b = J_content / 2
        feed = {g.model["input"]: G, g.content_bound: np.float32(Jc / 2), g.bound_weight: rho}
        value, grad = g.sess.run([g.objective, g._gradient], feed)
        np.testing.assert_allclose(value, 2 * J, rtol=1e-5)
        # Its gradient: dJ/dG + 2 rho (J_content - b) dJ_content/dG, which is the gradient of
        # J with the content term weighted w = 1 + 2 rho (J_content - b) / alpha.
        plain = g.sess.run(g._gradient, {g.model["input"]: G})
        w = 1 + 2 * float(rho) * (Jc / 2) / s.alpha
        expected = g.sess.run(g._gradient, {g.model["input"]: G, g.content_weight: w})
        scale = np.abs(expected).max()
        np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-3 * scale)
        assert np.abs(grad - plain).max() > 0.05 * scale  # the penalty's part is not small
        feed[g.content_bound] = np.float32(2 * Jc)  # inside the region: J's gradient alone
        np.testing.assert_array_equal(g.sess.run(g._gradient, feed), plain)


def test_residual_upsampling_keeps_the_content_detail():
    from nst_tf1.images import resize_array
    from nst_tf1.transfer import _upsampled

    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (32, 48, 3)).astype(np.float32)
    small = resize_array(content, 16, 24)
    changed = np.clip(small + 30.0, 0, 255)  # what the coarse scale did: brighter
    normalised = {}
    for mode in ("image", "residual"):
        normalised[mode] = _upsampled(changed, small, content, mode)[0]
    from nst_tf1.config import CONFIG

    residual = normalised["residual"] + CONFIG.MEANS[0]
    expected = np.clip(
        content + resize_array(changed, 32, 48) - resize_array(small, 32, 48), 0, 255
    )
    np.testing.assert_allclose(residual, expected, atol=1e-3)
    # Where nothing was clipped, the full-size content's detail is all there, 30 levels up.
    inside = (content > 40) & (content < 200)
    np.testing.assert_allclose((residual - content)[inside], 30.0, atol=1.0)
    # Upsampling the image instead loses it: the small image holds no fine detail.
    image = normalised["image"] + CONFIG.MEANS[0]
    assert np.abs(image - content - 30.0)[inside].mean() > 20


def _recolored_reference(content, style):
    """The content's pixels given the style's colour mean and covariance, in NumPy:
    x' = Sigma_S^(1/2) Sigma_C^(-1/2) (x - mu_C) + mu_S, clipped to 0..255."""

    def roots(cov):
        w, v = np.linalg.eigh(cov)
        return (v * np.sqrt(w)) @ v.T, (v / np.sqrt(w)) @ v.T

    c, s = (x.reshape(-1, 3).astype(np.float64) for x in (content, style))
    root_s, _ = roots(np.cov(s, rowvar=False, bias=True))
    _, inverse_root_c = roots(np.cov(c, rowvar=False, bias=True))
    out = (c - c.mean(axis=0)) @ (root_s @ inverse_root_c).T + s.mean(axis=0)
    return np.clip(out, 0, 255).reshape(content.shape)


def test_recolored_start_is_the_content_in_the_styles_colours(vgg_file):
    """--init recolored (--fast's): the first image L-BFGS sees is the content with the
    style's colour mean and covariance, at every scale's size."""
    from nst_tf1.config import CONFIG
    from nst_tf1.transfer import Runner
    from nst_tf1.vgg import read_vgg_weights

    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:32, 0:48]
    content = np.stack([2 * x + 40, 3 * y + 60, x + y + 80], axis=-1).astype(np.float32)
    content += rng.normal(0, 5, content.shape).astype(np.float32)
    style = rng.normal((150, 90, 60), (20, 10, 5), (40, 40, 3)).clip(0, 255).astype(np.float32)
    settings = Settings(optimizer="lbfgs", init="recolored", height=32, width=48)
    with Runner(read_vgg_weights(vgg_file), settings) as runner:
        steps = [p.step for p in runner.run(content, [style], iterations=0)]
    first = steps[0].image[0] + CONFIG.MEANS[0]
    from nst_tf1.images import resize_array

    expected = _recolored_reference(content, resize_array(style, 32, 48))
    np.testing.assert_allclose(first, expected, atol=0.05)
    # Its colours are the style's (nothing was clipped here), its shapes the content's.
    assert 0 < expected.min() and expected.max() < 255
    np.testing.assert_allclose(first.reshape(-1, 3).mean(axis=0), style.mean(axis=(0, 1)), atol=2)
    assert np.corrcoef(first[..., 0].ravel(), content[..., 0].ravel())[0, 1] > 0.9
    assert Settings(fast=True).init == FAST["init"] == "recolored"


def test_fast_content_weight_keeps_more_content_than_the_course_weights(vgg_file, image_pair):
    from nst_tf1.settings import Settings
    from nst_tf1.transfer import Runner
    from nst_tf1.vgg import read_vgg_weights

    weights = read_vgg_weights(vgg_file)
    finals = {}
    for balance in (None, 1.0):
        settings = Settings(
            optimizer="lbfgs", init="content", height=32, width=48, term_balance=balance
        )
        with Runner(weights, settings) as runner:
            steps = [p.step for p in runner.run(image_pair[0], [image_pair[1]], iterations=12)]
            finals[balance] = steps[-1]
    assert finals[1.0].content_cost < finals[None].content_cost


@pytest.mark.parametrize("case", ["one style", "two styles", "style at half size"])
def test_content_weight_scales_come_from_the_target_passes(vgg_file, image_pair, monkeypatch, case):
    """J_style(C) and J_content(S), read from the passes that make the targets (and, for a
    style of another size or Grams from the cache, from a pass of the style at the output
    size), equal the costs of the content and style images evaluated as images against the
    run's targets."""
    from conftest import HEIGHT, WIDTH

    import nst_tf1.transfer as transfer
    from nst_tf1.graph import TransferGraph
    from nst_tf1.images import load_image, reshape_and_normalize_image
    from nst_tf1.vgg import read_vgg_weights

    content, style = (load_image(path, HEIGHT, WIDTH) for path in image_pair)
    styles, mix = [style], [1.0]
    if case == "two styles":
        styles, mix = [style, style[::-1, ::-1].copy()], [0.25, 0.75]
    scale = 0.5 if case == "style at half size" else 1.0
    settings = Settings(
        optimizer="lbfgs", height=HEIGHT, width=WIDTH, term_balance=32.0, style_scale=scale
    )
    seen = []

    def recording(alpha, beta, style_of_content, content_of_style, ratio):
        seen.append((style_of_content, content_of_style))
        return 1.0

    monkeypatch.setattr(transfer, "content_weight", recording)
    weights = read_vgg_weights(vgg_file)
    with transfer.Runner(weights, settings) as runner:
        # Twice: the second run takes the style's Grams from the cache.
        for _ in range(2):
            list(runner.run(content, styles, mix, iterations=0))
    # The reference: the old way, each image evaluated whole against the run's targets.
    net = [reshape_and_normalize_image(x) for x in (content, *styles)]
    with TransferGraph(
        weights, HEIGHT, WIDTH, settings.cost_terms(), settings.optimizer_options()
    ) as g:
        a_C = g.content_target(net[0])
        if scale == 1.0:
            targets = [
                sum(w * G for w, G in zip(mix, grams))
                for grams in zip(*map(g.style_grams, net[1:]))
            ]
            g.set_targets(a_C, targets)
            expected_style = g.evaluate(net[0])[2]
            assert [a for a, _ in seen] == pytest.approx([expected_style] * 2, rel=1e-5)
        else:
            g.set_targets(a_C, [np.zeros_like(G) for G in g.style_grams(net[1])])
        expected_content = sum(w * g.evaluate(x)[1] for w, x in zip(mix, net[1:]))
    assert [b for _, b in seen] == pytest.approx([expected_content] * 2, rel=1e-5)
    assert 0 < seen[0][1] and 0 < seen[0][0]


# --- whole runs ----------------------------------------------------------------------------


def test_fast_run_end_to_end_records_its_choices(
    vgg_file, image_pair, tmp_path, monkeypatch, capsys
):
    from nst_tf1 import graph

    monkeypatch.setattr(graph, "cpu_info", lambda: {"flags": set(NO_BF16_CPU)})
    out = tmp_path / "fast"
    status, stdout, err = _main(
        "--content",
        image_pair[0],
        "--style",
        image_pair[1],
        "--model",
        vgg_file,
        "--output-dir",
        out,
        "--height",
        64,
        "--width",
        96,
        "--seed",
        0,
        "--fast",
        capsys=capsys,
    )
    assert status == 0, err
    assert "nst-tf1: --fast chose: --optimizer lbfgs --precision auto" in err
    assert "nst-tf1: --precision auto: fp32 (this CPU has no bfloat16 instructions" in err
    assert "Scale 1/2: 32x48" in stdout and "Scale 2/2: 64x96" in stdout
    record = _record(out)
    assert record["choices"]["fast"] == {k: v for k, v in FAST.items() if v is not None}
    assert record["choices"]["precision"]["ran"] == "fp32"
    assert record["settings"]["fast"] is True and record["settings"]["optimizer"] == "lbfgs"
    # The output scale ran the detail phase whole, then at most --iterations evaluations of
    # J; the detail phase recorded the course's costs where it saved only (null elsewhere).
    costs, detail = record["costs"], FAST["detail_iterations"]
    assert detail < len(costs["iteration"]) - 1 <= detail + FAST["iterations"]
    known = [i for i, J in zip(costs["iteration"], costs["total_cost"]) if J is not None]
    assert [i for i in known if i < detail] == list(range(0, detail, FAST["save_every"]))
    assert [i for i in known if i >= detail] == costs["iteration"][detail:]
    saves = [entry["iteration"] for entry in record["saves"]]
    assert saves == list(range(0, len(costs["iteration"]) - 1, FAST["save_every"]))
    assert f"at most {detail + FAST['iterations']} L-BFGS evaluations" in stdout
    layers = ["conv1_1", "conv2_1", "conv3_1"]
    assert record["choices"]["detail"] == {"iterations": detail, "layers": layers}
    assert (
        f"The first {detail} evaluations minimise the style terms of conv1_1, conv2_1, "
        f"conv3_1 alone (the style's fine detail; costs shown where saved), then J from "
        f"evaluation {detail} on (where J may rise at first: the detail phase leaves the "
        f"content aside, and J brings it back)\n"
    ) in stdout
    assert record["status"] == "finished"


def test_explicit_flags_override_fast(vgg_file, image_pair, tmp_path, capsys):
    out = tmp_path / "adam"
    status, _, err = _main(
        *run_args(image_pair[0], image_pair[1], vgg_file),
        "--output-dir",
        out,
        "--fast",
        "--optimizer",
        "adam",
        "--multires",
        1,
        "--iterations",
        3,
        "--precision",
        "fp32",
        capsys=capsys,
    )
    assert status == 0, err
    record = _record(out)
    assert record["settings"]["optimizer"] == "adam"
    assert record["costs"]["iteration"] == [0, 1, 2, 3]
    # L-BFGS's options and the coarse scales' do not act here: --fast chose none of them.
    assert set(record["choices"]["fast"]) == {"init", "save_every"}
    assert "--precision" not in err.split("--fast chose:")[1]


def test_every_run_saves_a_lossless_png_and_the_saved_costs(vgg_file, image_pair, tmp_path, capsys):
    from PIL import Image

    from nst_tf1.images import JPEG_QUALITY

    out = tmp_path / "course"
    status, _, err = _main(
        *run_args(image_pair[0], image_pair[1], vgg_file),
        "--output-dir",
        out,
        "--iterations",
        4,
        "--seed",
        0,
        capsys=capsys,
    )
    assert status == 0, err
    final = _record(out)["final"]
    assert set(final["saved"]) == {"generated_image.png", "generated_image.jpg"}
    with (
        Image.open(out / "generated_image.png") as png,
        Image.open(out / "generated_image.jpg") as jpg,
    ):
        png_pixels = np.asarray(png.convert("RGB"), np.int16)
        # The JPEG is the same image at JPEG_QUALITY: its quantisation tables are the ones
        # Pillow uses for that quality.
        reference = Image.fromarray(png_pixels.astype(np.uint8))
        import io

        buffer = io.BytesIO()
        reference.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        with Image.open(buffer) as expected:
            assert jpg.quantization == expected.quantization
        assert np.abs(np.asarray(jpg, np.int16) - png_pixels).mean() < 8
    # The PNG holds the optimised image to 8 bits: its cost is close to the one in the run.
    png_cost = final["saved"]["generated_image.png"]["total_cost"]
    assert png_cost == pytest.approx(final["total_cost"], rel=0.05)
    for costs in final["saved"].values():
        assert costs["total_cost"] == pytest.approx(
            10 * costs["content_cost"] + 40 * costs["style_cost"], rel=1e-5
        )


def test_fast_run_stopped_at_the_coarse_scale_records_that_scale(vgg_file, image_pair, tmp_path):
    """Issue 23 (UX): a --fast run stopped during its coarse scale saves that scale's image
    upsampled to the output size; run.json's final had no 'saved' entry and did not say
    which scale its costs are of. Now: the scale, and each file's costs read back at it."""
    import nst_tf1
    from nst_tf1 import events

    steps = []

    def report(event):
        if isinstance(event, events.StepDone):
            steps.append(event)

    out = tmp_path / "stopped"
    settings = Settings(
        content=image_pair[0],
        style=image_pair[1],
        model=vgg_file,
        output_dir=str(out),
        height=64,
        width=96,
        seed=0,
        fast=True,
        precision="fp32",
    )
    with pytest.raises(nst_tf1.Interrupted) as stopped:
        nst_tf1.run(settings, report, lambda: len(steps) >= 3)
    assert "of scale 1/2 (32x48, upsampled)" in stopped.value.message
    record = _record(out)
    final = record["final"]
    assert record["status"] == "stopped" and record["image_size"] == [64, 96]
    assert final["scale"] == {"scale": 1, "scales": 2, "image_size": [32, 48]}
    assert all(step.scale == 1 for step in steps)
    # The step's costs are the coarse scale's, as the events reported them.
    assert final["iteration"] == steps[-1].step
    assert final["total_cost"] == pytest.approx(steps[-1].total_cost, rel=1e-6)
    assert set(final["saved"]) == {"generated_image.png", "generated_image.jpg"}
    # Each file, read back and resized to that scale, costs about what was optimised there
    # (upsampled, rounded to 8 bits, downsampled again).
    png = final["saved"]["generated_image.png"]
    assert png["total_cost"] == pytest.approx(final["total_cost"], rel=0.25)
    for costs in final["saved"].values():
        assert costs["total_cost"] == pytest.approx(
            settings.alpha * costs["content_cost"] + settings.beta * costs["style_cost"], rel=1e-5
        )


# --- the course's run previewed (--course-preview) ------------------------------------------


def test_how_the_content_is_held_given_replaces_the_fast_choice():
    """--fast holds the content by the course preview's trust region (--course-preview 10,
    no content weight). --content-bound given replaces that bound; --term-balance given
    replaces it with the weight (--fast --term-balance 32 --iterations 15 is --fast's earlier
    choice); a bound and the weight given together both act; both bounds at once are
    refused."""
    fast = Settings(fast=True)
    assert (fast.course_preview, fast.term_balance) == (FAST["course_preview"], None)
    assert FAST["term_balance"] is None and FAST["content_bound"] is None
    bounded = Settings(fast=True, content_bound=1.5)
    assert bounded.content_bound == 1.5
    assert bounded.course_preview is None and bounded.term_balance is None
    assert "course_preview" not in bounded.chosen_by_fast
    earlier = Settings(fast=True, term_balance=32.0, iterations=15)
    assert (earlier.term_balance, earlier.course_preview) == (32.0, None)
    assert "course_preview" not in earlier.chosen_by_fast and earlier.iterations == 15
    preview = Settings(fast=True, course_preview=5)
    assert (preview.course_preview, preview.term_balance) == (5, None)
    assert preview.iterations == FAST["iterations"]
    for bound in ({"course_preview": 10}, {"content_bound": 1.5}):
        both = Settings(fast=True, term_balance=8.0, **bound)
        assert both.term_balance == 8.0 and all(getattr(both, k) == v for k, v in bound.items())
    assert Settings(optimizer="lbfgs", course_preview=5).course_preview == 5
    with pytest.raises(SettingsError, match="--content-bound and --course-preview both"):
        Settings(optimizer="lbfgs", content_bound=1.5, course_preview=5)
    assert Settings(course_preview=5).ignored == {"course_preview": "--optimizer lbfgs"}


@pytest.mark.parametrize(
    "size, expected",
    [((300, 400), (75, 100)), ((48, 64), (32, 43)), ((64, 40), (51, 32)), ((32, 40), (32, 40))],
)
def test_the_preview_is_a_quarter_of_the_size_and_keeps_32_pixels_a_side(size, expected):
    from nst_tf1.course_preview import preview_size

    assert preview_size(*size) == expected


def test_the_preview_is_the_course_run_at_its_size(vgg_file, image_pair, monkeypatch):
    """The fraction the preview gives is J_content after N of the course's Adam iterations
    (the course's style_transfer, fp32, its noise and seed) at the preview's size, divided
    by the style image's J_content there; the trust region of every scale of the L-BFGS run
    gets BOUND_MARGIN (0.98) of that fraction of that scale's J_content(S)."""
    from conftest import HEIGHT, WIDTH

    import nst_tf1.transfer as transfer
    from nst_tf1.course_preview import BOUND_MARGIN, preview_size
    from nst_tf1.graph import TransferGraph
    from nst_tf1.images import load_image, reshape_and_normalize_image, resize_array
    from nst_tf1.vgg import read_vgg_weights

    content, style = (load_image(path, 2 * HEIGHT, 2 * WIDTH) for path in image_pair)
    weights = read_vgg_weights(vgg_file)
    settings = Settings(
        fast=True, height=2 * HEIGHT, width=2 * WIDTH, course_preview=4, seed=3, precision="fp32"
    )
    seen = []

    def recording(beta, style_of_content, content_of_style, fraction):
        seen.append((content_of_style, fraction))
        return None

    monkeypatch.setattr(transfer, "content_bound", recording)
    with transfer.Runner(weights, settings) as runner:
        list(runner.run(content, [style], iterations=0))
    assert len(seen) == settings.multires == 2
    # The reference: the course's own function at the preview's size, and J_content(S).
    h, w = preview_size(2 * HEIGHT, 2 * WIDTH)
    c, s = (resize_array(x, h, w) for x in (content, style))
    steps = list(transfer.style_transfer(c, s, weights, num_iterations=4, seed=3))
    course = Settings(height=h, width=w)
    with TransferGraph(weights, h, w, course.cost_terms(), course.optimizer_options()) as g:
        a_C = g.content_target(reshape_and_normalize_image(c))
        content_of_style = g.content_cost(a_C, g.style_pass(reshape_and_normalize_image(s))[1])
    expected = steps[-1].content_cost / content_of_style
    assert 0 < expected < np.inf
    assert BOUND_MARGIN == 0.98
    for scale_content_of_style, factor in seen:
        assert factor == pytest.approx(BOUND_MARGIN * expected, rel=1e-4)
        assert scale_content_of_style > 0
    # Each scale's J_content(S) is its own (the half size's differs from the full size's).
    assert seen[0][0] != seen[1][0]


@pytest.mark.parametrize(
    "flags", [("--fast", "--course-preview", 3), ("--optimizer", "lbfgs", "--content-bound", 1.5)]
)
def test_the_content_bound_is_said_and_recorded(vgg_file, image_pair, tmp_path, capsys, flags):
    """The run says, and run.json's choices record, the bound b that L-BFGS held J_content
    under at the output size, and (--course-preview) the fraction of the style image's
    J_content that the course's previewed run reached: b = 0.98 fraction J_content(S)."""
    import nst_tf1.transfer as transfer

    handed, given = [], []
    real = transfer.content_bound

    def recording(*args):
        given.append(args)  # (beta, J_style(C), J_content(S) or J_content(G0), factor)
        handed.append(real(*args))
        return handed[-1]

    out = tmp_path / "out"
    args = run_args(*image_pair, vgg_file, "--output-dir", out, "--seed", 2, "--iterations", 2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transfer, "content_bound", recording)
        status, stdout, err = _main(
            *args, "--height", 64, "--width", 96, "--precision", "fp32", *flags, capsys=capsys
        )
    assert status == 0, err
    bound = handed[-1][0]  # the output size's scale is the last
    noted = _record(out)["choices"]["content_bound"]
    assert noted["bound"] == pytest.approx(bound, rel=1e-12)
    assert noted["scale"] == len(handed)
    line = next(x for x in stdout.splitlines() if "holds" in x)
    assert f"at or below {bound:.5g}" in line
    if "--course-preview" in flags:
        assert noted["course_preview"] == 3 and noted["preview_size"] == [32, 48]
        assert 0 < noted["fraction"] < np.inf
        assert line.startswith("The course's run, 3 iterations of it at 32x48, kept J_content")
        assert f"at {noted['fraction']:.3f} of the style image's" in line
        assert noted["margin"] == 0.98 and line.endswith("(0.98 of that)")
        content_of_style = given[-1][2]
        assert bound == pytest.approx(0.98 * noted["fraction"] * content_of_style, rel=1e-9)
    else:
        assert noted["fraction"] is None and noted["factor"] == 1.5
        assert "(1.5 times the course's noisy start's)" in line
