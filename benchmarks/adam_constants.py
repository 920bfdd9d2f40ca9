#!/usr/bin/env python
"""The course's Adam graph with the VGG weights in Variables (the project's) and in constants,
and the bare tf.nn graph, one iteration of each in turn in one process.

    python benchmarks/adam_constants.py --model STANDIN.mat [--timed 15]

With oneDNN on, its convolution keeps the reordered filter between runs only for a constant
filter; this measures whether holding the weights in Variables costs time per iteration, and
checks that both of the course's graphs give the same J, J_content and J_style bit for bit.
Inputs: louvre_small.jpg and monet.jpg from --course-images, 300x400, noise seed 1.
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--course-images", default=os.path.join(ROOT, "..", "shared", "images"))
    p.add_argument("--timed", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args(argv)
    sys.path[:0] = [ROOT, os.path.dirname(os.path.abspath(__file__))]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    from bench import BareReference

    from nst_tf1 import graph
    from nst_tf1.images import generate_noise_image, load_image, reshape_and_normalize_image
    from nst_tf1.vgg import read_vgg_weights

    weights = read_vgg_weights(a.model)
    C, S = (
        reshape_and_normalize_image(load_image(os.path.join(a.course_images, name), 300, 400))
        for name in ("louvre_small.jpg", "monet.jpg")
    )
    initial = generate_noise_image(C, 0.6, seed=1)
    count = a.warmup + a.timed

    def course_graph(weights_as):
        build = graph.build_vgg_model
        graph.build_vgg_model = lambda *args, **kw: build(*args, **{**kw, "weights_as": weights_as})
        try:
            g = graph.TransferGraph(weights, 300, 400)
        finally:
            graph.build_vgg_model = build
        return g.run(g.content_target(C), g.style_grams(S), initial, count + 1, 0)

    variables, constants = course_graph("variables"), course_graph("constants")
    layers = {k: tuple(np.array(x) for x in v) for k, v in weights.layers.items()}
    bare = BareReference(layers, C, S, initial)
    times = {"variables": [], "constants": [], "bare": []}
    same = True
    for _ in range(count):
        mark = time.perf_counter()
        v = next(variables)
        times["variables"].append(time.perf_counter() - mark)
        mark = time.perf_counter()
        c = next(constants)
        times["constants"].append(time.perf_counter() - mark)
        mark = time.perf_counter()
        bare.step()
        times["bare"].append(time.perf_counter() - mark)
        same &= v[1:4] == c[1:4]
    ms = {k: statistics.median(t[a.warmup :]) * 1000 for k, t in times.items()}
    print(
        f"median ms/it over {a.timed} after {a.warmup} warm-up: variables {ms['variables']:.1f}, "
        f"constants {ms['constants']:.1f}, bare {ms['bare']:.1f}; variables/bare "
        f"{ms['variables'] / ms['bare']:.3f}, constants/bare {ms['constants'] / ms['bare']:.3f}, "
        f"variables/constants {ms['variables'] / ms['constants']:.3f}; costs identical every "
        f"iteration: {same}; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
