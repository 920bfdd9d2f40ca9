"""Batch mode: what reusing one graph per size saves over rebuilding it per image.

Builds :class:`nst_tf1.graph.TransferGraph` at the course's 300x400 on a full-width synthetic
VGG-19 (the real file's convolution shapes), then times, for one content/style pair:

* rebuild: a new graph and session (what a fresh ``style_transfer`` per image costs before
  its first iteration), with targets computed and assigned;
* reuse: resetting the finalised graph's variables and assigning the new targets.

    python benchmarks/batch_graph_reuse.py [--width-divisor 1] [--repeats 3]
"""

import argparse
import os
import tempfile
import time

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width-divisor", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--height", type=int, default=300)
    p.add_argument("--width", type=int, default=400)
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from nst_tf1.demo import make_demo_content, make_demo_style
    from nst_tf1.graph import TransferGraph
    from nst_tf1.images import reshape_and_normalize_image
    from nst_tf1.settings import Settings
    from nst_tf1.testing import make_vgg_file
    from nst_tf1.vgg import read_vgg_weights

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vgg.mat")
        make_vgg_file(path, width_divisor=args.width_divisor)
        weights = read_vgg_weights(path)
    h, w = args.height, args.width
    content = reshape_and_normalize_image(make_demo_content(h, w))
    style = reshape_and_normalize_image(make_demo_style(h, w))

    def prepare(graph):
        a_C = graph.content_target(content)
        grams = graph.style_grams(style)
        run = graph.run(a_C, grams, content, num_iterations=0, save_every=0)
        next(run)  # reset, assign the targets and the image, evaluate the costs once
        return run

    course = Settings()
    rebuild, reuse = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        graph = TransferGraph(weights, h, w, course.cost_terms(), course.optimizer_options())
        prepare(graph)
        rebuild.append(time.perf_counter() - t)
        t = time.perf_counter()
        prepare(graph)
        reuse.append(time.perf_counter() - t)
        graph.close()
    print(f"{h}x{w}, width divisor {args.width_divisor}: per image before the first iteration")
    print(f"  rebuild graph + session: median {np.median(rebuild):.2f} s  {np.round(rebuild, 2)}")
    print(f"  reuse (reset + assign):  median {np.median(reuse):.2f} s  {np.round(reuse, 2)}")


if __name__ == "__main__":
    main()
