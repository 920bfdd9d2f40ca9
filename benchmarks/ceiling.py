#!/usr/bin/env python
"""How close `--fast`'s evaluations run to what this CPU's cores can do at all.

    python benchmarks/ceiling.py --model STANDIN.mat [--size 300x400] [--rounds 8]

In one process, round after round, each of these in turn (so that load from elsewhere hits
them alike), for bf16 (where the CPU has it) and fp32:

* ``matmul``: a 3072 x 3072 matmul in a TF1 session, oneDNN's best case: the practical
  ceiling of multiply-adds per second;
* ``J``: one evaluation of L-BFGS's objective and its gradient dJ/dG at the output size
  (the project's :class:`~nst_tf1.graph.TransferGraph`, the course's J), as `--fast`'s last
  phase runs it;
* ``detail``: one evaluation of the detail phase's objective (the shallow style layers) and
  its gradient, as `--fast`'s middle phase runs it.

Each evaluation's multiply-adds are counted from VGG-19's shapes (``bench.flops_per_iteration``
for J: the convolutions to conv5_1 forward, the same again for the gradient with respect to
their input, and the Grams); the detail phase runs to conv3_1. The medians' multiply-adds per
second, over the matmul's, say what share of the ceiling the evaluations reach: what is left
to gain by faster kernels on this CPU. The weights do not change the time.
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def detail_macs(height, width):
    """Multiply-adds of one detail evaluation: the convolutions to conv3_1 forward and their
    input gradients, the Grams of conv1_1, conv2_1 and conv3_1 forward and backward."""
    total, h, w, c_in = 0, height, width, 3
    for name, c_out, pooled in (
        ("conv1_1", 64, False),
        ("conv1_2", 64, True),
        ("conv2_1", 128, False),
        ("conv2_2", 128, True),
        ("conv3_1", 256, False),
    ):
        total += 2 * 9 * c_in * c_out * h * w
        if name.endswith("_1"):
            total += 2 * c_out * c_out * h * w
        c_in = c_out
        if pooled:
            h, w = -(-h // 2), -(-w // 2)
    return total


def timed(sess, fetches):
    """Seconds of one ``sess.run(fetches)``."""
    start = time.perf_counter()
    sess.run(fetches)
    return time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a MatConvNet VGG-19 file (the stand-in)")
    p.add_argument("--size", default="300x400", help="HEIGHTxWIDTH of the evaluations")
    p.add_argument("--rounds", type=int, default=8, help="timed rounds after one warm-up")
    p.add_argument("--matmul", type=int, default=3072, help="the matmul's n")
    a = p.parse_args(argv)
    sys.path[:0] = [ROOT, os.path.dirname(os.path.abspath(__file__))]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    from bench import flops_per_iteration, machine

    from nst_tf1 import Settings
    from nst_tf1.graph import TransferGraph, bf16_unsupported_reason
    from nst_tf1.tf1 import graph_mode
    from nst_tf1.vgg import read_vgg_weights

    tf = graph_mode()
    height, width = (int(v) for v in a.size.split("x"))
    weights = read_vgg_weights(a.model)
    rng = np.random.default_rng(1)
    G = rng.uniform(-20, 20, (1, height, width, 3)).astype(np.float32)
    precisions = ["fp32"] if bf16_unsupported_reason() else ["bf16", "fp32"]
    n = a.matmul

    subjects = {}
    for precision in precisions:
        settings = Settings(optimizer="lbfgs", precision=precision, height=height, width=width)
        graph = TransferGraph(
            weights,
            height,
            width,
            settings.cost_terms(),
            settings.optimizer_options(),
            detail=True,
        )
        S = np.ascontiguousarray(G[:, ::-1])  # any targets: they do not change the time
        graph.set_targets(graph.content_target(G), graph.style_grams(S))
        graph.sess.run(graph._assign["generated"], {graph._image: G})
        fetch_J = [graph.objective, graph._gradient]
        fetch_detail = list(graph.detail_objective)
        subjects[f"J {precision}"] = (graph.sess, fetch_J, flops_per_iteration(height, width) / 2)
        subjects[f"detail {precision}"] = (graph.sess, fetch_detail, detail_macs(height, width))

        dtype = tf.bfloat16 if precision == "bf16" else tf.float32
        matmul_graph = tf.Graph()
        with matmul_graph.as_default():
            x, y = (tf.Variable(rng.standard_normal((n, n), dtype=np.float32)) for _ in "xy")
            product = tf.reduce_sum(
                tf.cast(tf.matmul(tf.cast(x, dtype), tf.cast(y, dtype)), "float32")
            )
            init = tf.global_variables_initializer()
        sess = tf.Session(graph=matmul_graph)
        sess.run(init)
        subjects[f"matmul {precision}"] = (sess, product, n**3)

    times = {name: [] for name in subjects}
    for round_ in range(a.rounds + 1):
        for name, (sess, fetches, _) in subjects.items():
            seconds = timed(sess, fetches)
            if round_:  # the first round warms up
                times[name].append(seconds)

    print(f"machine: {machine()}")
    print(f"{a.size}, {a.rounds} rounds interleaved, medians; weights: {a.model}")
    print(f"{'':16} {'ms':>8} {'GMAC':>7} {'GMAC/s':>8} {'of matmul':>10}")
    for precision in precisions:
        ceiling = None
        for kind in ("matmul", "J", "detail"):
            name = f"{kind} {precision}"
            seconds = statistics.median(times[name])
            macs = subjects[name][2]
            rate = macs / seconds / 1e9
            ceiling = ceiling or rate
            print(
                f"{name:16} {1000 * seconds:8.1f} {macs / 1e9:7.2f} {rate:8.0f}"
                f" {rate / ceiling:10.2f}"
            )


if __name__ == "__main__":
    main()
