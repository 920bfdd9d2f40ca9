"""The course's cost functions against NumPy float64 references (rtol 1e-5)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from nst_tf1 import (
    CONFIG,
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    load_vgg_model,
    total_cost,
)

RTOL = 1e-5


def content_cost_ref(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    return np.sum((a_C.astype(np.float64) - a_G) ** 2) / (4 * n_H * n_W * n_C)


def unroll_ref(a):
    """(1, n_H, n_W, n_C) -> (n_C, n_H*n_W): row c is channel c's map, pixels in row order."""
    _, n_H, n_W, n_C = a.shape
    return np.stack([a[0, :, :, c].reshape(-1) for c in range(n_C)]).astype(np.float64)


def layer_style_cost_ref(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    GS, GG = unroll_ref(a_S), unroll_ref(a_G)
    GS, GG = GS @ GS.T, GG @ GG.T
    return np.sum((GS - GG) ** 2) / (4 * n_C**2 * (n_H * n_W) ** 2)


def evaluate(build):
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(build())


@pytest.fixture
def rng():
    return np.random.default_rng(1)


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (1, 5, 7, 6), (1, 38, 50, 16)])
def test_content_cost_matches_reference(rng, shape):
    a_C = rng.standard_normal(shape).astype(np.float32)
    a_G = rng.standard_normal(shape).astype(np.float32)
    got = evaluate(lambda: compute_content_cost(tf.constant(a_C), tf.constant(a_G)))
    np.testing.assert_allclose(got, content_cost_ref(a_C, a_G), rtol=RTOL)


def test_content_cost_of_identical_activations_is_zero(rng):
    a = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    assert evaluate(lambda: compute_content_cost(a, tf.constant(a))) == 0.0


def test_gram_matrix_matches_reference(rng):
    A = rng.standard_normal((3, 2)).astype(np.float32)
    got = evaluate(lambda: gram_matrix(tf.constant(A)))
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, A.astype(np.float64) @ A.T, rtol=RTOL)
    np.testing.assert_allclose(got, got.T, rtol=RTOL)


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (1, 6, 5, 8), (1, 19, 25, 32)])
def test_layer_style_cost_matches_reference(rng, shape):
    a_S = rng.standard_normal(shape).astype(np.float32)
    a_G = rng.standard_normal(shape).astype(np.float32)
    got = evaluate(lambda: compute_layer_style_cost(tf.constant(a_S), tf.constant(a_G)))
    np.testing.assert_allclose(got, layer_style_cost_ref(a_S, a_G), rtol=RTOL)


def test_layer_style_cost_is_not_the_straight_reshape(rng):
    """Reshaping straight to (n_C, n_H*n_W) mixes pixels and channels: a different number."""
    a_S = rng.standard_normal((1, 4, 4, 3)).astype(np.float32)
    a_G = rng.standard_normal((1, 4, 4, 3)).astype(np.float32)
    wrong_S = a_S.reshape(3, 16).astype(np.float64)
    wrong_G = a_G.reshape(3, 16).astype(np.float64)
    wrong = np.sum((wrong_S @ wrong_S.T - wrong_G @ wrong_G.T) ** 2) / (4 * 9 * 16**2)
    got = evaluate(lambda: compute_layer_style_cost(tf.constant(a_S), tf.constant(a_G)))
    assert abs(got - wrong) > 1e-3 * abs(wrong)
    np.testing.assert_allclose(got, layer_style_cost_ref(a_S, a_G), rtol=RTOL)


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (1, 6, 5, 8), (1, 19, 25, 32)])
def test_symmetric_gram_and_its_gradient_match_reference(rng, shape):
    """G = A A^T, and for J = sum(W * G) with W not symmetric, dJ/da = (W + W^T) A unrolled
    back: the gradient written out for the symmetric product is the exact one."""
    from nst_tf1.costs import activation_gram, symmetric_gram

    a = rng.standard_normal(shape).astype(np.float32)
    W = rng.standard_normal((shape[3], shape[3])).astype(np.float32)
    A = unroll_ref(a)
    want_grad = ((W + W.T).astype(np.float64) @ A).T.reshape(shape)
    got = {}
    for gram in (symmetric_gram, activation_gram):
        with tf.Graph().as_default(), tf.Session() as sess:
            x = tf.constant(a)
            G = gram(x)
            (grad,) = tf.gradients(tf.reduce_sum(W * G), x)
            got[gram] = sess.run([G, grad])
    G, grad = got[symmetric_gram]
    np.testing.assert_allclose(G, A @ A.T, rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(grad, want_grad, rtol=RTOL, atol=1e-4)
    # The course's Gram and TensorFlow's own gradient of it give the same numbers.
    np.testing.assert_allclose(got[activation_gram][0], G, rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(got[activation_gram][1], grad, rtol=RTOL, atol=1e-4)


def test_total_cost_is_the_weighted_sum():
    assert total_cost(np.float64(2.0), np.float64(3.0)) == 10 * 2.0 + 40 * 3.0
    assert total_cost(2.0, 3.0, alpha=1, beta=0.5) == 3.5
    got = evaluate(lambda: total_cost(tf.constant(2.0), tf.constant(3.0)))
    assert got == pytest.approx(CONFIG.ALPHA * 2 + CONFIG.BETA * 3, rel=RTOL)


def test_style_cost_uses_style_activations_taken_at_call_time(vgg_file, rng):
    """a_S is evaluated while S is the input; later assignments change only a_G."""
    height, width = 32, 40
    S = rng.uniform(-100, 100, (1, height, width, 3)).astype(np.float32)
    G = rng.uniform(-100, 100, (1, height, width, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        model = load_vgg_model(vgg_file, height, width)
        sess.run(model["input"].assign(S))
        J_style = compute_style_cost(sess, model)
        layers = [name for name, _ in CONFIG.STYLE_LAYERS]
        a_S = sess.run([model[name] for name in layers])
        assert sess.run(J_style) == pytest.approx(0.0, abs=1e-6)
        sess.run(model["input"].assign(G))
        got = sess.run(J_style)
        a_G = sess.run([model[name] for name in layers])
    expected = sum(
        coeff * layer_style_cost_ref(s, g)
        for (_, coeff), s, g in zip(CONFIG.STYLE_LAYERS, a_S, a_G)
    )
    assert got > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4)
