"""--logdir: the TensorBoard event file holds the graph's scopes and every iteration's costs."""

import collections
import glob
import os

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_args

from nst_tf1.config import CONFIG
from nst_tf1.summaries import TAGS, layer_tag

ITERATIONS = 4


def _recorded_run(vgg_file, image_pair, logdir, **options):
    """(steps, names fetched by each sess.run, event file) of a 4-iteration run with logdir."""
    import tensorflow.compat.v1 as tf

    from nst_tf1.images import load_image
    from nst_tf1.transfer import style_transfer

    content, style = (load_image(p, HEIGHT, WIDTH) for p in image_pair)
    runs = []
    original = tf.Session.run

    def recording_run(self, fetches, *args, **kwargs):
        runs.append([getattr(f, "name", None) for f in tf.nest.flatten(fetches)])
        return original(self, fetches, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tf.Session, "run", recording_run)
        steps = list(
            style_transfer(
                content,
                style,
                vgg_file,
                num_iterations=ITERATIONS,
                save_every=2,
                seed=0,
                logdir=str(logdir),
                **options,
            )
        )
    (event_file,) = glob.glob(os.path.join(str(logdir), "events.out.tfevents.*"))
    return steps, runs, event_file


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory, vgg_file, image_pair):
    """(steps, fetch lists of every sess.run, event file) of a 4-iteration Adam run."""
    return _recorded_run(vgg_file, image_pair, tmp_path_factory.mktemp("logs"))


def _events(path):
    import tensorflow.compat.v1 as tf

    return list(tf.train.summary_iterator(path))


def test_event_file_has_the_graph_with_the_course_scopes(logged_run):
    import tensorflow.compat.v1 as tf

    graphs = [e.graph_def for e in _events(logged_run[2]) if e.graph_def]
    assert len(graphs) == 1
    graph_def = tf.GraphDef.FromString(graphs[0])
    names = {node.name for node in graph_def.node}
    scopes = {name.rsplit("/", 1)[0] for name in names}
    expected = {
        "vgg19/conv1_1",
        "vgg19/conv4_2",
        "vgg19/avgpool5",
        "content_cost",
        "total_cost",
        "style_cost",
    }
    expected |= {f"style_cost/{layer}" for layer, _ in CONFIG.STYLE_LAYERS}
    assert expected <= scopes
    assert "vgg19/input" in names and "style_cost/J_style" in names
    assert any(name.startswith("optimizer/") for name in names)
    # The kernels' values are left out, their shapes kept; every op carries its shapes.
    conv = next(n for n in graph_def.node if n.name == "vgg19/conv4_2/W")
    if conv.op == "Const":
        tensor = conv.attr["value"].tensor
        assert not tensor.tensor_content
        assert [d.size for d in tensor.tensor_shape.dim][:2] == [3, 3]
    else:  # the pipeline holds the weights in Variables: the graph has no values at all
        assert conv.op == "VariableV2"
        assert [d.size for d in conv.attr["shape"].shape.dim][:2] == [3, 3]
    relu = next(n for n in graph_def.node if n.name == "vgg19/conv4_2/Relu")
    shape = relu.attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [1, 6, 8, 64]


def test_event_file_has_every_cost_every_iteration(logged_run):
    steps, _, event_file = logged_run
    values = collections.defaultdict(dict)
    for event in _events(event_file):
        for value in event.summary.value:
            values[value.tag][event.step] = value.simple_value
    layer_tags = [layer_tag(layer) for layer, _ in CONFIG.STYLE_LAYERS]
    assert set(values) == set(TAGS.values()) | set(layer_tags)
    for tag in values:
        assert sorted(values[tag]) == list(range(ITERATIONS + 1))
    for step in steps:
        i = step.iteration
        # The logged costs are those the Step reports for the same iteration.
        np.testing.assert_allclose(values[TAGS["J"]][i], step.total_cost, rtol=1e-6)
        np.testing.assert_allclose(values[TAGS["J_content"]][i], step.content_cost, rtol=1e-6)
        np.testing.assert_allclose(values[TAGS["J_style"]][i], step.style_cost, rtol=1e-6)
        weighted = sum(coeff * values[layer_tag(layer)][i] for layer, coeff in CONFIG.STYLE_LAYERS)
        np.testing.assert_allclose(weighted, step.style_cost, rtol=1e-5)


def test_summaries_are_fetched_with_the_train_step(logged_run):
    _, runs, _ = logged_run
    with_summary = [fetches for fetches in runs if "summaries/Merge/MergeSummary:0" in fetches]
    # One run per iteration takes the step, the three costs and the summary; one more at the end.
    assert len(with_summary) == ITERATIONS + 1
    for fetches in with_summary[:-1]:
        assert any(name and name.startswith("optimizer/") for name in fetches)
        assert len(fetches) == 5


def test_cli_logdir_writes_events(vgg_file, image_pair, tmp_path, capsys):
    from nst_tf1.cli import main

    content, style = image_pair
    logdir = tmp_path / "logs"
    assert (
        main(
            [
                *run_args(content, style, vgg_file),
                "--iterations",
                "1",
                "--output-dir",
                str(tmp_path / "out"),
                "--logdir",
                str(logdir),
            ]
        )
        == 0
    )
    assert f"tensorboard --logdir {logdir}" in capsys.readouterr().out
    (event_file,) = glob.glob(str(logdir / "events.out.tfevents.*"))
    tags = {v.tag for e in _events(event_file) for v in e.summary.value}
    assert TAGS["J"] in tags


def test_lbfgs_logdir_writes_every_evaluation(vgg_file, image_pair, tmp_path):
    """--optimizer lbfgs --logdir: each evaluation's costs, fetched with its dJ/dG, then the
    best image's at the last step; the same numbers as the Steps."""
    steps, runs, event_file = _recorded_run(vgg_file, image_pair, tmp_path, optimizer="lbfgs")
    values = collections.defaultdict(dict)
    scalars = 0
    for event in _events(event_file):
        for value in event.summary.value:
            values[value.tag][event.step] = value.simple_value
            scalars += 1
    tags = set(TAGS.values()) | {layer_tag(layer) for layer, _ in CONFIG.STYLE_LAYERS}
    assert set(values) == tags
    assert scalars == len(tags) * (ITERATIONS + 1)
    assert [step.iteration for step in steps] == list(range(ITERATIONS + 1))
    for step in steps:
        i = step.iteration
        np.testing.assert_allclose(values[TAGS["J"]][i], step.total_cost, rtol=1e-6)
        np.testing.assert_allclose(values[TAGS["J_content"]][i], step.content_cost, rtol=1e-6)
        np.testing.assert_allclose(values[TAGS["J_style"]][i], step.style_cost, rtol=1e-6)
    with_summary = [fetches for fetches in runs if "summaries/Merge/MergeSummary:0" in fetches]
    assert len(with_summary) == ITERATIONS  # one per evaluation, none extra
    for fetches in with_summary:
        assert any(name and name.startswith("lbfgs/") for name in fetches)


def test_a_refused_run_leaves_no_logdir_it_created(image_pair, tmp_path, capsys):
    """--logdir is made while the run is planned; a run refused after that (here: no model
    file) left it behind empty, as it once did the output folder."""
    from nst_tf1.cli import main

    content, style = image_pair
    logdir, out = tmp_path / "logs" / "run1", tmp_path / "out"
    args = [*run_args(content, style, str(tmp_path / "missing.mat")), "--no-download"]
    status = main([*args, "--output-dir", str(out), "--logdir", str(logdir), "--iterations", "1"])
    assert status == 2, capsys.readouterr().err
    assert not (tmp_path / "logs").exists() and not out.exists()
