#!/usr/bin/env python
"""A detail phase at the output size: L-BFGS on the shallow style layers alone (the network
cut after the last of them), then ``--fast``'s own objective, from ``--fast``'s full-size start.

    python benchmarks/detail_phase.py --model STANDIN.mat --course-cache DIR \\
        --pairs clock-grass louvre --plans 40+10 30+15

Why: after the half size, ``--fast`` spends 20 to 34 full-size evaluations on a texture
before both of the course's costs are met (benchmarks/README.md, round 10), because the
upsampled start lacks the texture's fine and middle detail (on coffee + gravel, conv1_1
to conv3_1's style terms at 71 to 284 times the course's, 99% of J_style, round 9), while
conv4_1 and conv5_1 hold 1% of it and J_content is near its end already. Those three shallow
terms need only the first 5 of the 13 convolutions up to conv5_1: an evaluation of them takes
about half the CPU time of a full one (round 11).

For each pair this runs ``--fast`` (with ``iterations`` 40, never stopped early: the
reference) through :class:`nst_tf1.transfer.Runner`, keeps what its full-size L-BFGS
started from (the image, the targets and the content trust region), and then, for each plan
``N+M``, from that same start: N L-BFGS evaluations of beta sum_l 0.2 J_style^[l] over the
layers of ``--layers`` only, in a graph that holds nothing deeper, then M evaluations of
``--fast``'s objective (J with the trust region) in the reference's own full-size graph.
Printed per plan: the CPU and wall seconds of each phase (the wall means something on a
quiet machine only), fast / course of J_content and J_style in-run (bf16 where chosen)
after every 5 evaluations, and of the result saved as an 8-bit PNG, re-evaluated in fp32
by ``quality.py``'s judge against the course run's saved PNG in ``--course-cache`` (made by
``quality.py --course-cache``).

Judge on trained weights only: the stand-in of ``../shared/tools/make_proxy_vgg.py``
(trained ImageNet VGG-16 convolutions under VGG-19's names; never the real VGG-19).
"""

import argparse
import dataclasses
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "benchmarks")]

import numpy as np  # noqa: E402
import quality  # noqa: E402


def parse_plan(text):
    """``N+M`` -> (N detail evaluations, M full evaluations)."""
    n, _, m = text.partition("+")
    return int(n), int(m)


class StartOfOutputSize:
    """Wraps ``TransferGraph.run`` to keep the arguments of the output size's run."""

    def __init__(self, graph_class, height, width):
        self.graph_class, self.size, self.kept = graph_class, (height, width), {}
        self.original = graph_class.run

    def __enter__(self):
        keep, kept, size = self.original, self.kept, self.size

        def run(graph, a_C, grams, initial, *args, **kwargs):
            if (graph.height, graph.width) == size and not kept:
                kept.update(
                    a_C=a_C,
                    grams=list(grams),
                    initial=np.array(initial),
                    bound=kwargs.get("content_bound"),
                )
            return keep(graph, a_C, grams, initial, *args, **kwargs)

        self.graph_class.run = run
        return self.kept

    def __exit__(self, *exc):
        self.graph_class.run = self.original


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    quality.add_in_process_options(p, out="/tmp/nst-tf1-detail")
    p.add_argument("--plans", nargs="+", type=parse_plan, default=[(40, 10)], metavar="N+M")
    p.add_argument("--layers", default="conv1_1,conv2_1,conv3_1", help="the detail's layers")
    a = p.parse_args(argv)

    from nst_tf1.graph import TransferGraph
    from nst_tf1.images import load_image
    from nst_tf1.settings import Settings
    from nst_tf1.transfer import Runner
    from nst_tf1.vgg import read_vgg_weights

    pairs = quality.in_process_pairs(a)
    detail_layers = a.layers.split(",")
    style_layers = [name for name, _ in Settings().style_layers]
    if not set(detail_layers) <= set(style_layers):
        p.error(f"--layers: choose among the style layers {','.join(style_layers)}")
    weights = read_vgg_weights(a.model)
    height, width = quality.SIZE
    results = {}
    for name, (content_path, style_path) in pairs.items():
        judge = quality.CourseCost(a.model, content_path, style_path)
        course = judge(quality.kept_course_png(a.course_cache, name))[1:]
        content, style = (load_image(x, height, width) for x in (content_path, style_path))
        s = Settings(
            fast=True,
            seed=1,
            height=height,
            width=width,
            iterations=40,
            detail_iterations=0,  # the reference: --fast as it was before round 12
            stop_progress=1e-9,
        )
        with Runner(weights, s, max_open=2) as runner:
            with StartOfOutputSize(TransferGraph, height, width) as start:
                begun, trajectory, last = time.process_time(), [], None
                for progress in runner.run(content, [style]):
                    step = progress.step
                    if progress.scale == progress.scales:
                        costs = (step.content_cost, step.style_cost)
                        trajectory.append((step.iteration, *(x / c for x, c in zip(costs, course))))
                        last = step.image if step.image is not None else last
                cpu = time.process_time() - begun
            saved = quality.saved_ratios(
                judge, course, last, os.path.join(a.out, f"fast40_{name}.png")
            )
            print(f"{name}: --fast, 40 full-size evaluations (the whole run: CPU {cpu:.1f} s)")
            in_run = quality.every_fifth(trajectory)
            print(f"  saved PNG {saved[0]:.3f} / {saved[1]:.3f} | in-run {in_run}")
            results[name] = {"fast40": dict(saved=saved, cpu_s=cpu, trajectory=trajectory)}
            full = runner._graphs[(height, width)]
            picked = [i for i, (n, _) in enumerate(s.style_layers) if n in detail_layers]
            terms = dataclasses.replace(
                s.cost_terms(),
                style_layers=tuple(s.style_layers[i] for i in picked),
                content_layer=s.style_layers[picked[-1]][0],  # the cut: nothing deeper
                alpha=0.0,
            )
            with TransferGraph(weights, height, width, terms, s.optimizer_options()) as detail:
                unused_a_C = detail.content_target(start["initial"])  # alpha is 0
                grams = [start["grams"][i] for i in picked]
                for n, m in a.plans:
                    begun, image = time.process_time(), start["initial"]
                    wall = time.perf_counter()
                    if n:
                        for step in detail.run(unused_a_C, grams, image, n, 10**6):
                            image = step.image if step.image is not None else image
                    cpu_detail = time.process_time() - begun
                    wall_detail = time.perf_counter() - wall
                    _, jc, js = full.evaluate(image)
                    after = (jc / course[0], js / course[1])
                    trajectory = []
                    steps = full.run(
                        start["a_C"], start["grams"], image, m, 10**6,
                        content_bound=start["bound"],
                    )  # fmt: skip
                    for step in steps:
                        costs = (step.content_cost, step.style_cost)
                        ratios = tuple(x / c for x, c in zip(costs, course))
                        trajectory.append((n + step.iteration, *ratios))
                        image = step.image if step.image is not None else image
                    cpu_full = time.process_time() - begun - cpu_detail
                    wall_full = time.perf_counter() - wall - wall_detail
                    path = os.path.join(a.out, f"detail{n}+{m}_{name}.png")
                    saved = quality.saved_ratios(judge, course, image, path)
                    meets = "both" if max(saved) <= 1 else "-   "
                    print(
                        f"  {n:3d} detail (CPU {cpu_detail:5.1f} s, wall {wall_detail:5.1f} s) + "
                        f"{m:3d} full (CPU {cpu_full:5.1f} s, wall {wall_full:5.1f} s): "
                        f"saved PNG {saved[0]:.3f} / {saved[1]:.3f} "
                        f"{meets} | after the detail {after[0]:.2f}/{after[1]:.2f} | in-run "
                        f"{quality.every_fifth(trajectory)}",
                        flush=True,
                    )
                    results[name][f"{n}+{m}"] = dict(
                        saved=saved,
                        after_detail=after,
                        cpu_detail_s=cpu_detail,
                        cpu_full_s=cpu_full,
                        wall_detail_s=wall_detail,
                        wall_full_s=wall_full,
                        trajectory=trajectory,
                    )
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
