"""The MatConvNet loader and the VGG-19 graph, against an independent NumPy computation."""

import os

import numpy as np
import pytest
import scipy.io
import tensorflow.compat.v1 as tf

from nst_tf1 import ModelFileError, build_vgg_model, load_vgg_model, read_vgg_weights
from nst_tf1.testing import make_vgg_file, synthetic_layer_shapes
from nst_tf1.vgg import MODEL_KEYS, VGG19_CONV_LAYERS

EXPECTED_KEYS = (
    ["input", "conv1_1", "conv1_2", "avgpool1", "conv2_1", "conv2_2", "avgpool2"]
    + [f"conv3_{i}" for i in range(1, 5)]
    + ["avgpool3"]
    + [f"conv4_{i}" for i in range(1, 5)]
    + ["avgpool4"]
    + [f"conv5_{i}" for i in range(1, 5)]
    + ["avgpool5"]
)


def conv_relu_ref(x, W, b):
    """relu(conv2d(x, W, stride 1, SAME) + b) in float64; x (H, W, in), W (3, 3, in, out)."""
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(0, 1))
    # windows: (H, W, in, 3, 3)
    out = np.einsum("hwcij,ijco->hwo", windows, W.astype(np.float64)) + b
    return np.maximum(out, 0)


def avgpool_ref(x):
    """2x2 average pooling, stride 2, SAME: windows cut by the border average what they hold."""
    H, W, _ = x.shape
    out = np.empty(((H + 1) // 2, (W + 1) // 2, x.shape[2]))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(axis=(0, 1))
    return out


def forward_ref(image, layers):
    acts, x = {}, image.astype(np.float64)
    for key in MODEL_KEYS[1:]:
        x = conv_relu_ref(x, *layers[key]) if key.startswith("conv") else avgpool_ref(x)
        acts[key] = x
    return acts


def test_model_keys_and_course_shapes_at_full_width():
    """The course's printout at 300x400: conv4_2 (1, 38, 50, 512), avgpool5 (1, 10, 13, 512)."""
    shapes = synthetic_layer_shapes(width_divisor=1)
    layers = {
        layer.name: (
            np.zeros(shapes[layer.name], np.float32),
            np.zeros(shapes[layer.name][3], np.float32),
        )
        for layer in VGG19_CONV_LAYERS
    }
    with tf.Graph().as_default():
        model = build_vgg_model(layers, 300, 400)
    assert list(model) == EXPECTED_KEYS
    assert isinstance(model["input"], tf.Variable)
    assert model["input"].dtype.base_dtype == tf.float32
    got = {key: tuple(t.get_shape().as_list()) for key, t in model.items()}
    assert got["input"] == (1, 300, 400, 3)
    assert got["conv1_1"] == got["conv1_2"] == (1, 300, 400, 64)
    assert got["avgpool1"] == (1, 150, 200, 64)
    assert got["conv2_2"] == (1, 150, 200, 128)
    assert got["avgpool2"] == (1, 75, 100, 128)
    assert got["conv3_4"] == (1, 75, 100, 256)
    assert got["avgpool3"] == (1, 38, 50, 256)
    assert got["conv4_2"] == (1, 38, 50, 512)
    assert got["avgpool4"] == (1, 19, 25, 512)
    assert got["conv5_1"] == (1, 19, 25, 512)
    assert got["avgpool5"] == (1, 10, 13, 512)


def test_channel_counts_come_from_the_file(vgg_file):
    with tf.Graph().as_default():
        model = load_vgg_model(vgg_file, 20, 24)
    assert model["conv1_1"].get_shape().as_list() == [1, 20, 24, 8]
    assert model["conv5_4"].get_shape().as_list() == [1, 2, 2, 64]  # 20x24, 4 poolings
    assert model["avgpool5"].get_shape().as_list() == [1, 1, 1, 64]


def test_weights_read_by_field_name_equal_what_was_written(vgg_weights_written):
    path, written = vgg_weights_written
    weights = read_vgg_weights(path)
    assert weights.layout == "new"
    assert sorted(weights.layers) == sorted(layer.name for layer in VGG19_CONV_LAYERS)
    for name, (W, b) in weights.layers.items():
        np.testing.assert_array_equal(W, written[name][0])
        np.testing.assert_array_equal(b, written[name][1])
        assert W.dtype == np.float32 and W.flags.c_contiguous and b.shape == (W.shape[3],)
    np.testing.assert_allclose(weights.mean_pixel, [123.68, 116.779, 103.939], rtol=1e-6)


def test_both_layouts_give_the_same_weights_and_activations(vgg_file, vgg_file_old):
    new, old = read_vgg_weights(vgg_file), read_vgg_weights(vgg_file_old)
    assert (new.layout, old.layout) == ("new", "old")
    raw = scipy.io.loadmat(vgg_file_old)["layers"][0, 0]
    assert raw.dtype.names[0] == "weights"  # the old layout really is the old layout
    assert raw["weights"][0, 0][0, 1].shape == (1, 8)  # and stores b as (1, out)
    np.testing.assert_allclose(old.mean_pixel, new.mean_pixel, rtol=1e-5)
    image = np.random.default_rng(0).uniform(-120, 120, (1, 16, 20, 3)).astype(np.float32)
    results = []
    for path in (vgg_file, vgg_file_old):
        with tf.Graph().as_default(), tf.Session() as sess:
            model = load_vgg_model(path, 16, 20)
            sess.run(model["input"].assign(image))
            results.append(sess.run({k: v for k, v in model.items() if k != "input"}))
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key])


def test_every_layer_matches_an_independent_computation(vgg_file):
    weights = read_vgg_weights(vgg_file)
    image = np.random.default_rng(2).uniform(-120, 120, (1, 18, 22, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        model = load_vgg_model(vgg_file, 18, 22)
        sess.run(model["input"].assign(image))
        got = sess.run({k: v for k, v in model.items() if k != "input"})
    expected = forward_ref(image[0], weights.layers)
    for key in MODEL_KEYS[1:]:
        scale = np.abs(expected[key]).max() + 1e-6
        np.testing.assert_allclose(
            got[key][0], expected[key], rtol=1e-4, atol=1e-4 * scale, err_msg=key
        )


def _rewrite(path, out, edit):
    """Copy a synthetic file with edit(mat) applied to its loadmat dict."""
    mat = scipy.io.loadmat(path)
    edit(mat)
    scipy.io.savemat(out, {k: v for k, v in mat.items() if not k.startswith("__")})
    return str(out)


def _drop_layer(name):
    def edit(mat):
        cells = mat["layers"]
        keep = [c for c in cells[0] if c["name"][0, 0][0] != name]
        new = np.empty((1, len(keep)), dtype=object)
        new[0, :] = keep
        mat["layers"] = new

    return edit


def _bad_shape(name):
    def edit(mat):
        for c in mat["layers"][0]:
            if c["name"][0, 0][0] == name:
                W = c["weights"][0, 0][0, 0]
                c["weights"][0, 0][0, 0] = W[:, :, :-1, :]

    return edit


def _missing(src, d):
    return str(d / "missing.mat")


def _directory(src, d):
    return str(d)


def _text(src, d):
    (d / "text.mat").write_text("not a matlab file\n")
    return str(d / "text.mat")


def _truncated(src, d):
    with open(src, "rb") as f:
        (d / "cut.mat").write_bytes(f.read()[:200000])
    return str(d / "cut.mat")


def _not_vgg(src, d):
    scipy.io.savemat(d / "other.mat", {"x": np.eye(3)})
    return str(d / "other.mat")


@pytest.mark.parametrize(
    "make, needle",
    [
        (_missing, "no such file"),
        (_directory, "is a directory"),
        (_text, "not a readable MATLAB .mat file"),
        (_truncated, "not a readable MATLAB .mat file"),
        (
            lambda src, d: _rewrite(src, d / "nolayer.mat", _drop_layer("conv4_2")),
            "layer 'conv4_2' is missing",
        ),
        (
            lambda src, d: _rewrite(src, d / "shape.mat", _bad_shape("conv3_2")),
            "layer 'conv3_2' has W of shape",
        ),
        (_not_vgg, "no 'layers' variable"),
    ],
    ids=["missing", "directory", "text", "truncated", "missing-layer", "wrong-shape", "not-vgg"],
)
def test_bad_model_files_raise_one_clear_error(vgg_file, tmp_path, make, needle):
    path = make(vgg_file, tmp_path)
    with pytest.raises(ModelFileError) as info:
        read_vgg_weights(path)
    message = str(info.value)
    assert needle in message
    assert message.startswith(os.fspath(path))
    assert "\n" not in message


def test_synthetic_full_width_shapes_match_the_layer_table():
    shapes = synthetic_layer_shapes(width_divisor=1, fc="full")
    assert shapes["conv1_1"] == (3, 3, 3, 64)
    assert shapes["conv5_4"] == (3, 3, 512, 512)
    assert shapes["fc6"] == (7, 7, 512, 4096)
    assert shapes["fc8"] == (1, 1, 4096, 1000)
    assert synthetic_layer_shapes(width_divisor=8)["conv3_1"] == (3, 3, 16, 32)
    with pytest.raises(ValueError):
        make_vgg_file("/nonexistent/x.mat", layout="neither")
