#!/usr/bin/env python
"""Variants of ``--fast``'s settings on the pairs of ``quality.py``, in one process.

    python benchmarks/fast_variants.py --model STANDIN.mat --course-cache DIR \\
        --set tuning "P40:iterations=40" "P30:iterations=30" \\
        "R32:term_balance=32,iterations=15"

Each variant is ``LABEL:FIELD=VALUE,...``: :class:`nst_tf1.settings.Settings` fields given
on top of ``--fast`` (seed 1, 300x400, the course's size); ``--fast`` as it is now, with the
detail phase since round 12 (``detail_iterations=0,iterations=40`` is round 10's). Every
pair runs through :class:`nst_tf1.transfer.Runner` in this process (TensorFlow imported and
the weights read once: faster than ``quality.py``'s whole commands, for choosing between
settings; the whole commands are what ``quality.py`` then measures). For each pair the
result, saved as an 8-bit PNG, is re-evaluated in fp32 by ``quality.py``'s judge
(:class:`quality.CourseCost`: the course's own functions) against the course run's saved PNG
kept in ``--course-cache`` (made by ``quality.py --course-cache``), and printed as ratios
fast / course of J_content and J_style, with the CPU time of the run (graphs built, targets,
every scale) and the in-run (bf16 where chosen) ratios after every 5 full-size evaluations:
a longer ``iterations`` with ``stop_progress=1e-9`` shows what each shorter budget would
give.

Judge on trained weights only: the stand-in of ``../shared/tools/make_proxy_vgg.py``
(trained ImageNet VGG-16 convolutions under VGG-19's names; never the real VGG-19).
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "benchmarks")]

import quality  # noqa: E402


def parse_variant(text):
    """``LABEL:k=v,k=v`` -> (label, {field: int, float or str value, or None for ``None``:
    as if not given, so ``--fast``'s choice})."""
    label, _, fields = text.partition(":")
    values = {}
    for item in filter(None, fields.split(",")):
        key, _, raw = item.partition("=")
        if raw == "None":
            values[key] = None
            continue
        for kind in (int, float, str):
            try:
                values[key] = kind(raw)
                break
            except ValueError:
                continue
    return label, values


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("variants", nargs="+", metavar="LABEL:FIELD=VALUE,...")
    quality.add_in_process_options(p, out="/tmp/nst-tf1-variants")
    a = p.parse_args(argv)

    from nst_tf1.images import load_image
    from nst_tf1.settings import Settings
    from nst_tf1.transfer import Runner
    from nst_tf1.vgg import read_vgg_weights

    pairs = quality.in_process_pairs(a)
    weights = read_vgg_weights(a.model)
    # quality.py's judge, once per pair: (J_content, J_style) of a saved file, fp32, with
    # the course's own functions.
    judges = {name: quality.CourseCost(a.model, *paths) for name, paths in pairs.items()}
    course = {n: judges[n](quality.kept_course_png(a.course_cache, n))[1:] for n in pairs}
    results = {}
    for label, fields in map(parse_variant, a.variants):
        height, width = quality.SIZE
        settings = Settings(fast=True, seed=1, height=height, width=width, **fields)
        with Runner(weights, settings) as runner:
            for name, (content_path, style_path) in pairs.items():
                content, style = (load_image(x, *quality.SIZE) for x in (content_path, style_path))
                start, trajectory, last = time.process_time(), [], None
                for progress in runner.run(content, [style]):
                    step = progress.step
                    # None: a detail-phase evaluation that did not compute the costs.
                    if progress.scale == progress.scales and step.total_cost is not None:
                        ratios = (step.content_cost, step.style_cost)
                        ratios = tuple(x / c for x, c in zip(ratios, course[name]))
                        trajectory.append((step.iteration, *ratios))
                    if step.image is not None:
                        last = step.image
                cpu = time.process_time() - start
                saved = os.path.join(a.out, f"{label}_{name}.png")
                jc, js = quality.saved_ratios(judges[name], course[name], last, saved)
                every5 = quality.every_fifth(trajectory)
                print(
                    f"{label:10s} {name:20s} J_content {jc:6.3f} J_style {js:7.3f} "
                    f"{'both' if jc <= 1 and js <= 1 else '-   '} CPU {cpu:5.1f} s | {every5}",
                    flush=True,
                )
                results.setdefault(label, {})[name] = dict(
                    fields=fields, J_content=jc, J_style=js, cpu_s=cpu, trajectory=trajectory
                )
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
