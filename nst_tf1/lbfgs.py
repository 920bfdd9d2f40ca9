"""L-BFGS: the iteration SciPy's L-BFGS-B makes without bounds, its memory in float32.

:func:`minimize` is what :func:`nst_tf1.optimize.model_lbfgs` runs. It takes the steps
SciPy's ``fmin_l_bfgs_b`` takes on a problem without bounds (Byrd, Lu, Nocedal and Zhu 1995;
Nocedal and Wright, *Numerical Optimization*, algorithms 7.4 and 7.5):

* the direction d = -H g from the last ``memory`` pairs (s, y) = (x_{k+1} - x_k,
  g_{k+1} - g_k) by the two-loop recursion, starting from H_0 = (s^T y / y^T y) I; the first
  direction, and the first after a restart, is -g;
* a pair is kept only where s^T y > eps (-g_k^T s), as L-BFGS-B keeps it (the curvature that
  keeps H positive definite);
* the step along d by the line search of Moré and Thuente (1994), which L-BFGS-B calls
  (MINPACK-2's ``dcsrch``) with the same constants: sufficient decrease ``FTOL`` 1e-3,
  curvature ``GTOL`` 0.9, interval ``XTOL`` 0.1, at most ``MAX_LINE_STEPS`` evaluations; the
  first trial step 1 / ||d|| on the first iteration, 1 after it;
* a line search that fails throws the memory away and starts again with -g from the point
  it started from; one that fails with an empty memory ends the minimisation, as does a
  step that does not lower f or a gradient of 0 (SciPy's tests with ``factr = pgtol = 0``).

What differs is where the time goes. At 300x400 (360,000 variables) SciPy's L-BFGS-B spends
20-30 ms between two evaluations (22 ms, the median in a ``--fast`` run, benchmarks/README.md
round 15; 31 ms of its own on a quadratic on the same machine), with its 10 pairs in float64
and its compact matrices, Cauchy point and subspace step, which a problem without bounds does
not need. The two-loop recursion on float32 pairs, in place, with the line search, takes
about 6 ms (round 17). x, f, g and the line search stay in float64; only the pairs, and the
direction made from them, are float32: the direction is a quasi-Newton estimate whose last
digits do not matter, and the line search reads the slope along it in float64. With float64
pairs (``dtype``) the evaluations are SciPy's to their rounding (tests/test_lbfgs.py).

The evaluations are the budget: ``fun`` ends the minimisation by raising, and
:func:`minimize` returns only when it can go no further.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["FTOL", "GTOL", "XTOL", "MAX_LINE_STEPS", "MEMORY", "minimize", "LineSearch"]

#: The line search's constants, L-BFGS-B's: sufficient decrease (Armijo), f(stp) <=
#: f(0) + FTOL stp f'(0); curvature, |f'(stp)| <= GTOL |f'(0)|; the relative width of the
#: interval of uncertainty below which it stops.
FTOL, GTOL, XTOL = 1e-3, 0.9, 0.1

#: Evaluations one line search may take before it is given up (L-BFGS-B's ``maxls``).
MAX_LINE_STEPS = 20

#: Pairs (s, y) kept (SciPy's default ``m``).
MEMORY = 10

# The line search's bracket rules (dcsrch's xtrapl, xtrapu and the 0.66 of a bisection).
_EXTRAPOLATE_LOW, _EXTRAPOLATE_HIGH, _BISECT_WHEN = 1.1, 4.0, 0.66

# The largest step, L-BFGS-B's for a variable without bounds.
_STPMAX = 1e10


def minimize(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    memory: int = MEMORY,
    dtype: type = np.float32,
) -> np.ndarray:
    """Minimise ``fun`` from ``x0`` with L-BFGS, until ``fun`` raises or no step is left.

    Args:
        fun: x -> (f, df/dx), f a float, df/dx a float64 array of x's shape. It must not
            keep x, a buffer this function reuses.
        x0: the start, a flat float64 array.
        memory: the pairs (s, y) kept.
        dtype: the pairs' and the direction's (float64: SciPy's iteration to its rounding).

    Returns:
        the last point the line search accepted, once the minimisation can go no further.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    history = _History(x.size, memory, dtype)
    d_low, d, trial = np.empty(x.size, dtype), np.empty(x.size), np.empty(x.size)
    first = True
    while np.any(g):
        np.copyto(d, history.direction(g, out=d_low))
        slope = _dot(g, d)
        if slope < 0:
            stp = min(1.0 / math.sqrt(_dot(d, d)), _STPMAX) if first else 1.0
            f_new, g_new, done = _line_search(fun, x, f, d, slope, stp, trial)
            if done:
                if not f_new < f:  # no decrease: SciPy's factr = 0 test ends here
                    return trial
                history.update(trial, x, g_new, g)
                x, trial = trial, x
                f, g, first = f_new, g_new, False
                continue
        # Not a descent direction (rounding), or the line search failed: start again from
        # -g at x, or stop where there is no memory to forget.
        if not history.clear():
            return x
    return x


def _line_search(fun, x, f, d, slope, stp, trial):
    """(f, g, done) at the last point ``trial`` = x + stp d that :class:`LineSearch` tried
    from ``stp`` on; ``done`` false when it had not finished after MAX_LINE_STEPS."""
    search = LineSearch(f, slope, stpmax=_STPMAX)
    for _ in range(MAX_LINE_STEPS):
        np.multiply(d, stp, out=trial)
        trial += x
        f_new, g_new = fun(trial)
        stp, done = search.next(stp, f_new, _dot(g_new, d))
        if done:
            return f_new, g_new, True
    return f_new, g_new, False


def _dot(a, b):
    """a^T b as a float. Not ``np.dot``: NumPy's OpenBLAS splits a long dot product over its
    threads, which then spin on the cores TensorFlow's next evaluation needs, and NumPy is
    loaded before a program could limit them (measured with ``np.dot``: 1.11 of the
    command's wall time, benchmarks/README.md round 17)."""
    return float(np.einsum("i,i->", a, b))


class _History:
    """The last ``memory`` pairs (s, y) in ``dtype``, and the two-loop recursion over them."""

    def __init__(self, size: int, memory: int, dtype: type = np.float32) -> None:
        # One row more than kept: a new pair is made there before it is known to be kept.
        self.s = np.empty((memory + 1, size), dtype)
        self.y = np.empty((memory + 1, size), dtype)
        self.rho = [0.0] * (memory + 1)  # 1 / y^T s, Python floats: NumPy keeps the pairs' dtype
        self.memory = memory
        self.order: list[int] = []  # rows of the kept pairs, oldest first
        self.scratch = np.empty(size, dtype)

    def clear(self) -> bool:
        """Forget every pair; False when there was none (a restart cannot help)."""
        had = bool(self.order)
        self.order.clear()
        return had

    def update(self, x_new, x, g_new, g) -> None:
        """Keep (s, y) = (x_new - x, g_new - g) where s^T y > eps (-g^T s), as L-BFGS-B does;
        the oldest pair goes once ``memory`` are kept."""
        row = min(set(range(self.memory + 1)) - set(self.order))
        s, y = self.s[row], self.y[row]
        np.subtract(x_new, x, out=s, casting="same_kind")
        np.subtract(g_new, g, out=y, casting="same_kind")
        sy = _dot(s, y)
        if sy > np.finfo(np.float64).eps * -_dot(s, g):
            self.rho[row] = 1.0 / sy
            self.order.append(row)
            if len(self.order) > self.memory:
                self.order.pop(0)

    def direction(self, g, out) -> np.ndarray:
        """d = -H g by the two-loop recursion (Nocedal and Wright, algorithm 7.4), in the
        pairs' dtype, written to ``out``; -g with no pair kept. In place: under the command's
        malloc tunables (:mod:`nst_tf1.allocator`) every new array of this size is a fresh
        mapping whose pages fault in again."""
        q, tmp = out, self.scratch
        np.negative(g, out=q, casting="same_kind")
        alpha = {}
        for row in reversed(self.order):
            alpha[row] = self.rho[row] * _dot(self.s[row], q)
            q -= np.multiply(self.y[row], alpha[row], out=tmp)
        if self.order:  # H_0 = s^T y / y^T y of the newest pair
            newest = self.y[self.order[-1]]
            q *= 1.0 / (self.rho[self.order[-1]] * _dot(newest, newest))
        for row in self.order:
            beta = self.rho[row] * _dot(self.y[row], q)
            q += np.multiply(self.s[row], alpha[row] - beta, out=tmp)
        return q


class LineSearch:
    """The line search of Moré and Thuente (1994), as MINPACK-2's ``dcsrch``: a step stp > 0
    along a descent direction with f(stp) <= f(0) + FTOL stp f'(0) and |f'(stp)| <= GTOL
    |f'(0)|, found by safeguarded cubic and quadratic interpolation within an interval that
    it widens until the minimum is bracketed, then narrows.

    It is driven from outside: the caller evaluates f and f' at the step it holds and calls
    :meth:`next`, which says the next step to try or that this one is taken.

    Args:
        f0: f(0).
        slope0: f'(0), negative.
        stpmax: the largest step.
    """

    def __init__(self, f0: float, slope0: float, stpmax: float) -> None:
        self.finit, self.ginit, self.gtest = f0, slope0, FTOL * slope0
        self.stpmax = stpmax
        self.bracketed, self.stage = False, 1
        self.width = stpmax
        self.width1 = 2.0 * stpmax
        # The ends of the interval of uncertainty, x with the lowest f so far, and y.
        self.stx, self.fx, self.gx = 0.0, f0, slope0
        self.sty, self.fy, self.gy = 0.0, f0, slope0
        self.stmin, self.stmax = 0.0, None

    def next(self, stp: float, f: float, g: float) -> tuple[float, bool]:
        """(the next step, False), or (``stp``, True) where ``stp`` is taken: it meets both
        conditions, or rounding or the interval's width leaves nothing better to try."""
        if self.stmax is None:  # the first trial: its interval
            self.stmax = stp + _EXTRAPOLATE_HIGH * stp
        ftest = self.finit + stp * self.gtest
        if self.stage == 1 and f <= ftest and g >= 0:
            self.stage = 2
        if f <= ftest and abs(g) <= GTOL * -self.ginit:
            return stp, True
        if self._stuck(stp, f, g, ftest):
            return stp, True
        if self.stage == 1 and self.fx >= f > ftest:
            # The modified function psi(stp) = f(stp) - f(0) - FTOL stp f'(0), until a step
            # has psi <= 0 and f' >= 0.
            gt = self.gtest
            ends = (self.fx - self.stx * gt, self.gx - gt, self.fy - self.sty * gt, self.gy - gt)
            stp = self._step(stp, f - stp * gt, g - gt, *ends)
            self.fx, self.gx = self.fx + self.stx * gt, self.gx + gt
            self.fy, self.gy = self.fy + self.sty * gt, self.gy + gt
        else:
            stp = self._step(stp, f, g, self.fx, self.gx, self.fy, self.gy)
        return self._safeguarded(stp), False

    def _stuck(self, stp, f, g, ftest):
        """dcsrch's warnings: rounding, the interval's width, or the step at its bound.

        The width test never decides alone: once the bracket is that narrow,
        :meth:`_safeguarded` has already set the step to one of its ends, which the rounding
        test catches (dcsrch sets both messages and keeps the second). The "kink" line of
        tests/test_lbfgs.py meets both."""
        if self.bracketed and (stp <= self.stmin or stp >= self.stmax):
            return True
        if self.bracketed and self.stmax - self.stmin <= XTOL * self.stmax:
            return True
        if stp == self.stpmax and f <= ftest and g <= self.gtest:
            return True
        return stp == 0.0 and (f > ftest or g >= self.gtest)

    def _step(self, stp, f, g, fx, gx, fy, gy):
        """The next trial step from (stp, f, g) and the interval's ends, which are updated
        (in the function :meth:`next` chose: f or psi)."""
        stx, sty = self.stx, self.sty
        new, self.bracketed = _dcstep(
            stx, fx, gx, sty, fy, gy, stp, f, g, self.bracketed, self.stmin, self.stmax
        )
        if f > fx:
            self.sty, self.fy, self.gy = stp, f, g
            self.stx, self.fx, self.gx = stx, fx, gx
        else:
            if (g * math.copysign(1.0, gx)) < 0:
                self.sty, self.fy, self.gy = stx, fx, gx
            else:
                self.sty, self.fy, self.gy = sty, fy, gy
            self.stx, self.fx, self.gx = stp, f, g
        return new

    def _safeguarded(self, stp):
        """The step kept within the interval, bisected when it shrinks too slowly."""
        if self.bracketed:
            if abs(self.sty - self.stx) >= _BISECT_WHEN * self.width1:
                stp = self.stx + 0.5 * (self.sty - self.stx)
            self.width1, self.width = self.width, abs(self.sty - self.stx)
            self.stmin, self.stmax = min(self.stx, self.sty), max(self.stx, self.sty)
        else:
            self.stmin = stp + _EXTRAPOLATE_LOW * (stp - self.stx)
            self.stmax = stp + _EXTRAPOLATE_HIGH * (stp - self.stx)
        stp = min(max(stp, 0.0), self.stpmax)
        narrow = self.stmax - self.stmin <= XTOL * self.stmax
        if self.bracketed and (stp <= self.stmin or stp >= self.stmax or narrow):
            stp = self.stx
        return stp


def _dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, bracketed, stpmin, stpmax):
    """(the next trial step, whether the minimum is bracketed), MINPACK-2's ``dcstep``: from
    the best step x, the interval's other end y and the trial step p, each with f and f'.
    The cubic interpolates f and f' at two steps, the quadratic (secant) f' alone or f and
    one f'."""
    sgnd = dp * math.copysign(1.0, dx)
    if fp > fx:  # higher f: the minimum is bracketed
        theta, gamma = _cubic(stx, fx, dx, stp, fp, dp, negate=stp < stx)
        stpc = stx + ((gamma - dx) + theta) / (((gamma - dx) + gamma) + dp) * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        if abs(stpc - stx) < abs(stpq - stx):
            return stpc, True
        return stpc + (stpq - stpc) / 2.0, True
    if sgnd < 0:  # lower f, slopes of opposite signs: bracketed
        theta, gamma = _cubic(stx, fx, dx, stp, fp, dp, negate=stp > stx)
        stpc = stp + ((gamma - dp) + theta) / (((gamma - dp) + gamma) + dx) * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        return (stpc if abs(stpc - stp) > abs(stpq - stp) else stpq), True
    if abs(dp) < abs(dx):  # lower f, same signs, the slope's size falls
        theta, gamma = _cubic(stx, fx, dx, stp, fp, dp, negate=stp > stx)
        r = ((gamma - dp) + theta) / ((gamma + (dx - dp)) + gamma)
        if r < 0 and gamma != 0:
            stpc = stp + r * (stx - stp)
        else:
            stpc = stpmax if stp > stx else stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if bracketed:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            if stp > stx:
                return min(stp + _BISECT_WHEN * (sty - stp), stpf), True
            return max(stp + _BISECT_WHEN * (sty - stp), stpf), True
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        return max(stpmin, min(stpmax, stpf)), False
    # Lower f, same signs, the slope's size does not fall.
    if bracketed:
        theta, gamma = _cubic(stp, fp, dp, sty, fy, dy, negate=stp > sty)
        return stp + ((gamma - dp) + theta) / (((gamma - dp) + gamma) + dy) * (sty - stp), True
    return (stpmax if stp > stx else stpmin), False


def _cubic(sa, fa, da, sb, fb, db, negate):
    """dcstep's theta and gamma of the cubic through (sa, fa, da) and (sb, fb, db), gamma's
    sign flipped when ``negate``; the root's argument is kept >= 0 against rounding."""
    theta = 3.0 * (fa - fb) / (sb - sa) + da + db
    s = max(abs(theta), abs(da), abs(db))
    gamma = s * math.sqrt(max(0.0, (theta / s) ** 2 - (da / s) * (db / s)))
    return theta, (-gamma if negate else gamma)
