"""nst_tf1.lbfgs: the iteration of SciPy's L-BFGS-B without bounds, checked against SciPy."""

import numpy as np
import pytest
import scipy.optimize

from nst_tf1 import lbfgs


class _Budget(Exception):
    pass


def _values(fun, x0, evaluations, minimiser):
    """Every f that ``minimiser`` asked for, until ``evaluations`` of them."""
    seen = []

    def counted(x):
        if len(seen) == evaluations:
            raise _Budget
        f, g = fun(x)
        seen.append(f)
        return f, g

    try:
        minimiser(counted, x0)
    except _Budget:
        pass
    return np.array(seen)


def _scipy(fun, x0):
    n = 10**6
    scipy.optimize.fmin_l_bfgs_b(fun, x0, factr=0.0, pgtol=0.0, maxfun=n, maxiter=n)


def _quadratic(seed, size=2000):
    curvature = np.random.default_rng(seed).uniform(1.0, 100.0, size)
    return lambda x: (0.5 * float(x @ (curvature * x)), curvature * x)


def _minimiser(dtype):
    return lambda fun, x0: lbfgs.minimize(fun, x0, dtype=dtype)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_the_same_evaluations_as_scipy_on_a_quadratic(seed, dtype, rtol):
    fun = _quadratic(seed)
    x0 = np.random.default_rng(seed + 10).normal(size=2000)
    ours, theirs = (_values(fun, x0, 40, m) for m in (_minimiser(dtype), _scipy))
    # The same trial points, evaluation by evaluation, down over seven orders of magnitude;
    # with float32 pairs to float32's rounding.
    np.testing.assert_allclose(ours, theirs, rtol=rtol)
    assert ours[-1] < 1e-6 * ours[0]


def _rosenbrock(x):
    return float(scipy.optimize.rosen(x)), scipy.optimize.rosen_der(x)


@pytest.mark.parametrize(
    "dtype, evaluations, rtol", [(np.float64, 60, 1e-6), (np.float32, 36, 1e-4)]
)
def test_the_same_line_searches_as_scipy_on_rosenbrock(dtype, evaluations, rtol):
    # Rosenbrock's valley makes the line search interpolate, bracket and extrapolate. The
    # problem is chaotic: rounding lets the two part in the end (float64 pairs after about
    # 65 evaluations, float32 pairs after about 40).
    x0 = np.full(20, -1.0) + 0.1 * np.random.default_rng(3).normal(size=20)
    ours, theirs = (_values(_rosenbrock, x0, evaluations, m) for m in (_minimiser(dtype), _scipy))
    np.testing.assert_allclose(ours, theirs, rtol=rtol)
    assert ours[-1] < 0.01 * ours[0]


def _wolfe1(phi, derphi, stp, stpmax=1e10):
    """SciPy's port of MINPACK-2's line search, with L-BFGS-B's constants (a private
    function of SciPy's, used here as the reference only)."""
    from scipy.optimize._linesearch import scalar_search_wolfe1

    calls = []

    def counted_phi(a):
        calls.append(a)
        return phi(a)

    step = scalar_search_wolfe1(
        counted_phi, derphi, phi(0.0), None, derphi(0.0),
        c1=lbfgs.FTOL, c2=lbfgs.GTOL, amax=stpmax, amin=0.0, xtol=lbfgs.XTOL,
    )[0]  # fmt: skip
    assert calls[0] == stp  # it started where ours does
    return step, len(calls)


def _ours(phi, derphi, stp, stpmax=1e10):
    search = lbfgs.LineSearch(phi(0.0), derphi(0.0), stpmax=stpmax)
    for count in range(1, lbfgs.MAX_LINE_STEPS + 1):
        stp, done = search.next(stp, phi(stp), derphi(stp))
        if done:
            return stp, count
    raise AssertionError("no step after MAX_LINE_STEPS")


LINES = {
    # f(a), f'(a), the largest step: a first step far past the minimum (bracketed at once),
    # one far short of it (extrapolation), a quartic, one whose slope changes sign twice, one
    # that first lowers f too little (the modified function psi), one whose slope steepens
    # before it turns, one with a kink at its minimum, and a line along which f falls
    # without end (the step ends at the largest).
    "overshoot": (lambda a: (a - 0.01) ** 2, lambda a: 2 * (a - 0.01), 1e10),
    "short": (lambda a: (a - 50.0) ** 2, lambda a: 2 * (a - 50.0), 1e10),
    "quartic": (lambda a: (a - 3.0) ** 4 - 4 * a, lambda a: 4 * (a - 3.0) ** 3 - 4, 1e10),
    "wavy": (
        lambda a: -a - 0.3 * np.sin(5 * a) + 0.05 * a * a,
        lambda a: -1 - 1.5 * np.cos(5 * a) + 0.1 * a,
        1e10,
    ),
    "psi": (lambda a: (2 * a - 1.001) ** 2, lambda a: 4 * (2 * a - 1.001), 1e10),
    "concave": (lambda a: -a - a * a + a**4 / 100, lambda a: -1 - 2 * a + a**3 / 25, 1e10),
    "kink": (lambda a: abs(a - 0.3) - 0.3, lambda a: np.sign(a - 0.3) if a != 0.3 else 0.0, 1e10),
    "falling": (lambda a: -a, lambda a: -1.0, 10.0),
}  # fmt: skip


@pytest.mark.parametrize("line", LINES)
def test_the_line_search_is_minpack2s(line):
    phi, derphi, stpmax = LINES[line]
    ours, count = _ours(phi, derphi, 1.0, stpmax)
    theirs, their_count = _wolfe1(phi, derphi, 1.0, stpmax)
    assert count == their_count
    met = phi(ours) <= phi(0.0) + lbfgs.FTOL * ours * derphi(0.0) and abs(
        derphi(ours)
    ) <= lbfgs.GTOL * abs(derphi(0.0))
    if theirs is None:  # SciPy's "warning": no step meets both conditions; L-BFGS-B takes it
        assert not met
    else:
        assert ours == pytest.approx(theirs, rel=1e-12)
        assert met


def test_the_line_search_is_minpack2s_on_random_lines():
    # Quartics with a wave on top, at scales from 0.01 to 100 times the first step: every
    # case of dcstep, bracketed and not, the bisections and the interval's rules.
    rng = np.random.default_rng(7)
    compared = 0
    for _ in range(1000):
        c = rng.normal(size=4) * np.array([1, 1, 0.3, 0.05]) * rng.choice([0.01, 0.1, 1, 10])
        c[3] = abs(c[3]) + 1e-3  # bounded below
        wave, frequency = rng.normal() * rng.choice([0, 0.1, 1]), rng.uniform(0.5, 8)
        c[0] -= max(0.0, c[0] + wave * frequency) + abs(rng.normal())  # f'(0) < 0
        k = float(rng.choice([0.01, 0.1, 1.0, 10.0, 100.0]))

        def phi(a, c=c, w=wave, fr=frequency, k=k):
            return np.polyval([c[3], c[2], c[1], c[0], 0.0], k * a) + w * np.sin(fr * k * a)

        def derphi(a, c=c, w=wave, fr=frequency, k=k):
            slope = np.polyval([4 * c[3], 3 * c[2], 2 * c[1], c[0]], k * a)
            return k * (slope + w * fr * np.cos(fr * k * a))

        ours, count = _ours(phi, derphi, 1.0)
        theirs, their_count = _wolfe1(phi, derphi, 1.0)
        assert count == their_count
        if theirs is not None:
            assert ours == pytest.approx(theirs, rel=1e-10)
            compared += 1
    assert compared > 850


def test_a_gradient_that_lies_ends_the_minimisation_without_a_step():
    # The gradient points uphill: no step along -g lowers f, the line search gives up with
    # no pair to forget, and the minimisation ends where it started.
    calls = []

    def fun(x):
        calls.append(x.copy())
        return float(x @ x), -2.0 * x

    x0 = np.array([1.0, -2.0, 3.0])
    x = lbfgs.minimize(fun, x0)
    np.testing.assert_array_equal(x, x0)
    assert 2 <= len(calls) <= 1 + lbfgs.MAX_LINE_STEPS


def test_it_ends_where_the_gradient_is_zero_or_no_step_lowers_f():
    calls = []

    def fun(x):
        calls.append(x)
        return float(np.sum((x - 1.0) ** 2)), 2.0 * (x - 1.0)

    x = lbfgs.minimize(fun, np.ones(4))  # already at the minimum: one evaluation
    np.testing.assert_array_equal(x, np.ones(4))
    assert len(calls) == 1
    calls.clear()
    x = lbfgs.minimize(fun, np.zeros(4))  # there, then stuck on rounding: it returns
    np.testing.assert_allclose(x, np.ones(4), atol=1e-7)
    assert len(calls) < 100


def test_the_direction_is_the_two_loop_recursion_in_float64_to_float32s_precision():
    rng = np.random.default_rng(5)
    size, memory = 500, 4
    history = lbfgs._History(size, memory)
    x, g = rng.normal(size=size), rng.normal(size=size)
    pairs = []
    for _ in range(memory + 2):  # more pairs than kept: the oldest go
        s = 0.1 * rng.normal(size=size)
        y = s * rng.uniform(1.0, 10.0, size)  # s^T y > 0
        history.update(x + s, x, g + y, g)
        pairs.append((s, y))
    pairs = pairs[-memory:]
    direction = history.direction(g, out=np.empty(size, np.float32))
    # Nocedal and Wright's algorithm 7.4 in float64, from the float32 pairs.
    pairs = [
        (s.astype(np.float32).astype(float), y.astype(np.float32).astype(float)) for s, y in pairs
    ]
    q, alphas = g.copy(), []
    for s, y in reversed(pairs):
        alphas.append((s @ q) / (y @ s))
        q -= alphas[-1] * y
    s, y = pairs[-1]
    q *= (s @ y) / (y @ y)
    for (s, y), alpha in zip(pairs, reversed(alphas)):
        q += (alpha - (y @ q) / (y @ s)) * s
    np.testing.assert_allclose(direction, -q, rtol=1e-4, atol=1e-5 * np.abs(q).max())


def test_a_pair_without_curvature_is_not_kept():
    history = lbfgs._History(3, 5)
    x, g = np.zeros(3), np.array([1.0, 0.0, 0.0])
    history.update(x + [-1.0, 0, 0], x, g + [1.0, 0, 0], g)  # s^T y = -1 < 0
    assert history.order == []
    history.update(x + [-1.0, 0, 0], x, g + [-2.0, 0, 0], g)  # s^T y = 2
    assert len(history.order) == 1
