"""The detail phase (``--detail-iterations``): L-BFGS on the shallow style terms alone at the
output size, before the run's own objective; its Steps carry the course's costs where they
are saved only."""

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH
from test_costs import layer_style_cost_ref

from nst_tf1.costs import DETAIL_BLOCKS, detail_layers

SHALLOW = ["conv1_1", "conv2_1", "conv3_1"]


@pytest.fixture(scope="module")
def weights(vgg_file):
    from nst_tf1.vgg import read_vgg_weights

    return read_vgg_weights(vgg_file)


@pytest.fixture(scope="module")
def normalised():
    """(content, style, a generated image): (1, HEIGHT, WIDTH, 3) normalised, seeded."""
    from nst_tf1.demo import make_demo_content, make_demo_style
    from nst_tf1.images import generate_noise_image, reshape_and_normalize_image

    content = reshape_and_normalize_image(make_demo_content(HEIGHT, WIDTH).astype(np.float32))
    style = reshape_and_normalize_image(make_demo_style(HEIGHT, WIDTH).astype(np.float32))
    return content, style, generate_noise_image(content, 0.6, seed=3)


def _lbfgs_graph(weights, settings, detail=True):
    from nst_tf1.graph import TransferGraph

    options = settings.optimizer_options()
    return TransferGraph(weights, HEIGHT, WIDTH, settings.cost_terms(), options, detail=detail)


def _targets(graph, content, style):
    a_C, grams = graph.content_target(content), graph.style_grams(style)
    graph.set_targets(a_C, grams)
    return a_C, grams


def test_detail_layers_are_the_style_layers_of_the_first_three_blocks():
    from nst_tf1.config import CONFIG

    assert detail_layers(CONFIG.STYLE_LAYERS) == SHALLOW
    assert DETAIL_BLOCKS == ("conv1_", "conv2_", "conv3_")
    assert detail_layers([("conv3_4", 1.0), ("conv1_2", 0.5), ("conv4_1", 1.0)]) == [
        "conv3_4",
        "conv1_2",
    ]
    assert detail_layers([("conv1_1", 0.0), ("conv5_1", 1.0)]) == []


def test_detail_objective_matches_a_numpy_reference_and_runs_no_deeper(weights, normalised):
    import tensorflow.compat.v1 as tf

    from nst_tf1.settings import Settings

    s = Settings(optimizer="lbfgs", precision="fp32")
    content, style, generated = normalised
    with _lbfgs_graph(weights, s) as graph:
        _targets(graph, content, style)
        objective, gradient = graph.detail_objective
        feed = {graph.model["input"]: generated}
        metadata = tf.RunMetadata()
        value, dG = graph.sess.run(
            [objective, gradient],
            feed,
            options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
            run_metadata=metadata,
        )
        a_S = graph.sess.run([graph.model[n] for n in SHALLOW], {graph.model["input"]: style})
        a_G = graph.sess.run([graph.model[n] for n in SHALLOW], feed)
    coeffs = dict(s.style_layers)
    reference = s.beta * sum(
        coeffs[n] * layer_style_cost_ref(S, G) for n, S, G in zip(SHALLOW, a_S, a_G)
    )
    np.testing.assert_allclose(value, reference, rtol=1e-4)
    assert dG.shape == generated.shape and np.abs(dG).max() > 0
    ran = {node.node_name for dev in metadata.step_stats.dev_stats for node in dev.node_stats}
    assert any(name.startswith("vgg19/conv3_1/") for name in ran)
    for deeper in ("conv3_2", "conv4_1", "conv4_2", "conv5_1"):
        assert not [name for name in ran if f"/{deeper}/" in name], deeper


def test_detail_gradient_is_that_of_a_graph_of_the_shallow_terms_alone(weights, normalised):
    # The reference: a graph whose J is beta times those three style terms (alpha 0, the
    # network cut at conv3_1), built the ordinary way, as benchmarks/ round 11 measured it.
    from nst_tf1.settings import Settings

    content, style, generated = normalised
    s = Settings(optimizer="lbfgs", precision="fp32")
    with _lbfgs_graph(weights, s) as graph:
        _targets(graph, content, style)
        objective, gradient = graph.detail_objective
        got = graph.sess.run([objective, gradient], {graph.model["input"]: generated})
    layers = [(n, c) for n, c in s.style_layers if n in SHALLOW]
    shallow = Settings(
        optimizer="lbfgs", precision="fp32", style_layers=layers, content_layer="conv3_1", alpha=0
    )
    with _lbfgs_graph(weights, shallow, detail=False) as reference:
        _targets(reference, content, style)
        want = reference.sess.run(
            [reference.costs[0], reference._gradient], {reference.model["input"]: generated}
        )
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-6 * np.abs(want[1]).max())


def test_detail_run_fetches_the_costs_where_it_saves_only(weights, normalised):
    from nst_tf1.settings import Settings

    content, style, generated = normalised
    with _lbfgs_graph(weights, Settings(optimizer="lbfgs", precision="fp32")) as graph:
        a_C, grams = _targets(graph, content, style)
        steps = list(graph.run(a_C, grams, generated, 7, 3, detail=True, first_iteration=2))
        with pytest.raises(ValueError, match="without the detail"):
            with _lbfgs_graph(weights, Settings(optimizer="lbfgs"), detail=False) as plain:
                list(plain.run(a_C, grams, generated, 2, 1, detail=True))
    *evaluations, final = steps
    assert [s.iteration for s in evaluations] == list(range(2, 9))
    # Numbered on from 2: the saves (costs and image) fall on 3 and 6.
    costed = [s.iteration for s in evaluations if s.total_cost is not None]
    assert costed == [3, 6]
    assert [s.iteration for s in evaluations if s.image is not None] == [3, 6]
    for s in evaluations:
        assert (s.content_cost is None) == (s.style_cost is None) == (s.total_cost is None)
    assert final.iteration == 9 and final.image is not None
    # The costs it reports are those of the image: J of a saved Step, evaluated again.
    saved = evaluations[1]
    np.testing.assert_allclose(graph_costs(weights, normalised, saved.image), saved[1:4])


def graph_costs(weights, normalised, image):
    from nst_tf1.settings import Settings

    content, style, _ = normalised
    with _lbfgs_graph(weights, Settings(optimizer="lbfgs", precision="fp32")) as graph:
        _targets(graph, content, style)
        return graph.evaluate(image)


def _runner_steps(weights, normalised, should_stop=None, **fields):
    from nst_tf1.config import CONFIG
    from nst_tf1.settings import Settings
    from nst_tf1.transfer import Runner

    content, style, _ = normalised
    s = Settings(optimizer="lbfgs", precision="fp32", seed=0, height=HEIGHT, width=WIDTH, **fields)
    rgb = [(x[0] + CONFIG.MEANS[0]) for x in (content, style)]
    with Runner(weights, s) as runner:
        return list(runner.run(rgb[0], [rgb[1]], should_stop=should_stop))


def test_runner_runs_the_detail_phase_then_the_objective_numbered_on(weights, normalised):
    progress = _runner_steps(weights, normalised, detail_iterations=4, iterations=3, save_every=2)
    assert {p.budget for p in progress} == {7}
    steps = [p.step for p in progress]
    assert [s.iteration for s in steps] == list(range(8))
    costed = [s.iteration for s in steps if s.total_cost is not None]
    # The detail phase (0..3) fetched its costs at its saves; J from 4 on, the final at 7.
    assert costed == [0, 2, 4, 5, 6, 7]
    assert steps[-1].image is not None


def test_runner_stopped_in_the_detail_phase_ends_there_with_its_costs(weights, normalised):
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) >= 3

    progress = _runner_steps(
        weights, normalised, should_stop, detail_iterations=6, iterations=3, save_every=4
    )
    last = progress[-1].step
    assert last.iteration == 3 < 6 and last.image is not None
    assert None not in last[1:4]
    assert [p.step.iteration for p in progress] == [0, 1, 2, 3]


def test_settings_fast_chooses_the_detail_phase_where_it_can():
    from nst_tf1.settings import FAST, Settings, SettingsError

    s = Settings(fast=True)
    assert s.detail_iterations == FAST["detail_iterations"] == 40
    assert s.iterations == FAST["iterations"] == 14
    assert s.chosen_by_fast["detail_iterations"] == 40
    assert Settings().detail_iterations == 0
    assert Settings(fast=True, detail_iterations=0).detail_iterations == 0
    # Without a style layer of conv1..conv3 --fast leaves it out; given, it is refused.
    deep = Settings(fast=True, style_layers="conv4_1:1,conv5_1:1")
    assert deep.detail_iterations == 0 and "detail_iterations" not in deep.chosen_by_fast
    with pytest.raises(SettingsError, match="--detail-iterations: the detail phase"):
        Settings(optimizer="lbfgs", detail_iterations=5, style_layers="conv4_1:1")
    with pytest.raises(SettingsError, match="--detail-iterations: must be a whole number >= 0"):
        Settings(optimizer="lbfgs", detail_iterations=-1)
    # With Adam it does not act: ignored, and said so; the course's 200 iterations stay.
    adam = Settings(detail_iterations=5)
    assert adam.ignored["detail_iterations"] == "--optimizer lbfgs"
    from nst_tf1.plan import output_steps

    assert output_steps(adam) == 200


def test_steps_at_the_output_size_count_the_detail_phase():
    from nst_tf1.plan import output_steps, steps_per_job
    from nst_tf1.settings import Settings

    s = Settings(fast=True)
    assert output_steps(s) == 40 + 14
    assert steps_per_job(s) == 30 + 40 + 14
    assert output_steps(Settings(optimizer="lbfgs", iterations=7)) == 7


def test_cost_curve_leaves_out_the_missing_costs_and_shades_the_detail_phase():
    pytest.importorskip("matplotlib")
    from nst_tf1.figures import cost_curve

    # A detail phase of 4 evaluations, costs saved at 0 and 2 (null elsewhere), then J.
    J = [9e7, None, 5e7, None, 4e7, 3e7, 2e7]
    costs = {
        "iteration": list(range(7)),
        "total_cost": J,
        "content_cost": [None if j is None else j / 1e5 for j in J],
        "style_cost": [None if j is None else j / 50 for j in J],
    }
    plain = np.asarray(cost_curve(costs, saves=[0, 2, 4]))
    shaded = np.asarray(cost_curve(costs, saves=[0, 2, 4], detail=4))
    assert plain.shape == shaded.shape == (500, 800, 3)
    # The shade is a light grey band: more such pixels once the detail phase is drawn.
    grey = [np.all(np.abs(a.astype(int) - 230) < 12, axis=-1).sum() for a in (plain, shaded)]
    assert grey[1] > grey[0] + 5000
    with pytest.raises(ValueError, match="no costs yet"):
        cost_curve({**costs, "total_cost": [None] * 7})


def test_a_stopped_detail_run_ends_with_the_costs_of_its_image(weights, normalised):
    from nst_tf1.settings import Settings

    content, style, generated = normalised
    asked = []
    with _lbfgs_graph(weights, Settings(optimizer="lbfgs", precision="fp32")) as graph:
        a_C, grams = _targets(graph, content, style)
        stop = lambda: asked.append(1) or len(asked) >= 3  # noqa: E731
        steps = list(graph.run(a_C, grams, generated, 9, 100, stop, detail=True))
        final = steps[-1]
        assert final.iteration == 3 and final.image is not None
        np.testing.assert_allclose(final[1:4], graph.evaluate(final.image), rtol=1e-6)
        # Run to its budget, the detail phase's final Step keeps no costs it did not fetch.
        whole = list(graph.run(a_C, grams, generated, 4, 100, detail=True))[-1]
        assert whole.iteration == 4 and whole.total_cost is None
