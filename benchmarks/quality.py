#!/usr/bin/env python
"""Quality and speed of the fast modes against the course's run, as whole commands.

    python benchmarks/quality.py --model STANDIN.mat --course-cache DIR     # --fast, 8 pairs
    python benchmarks/quality.py --model M --fast "--fast --precision fp32" --set tuning \\
        --course-cache DIR --repeats 2

Judge convergence and looks on trained weights: build the stand-in once with
``../shared/tools/make_proxy_vgg.py STANDIN.mat`` (trained ImageNet VGG-16 convolutions under
VGG-19's layer names; never the real VGG-19) and keep it outside the repository. Random
weights converge in a few steps and say nothing about either.

For each content/style pair at 300x400 it runs ``run_nst.py`` as a subprocess: the course's
command (fp32 Adam, learning rate 2.0, 200 iterations, seed 1; once per pair and kept in
``--course-cache`` when given: the course's run does not change with the project's work) and
each ``--fast`` flag set, interleaved (course, fast 1, fast 2, ..., repeated ``--repeats``
times), the fast ones at the course's 300x400 too unless ``--fast-size own``, and reports for
each:

* the wall time and the CPU time (user + system) of the whole command (start-up, model load
  and saving included) and its peak RSS (``ru_maxrss`` of that child); the speed-up of each
  fast run against the course's, by wall time and by CPU time (on a loaded machine the wall
  times depend on the load of the moment);
* the evaluations (Adam iterations) at the output size, from run.json;
* J_content and J_style of each saved file, ``generated_image.png`` and
  ``generated_image.jpg``, read back and re-evaluated here in fp32 with the course's own
  functions (``compute_content_cost``, ``compute_layer_style_cost``, ``total_cost``: content
  conv4_2, style conv1_1..conv5_1 at 0.2), as ratios fast / course, and whether the PNG's
  are both at most the course's; a line per set (tuning, held-out) counts those pairs.

It prints the CPU model and whether it has ``avx512_bf16`` / ``amx_bf16``, and writes a
side-by-side PNG per pair (content, style, course result, fast result) and ``summary.json``
into ``--out``.

Pairs (:data:`PAIRS`): a tuning set and a held-out set, images from the package (its demo
pair), from scikit-image's public-domain sample data (``pip install scikit-image``; shipped
in its wheel, nothing is downloaded), brush-stroke paintings drawn here, and the course's
louvre_small.jpg and monet.jpg from ``--course-images`` (used only where they are; never
copied). Generated and sample images are written into ``--out``.
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = (300, 400)
COURSE_STYLE_LAYERS = (
    ("conv1_1", 0.2),
    ("conv2_1", 0.2),
    ("conv3_1", 0.2),
    ("conv4_1", 0.2),
    ("conv5_1", 0.2),
)
SAVED = ("generated_image.jpg", "generated_image.png")


def cpu_description():
    """(model name, {flag: present} for avx512_bf16 and amx_bf16, logical CPUs)."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags.update(value.split())
    except OSError:
        pass
    return model, {name: name in flags for name in ("avx512_bf16", "amx_bf16")}, os.cpu_count()


def stroke_style(height=300, width=400, seed=3):
    """A brush-stroke painting: short, thick strokes of saturated colours following a swirl."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (20, 30, 60))
    draw = ImageDraw.Draw(img)
    palette = np.array(
        [
            (230, 180, 40),
            (200, 60, 40),
            (40, 110, 200),
            (250, 240, 210),
            (30, 150, 110),
            (120, 50, 150),
        ]
    )
    for _ in range(1400):
        x, y = rng.uniform(-20, width + 20), rng.uniform(-20, height + 20)
        angle = math.sin(x / 60) * 1.5 + math.cos(y / 45) * 1.2 + rng.normal(0, 0.2)
        half = rng.uniform(5, 14)
        colour = np.clip(palette[rng.integers(len(palette))] + rng.integers(-25, 25, 3), 0, 255)
        dx, dy = math.cos(angle) * half, math.sin(angle) * half
        draw.line(
            [(x - dx, y - dy), (x + dx, y + dy)],
            fill=tuple(int(c) for c in colour),
            width=int(rng.integers(3, 7)),
        )
    return img.filter(ImageFilter.SMOOTH)


#: The pairs, split into the set the --fast choices were tuned on and a held-out set that
#: was only run after they were fixed. name -> (set, content, style); a content or style is
#: "demo" (the package's own pair), "course:FILE" (../shared/images, never copied),
#: "skimage:NAME" (scikit-image's public-domain sample data, shipped in its wheel) or
#: "strokes:SEED" (a brush-stroke painting drawn by :func:`stroke_style`).
PAIRS = {
    "demo": ("tuning", "demo:content", "demo:style"),
    "chelsea-ihc": ("tuning", "skimage:chelsea", "skimage:immunohistochemistry"),
    "astronaut-strokes": ("tuning", "skimage:astronaut", "strokes:3"),
    "coffee-gravel": ("tuning", "skimage:coffee", "skimage:gravel"),
    "louvre": ("held-out", "course:louvre_small.jpg", "course:monet.jpg"),
    "rocket-brick": ("held-out", "skimage:rocket", "skimage:brick"),
    "motorcycle-strokes": ("held-out", "skimage:motorcycle_left", "strokes:11"),
    "camera-retina": ("held-out", "skimage:camera", "skimage:retina"),
    # Added in round 7, before any run of theirs, for the preview's choices of round 6,
    # which were made with every pair above in view.
    "coins-hubble": ("fresh", "skimage:coins", "skimage:hubble_deep_field"),
    "clock-grass": ("fresh", "skimage:clock", "skimage:grass"),
    "hubble-strokes": ("fresh", "skimage:hubble_deep_field", "strokes:7"),
    # Added in round 9, before any run of theirs, for the choices of round 9 (the trust
    # region's strength), which were made with every pair above in view.
    "moon-gravel": ("fresh2", "skimage:moon", "skimage:gravel"),
    "astronaut-brick": ("fresh2", "skimage:astronaut", "skimage:brick"),
    "motorcycle-grass": ("fresh2", "skimage:motorcycle_right", "skimage:grass"),
    "coffee-strokes": ("fresh2", "skimage:coffee", "strokes:19"),
    # Added in round 13, before any run of theirs, for round 12's detail phase (40 + 10),
    # which was chosen with every pair above in view.
    "chelsea-strokes": ("fresh3", "skimage:chelsea", "strokes:29"),
    "rocket-gravel": ("fresh3", "skimage:rocket", "skimage:gravel"),
    "camera-hubble": ("fresh3", "skimage:camera", "skimage:hubble_deep_field"),
    "louvre-brick": ("fresh3", "course:louvre_small.jpg", "skimage:brick"),
    "motorcycle-ihc": ("fresh3", "skimage:motorcycle_left", "skimage:immunohistochemistry"),
}


#: The sets, in the order they were made.
SETS = ("tuning", "held-out", "fresh", "fresh2", "fresh3")


def _image(spec, course_images, folder):
    """Path of one image of a pair (written into ``folder`` when generated), or None."""
    from PIL import Image

    kind, _, name = spec.partition(":")
    if kind == "demo":
        from nst_tf1.settings import DEFAULT_CONTENT, DEFAULT_STYLE

        return DEFAULT_CONTENT if name == "content" else DEFAULT_STYLE
    if kind == "course":
        path = os.path.join(course_images, name)
        return path if os.path.exists(path) else None
    path = os.path.join(folder, f"{kind}-{name}.png")
    if kind == "strokes":
        stroke_style(seed=int(name)).save(path)
        return path
    try:
        import skimage.data
    except ImportError:
        return None
    if name in ("motorcycle_left", "motorcycle_right"):
        pixels = skimage.data.stereo_motorcycle()[name == "motorcycle_right"]
    else:
        pixels = getattr(skimage.data, name)()
    Image.fromarray(pixels).convert("RGB").save(path)
    return path


def make_pairs(names, course_images, folder):
    """name -> (content path, style path) of the pairs that can be had here."""
    pairs = {}
    for name in names:
        if name not in PAIRS:
            raise SystemExit(f"unknown pair {name!r}; choose from {', '.join(PAIRS)}")
        paths = [_image(spec, course_images, folder) for spec in PAIRS[name][1:]]
        if None in paths:
            print(f"skipping {name}: needs {course_images} or pip install scikit-image")
            continue
        pairs[name] = tuple(paths)
    return pairs


def add_in_process_options(parser, out):
    """The options of the in-process scripts (``fast_variants.py``, ``detail_phase.py``):
    the stand-in, the kept course runs, the pairs and the output folder (default ``out``)."""
    parser.add_argument("--model", required=True)
    parser.add_argument("--course-cache", required=True, help="quality.py's kept course runs")
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS))
    parser.add_argument("--set", choices=SETS + ("all",), default="tuning")
    parser.add_argument("--course-images", default=os.path.join(ROOT, "..", "shared", "images"))
    parser.add_argument("--out", default=out, help="images and results.json")


def kept_course_png(course_cache, name):
    """The saved PNG of pair ``name``'s course run kept in ``course_cache``."""
    return os.path.join(course_cache, name, "course.0", "generated_image.png")


def in_process_pairs(args):
    """The pairs that :func:`add_in_process_options`' ``args`` chose, as :func:`make_pairs`
    gives them (made in ``args.out``), after printing the CPU and the model; exits when a
    pair's course run is not kept in ``args.course_cache``."""
    names = args.pairs or [n for n, (kind, *_) in PAIRS.items() if args.set in ("all", kind)]
    os.makedirs(args.out, exist_ok=True)
    pairs = make_pairs(names, args.course_images, args.out)
    missing = [n for n in pairs if not os.path.exists(kept_course_png(args.course_cache, n))]
    if missing:
        raise SystemExit(
            f"no course run kept in {args.course_cache} for {', '.join(missing)}: make them "
            "with quality.py --course-cache"
        )
    model, flags, cpus = cpu_description()
    print(f"CPU: {model}, {cpus} logical CPUs; {flags}; model {args.model}")
    return pairs


def saved_ratios(judge, course, image, path):
    """fast / course of (J_content, J_style) of a normalised image (``CONFIG.MEANS``
    subtracted, with or without its batch axis) saved at ``path`` as an 8-bit PNG by the
    package's own ``save_image`` (which truncates, as the course's does; until round 13 this
    rounded, which put astronaut + brick's J_style at 0.942 of the course's where the
    package's writer gives 0.949) and re-evaluated by ``judge`` (:class:`CourseCost`);
    ``course``: the course run's two."""
    import numpy as np

    from nst_tf1.images import save_image

    save_image(path, np.reshape(image, (1, *np.shape(image)[-3:])))
    return tuple(x / c for x, c in zip(judge(path)[1:], course))


def every_fifth(trajectory):
    """``i:c/s`` of every (evaluation i, fast / course of J_content c and J_style s) whose i
    is a multiple of 5."""
    return " ".join(f"{i}:{c:.2f}/{s:.2f}" for i, c, s in trajectory if i % 5 == 0)


class CourseCost:
    """J, J_content, J_style of image files against one pair, with the course's functions."""

    def __init__(self, model, content, style):
        import tensorflow.compat.v1 as tf

        import nst_tf1

        tf.disable_v2_behavior()
        self.graph = tf.Graph()
        with self.graph.as_default():
            vgg = nst_tf1.load_vgg_model(model, *SIZE)
            self.sess = tf.Session(graph=self.graph)
            self.input = vgg["input"]
            self.sess.run(self.input.assign(self._read(content)))
            a_C = self.sess.run(vgg["conv4_2"])
            J_content = nst_tf1.compute_content_cost(a_C, vgg["conv4_2"])
            self.sess.run(self.input.assign(self._read(style)))
            J_style = 0
            for name, coeff in COURSE_STYLE_LAYERS:
                a_S = self.sess.run(vgg[name])
                J_style += coeff * nst_tf1.compute_layer_style_cost(a_S, vgg[name])
            self.costs = (nst_tf1.total_cost(J_content, J_style, 10, 40), J_content, J_style)

    @staticmethod
    def _read(path):
        import nst_tf1

        return nst_tf1.reshape_and_normalize_image(nst_tf1.load_image(path, *SIZE))

    def __call__(self, path):
        return [float(v) for v in self.sess.run(self.costs, {self.input: self._read(path)})]

    def close(self):
        self.sess.close()


def run_command(argv, log_path):
    """Run ``argv``; (exit status, wall seconds, peak RSS in MiB, CPU seconds user + system)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    with open(log_path, "w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024, cpu


def _digest(path):
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cached_run(out, argv):
    """The figures of the run kept in ``out`` (from ``out.meta.json``) if it ran the same
    command on the same images and model (file contents compared), else ``None``."""
    try:
        with open(out + ".meta.json") as f:
            meta = json.load(f)
    except OSError:
        return None
    kept = meta["argv"]
    inputs = ("--content", "--style")

    def options(args):  # the arguments after the interpreter and script, images left out
        skip = {i + 1 for i, arg in enumerate(args) if arg in inputs}
        return [arg for i, arg in enumerate(args) if i not in skip and arg not in inputs][2:]

    same = options(kept) == options(argv)
    for flag in inputs:
        if not same:
            break
        same = _digest(kept[kept.index(flag) + 1]) == _digest(argv[argv.index(flag) + 1])
    if not same:
        return None
    return {
        "wall_s": meta["wall_s"],
        "cpu_s": meta["user_s"] + meta["sys_s"],
        "peak_rss_mib": meta["peak_rss_mib"] or float("nan"),
        "cached": meta.get("started_utc", "earlier"),
    }


def outcome(out, wall, target):
    """What one run's record says: evaluations, in-run J, when it first reached ``target``."""
    with open(os.path.join(out, "run.json")) as f:
        record = json.load(f)
    costs, final = record["costs"], record["final"]
    # The last entry is the final image (the best one, for L-BFGS): not an evaluation. J is
    # null on a detail-phase evaluation that did not compute it (--detail-iterations).
    J, seconds = costs["total_cost"][:-1], costs.get("seconds", [])[:-1]
    offset = wall - record["wall_time_seconds"]  # start-up, model read, graph, before the record
    reach = next(
        (offset + seconds[i] for i, j in enumerate(J) if j is not None and j <= target and seconds),
        None,
    )
    return {
        "evaluations": len(J),
        "in_run": final["total_cost"],
        "reach_s": reach,
        "choices": record.get("choices", {}),
    }


def side_by_side(paths, labels, out_path, tile=(225, 300)):
    from PIL import Image, ImageDraw

    height, width = tile
    sheet = Image.new("RGB", (width * len(paths), height + 20), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (path, label) in enumerate(zip(paths, labels)):
        with Image.open(path) as img:
            sheet.paste(img.convert("RGB").resize((width, height), Image.BICUBIC), (i * width, 20))
        # Each label within its own tile: a long one is cut, not run into the next.
        while len(label) > 3 and draw.textlength(label, font=draw.font) > width - 8:
            label = label[:-3] + ".."
        draw.text((i * width + 4, 4), label, fill="black")
    sheet.save(out_path)


def _sized(flags, mode):
    """A fast configuration's flags, at the course's size unless ``mode`` is "own" or they
    give a size."""
    sizes = ("--height", "--width", "--max-size", "--keep-aspect")
    if mode == "own" or any(arg.split("=")[0] in sizes for arg in shlex.split(flags)):
        return flags
    return f"{flags} --height {SIZE[0]} --width {SIZE[1]}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the trained stand-in (or the real file)")
    p.add_argument(
        "--fast",
        action="append",
        default=None,
        metavar="FLAGS",
        help="flags of one fast configuration, repeatable (default: '--fast'); a value that "
        "is one flag alone is given with '=' (--fast=--fast), or argparse reads it as an "
        "option of its own",
    )
    p.add_argument("--pairs", nargs="+", choices=list(PAIRS), help="default: every pair of --set")
    p.add_argument("--set", choices=SETS + ("all",), default="all")
    p.add_argument("--course-images", default=os.path.join(ROOT, "..", "shared", "images"))
    p.add_argument(
        "--course-cache",
        help="keep each pair's course run here and reuse it when its images and model are "
        "the same (default: run it every time, interleaved with the fast runs)",
    )
    p.add_argument(
        "--no-course-runs",
        action="store_true",
        help="with --course-cache, leave out the pairs whose course run is not kept there",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the fast runs already in --out when they ran the same command",
    )
    p.add_argument(
        "--fast-size",
        choices=("course", "own"),
        default="course",
        help="'course' (default): the fast runs also optimise at the course's 300x400 "
        "(--height 300 --width 400 added unless FLAGS give a size), so that both results "
        "answer the same problem; 'own': --fast's own size (the content's aspect ratio), "
        "resized to 300x400 to be judged",
    )
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "nst-tf1-quality"))
    a = p.parse_args(argv)
    given = a.fast or ["--fast"]  # as typed: the side-by-side labels
    configs = [("course", "")] + [
        (f"fast{i}", _sized(flags, a.fast_size)) for i, flags in enumerate(given, start=1)
    ]
    names = a.pairs or [n for n, (kind, *_) in PAIRS.items() if a.set in ("all", kind)]
    model, flags, cpus = cpu_description()
    print(
        f"CPU: {model}, {cpus} logical CPUs; avx512_bf16: {flags['avx512_bf16']}, "
        f"amx_bf16: {flags['amx_bf16']}; load average {os.getloadavg()[0]:.1f} at the start"
    )
    print(f"model: {a.model}; command: {' '.join(map(shlex.quote, sys.argv))}", flush=True)
    os.makedirs(a.out, exist_ok=True)
    summary = {"cpu": model, "flags": flags, "model": a.model, "pairs": {}}
    pairs = make_pairs(names, a.course_images, a.out)
    # Every command runs before this process imports TensorFlow to evaluate the results: a
    # child's peak RSS (ru_maxrss) counts the parent's pages it was forked with.
    all_runs = {}
    for pair, (content, style) in pairs.items():
        print(f"\n== {pair}: {os.path.basename(content)} + {os.path.basename(style)}", flush=True)
        runs = all_runs[pair] = []
        for repeat in range(a.repeats):  # interleaved: course, fast1, ..., course, fast1, ...
            for name, extra in configs:
                if name == "course" and a.course_cache:
                    if repeat:
                        continue  # the course's run is run once
                    out = os.path.join(a.course_cache, pair, "course.0")
                else:
                    out = os.path.join(a.out, pair, f"{name}.{repeat}")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                argv = [
                    sys.executable,
                    os.path.join(ROOT, "run_nst.py"),
                    "--content",
                    content,
                    "--style",
                    style,
                    "--model",
                    a.model,
                    "--output-dir",
                    out,
                    "--seed",
                    "1",
                    "--overwrite",
                    *shlex.split(extra),
                ]
                run = {"config": name, "repeat": repeat, "out": out}
                kept = (a.reuse or name == "course" and a.course_cache) and cached_run(out, argv)
                if kept:
                    run.update(kept)
                    runs.append(run)
                    print(f"  {name} #{repeat + 1}: kept run of {kept['cached']}", flush=True)
                    continue
                if name == "course" and a.no_course_runs:
                    print("  course: no kept run; the pair's fast runs are kept for --reuse")
                    continue
                started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                status, wall, rss, cpu = run_command(argv, out + ".log")
                if status:
                    raise SystemExit(f"{' '.join(argv)} exited {status}; see {out}.log")
                run.update(wall_s=wall, cpu_s=cpu, peak_rss_mib=rss)
                with open(out + ".meta.json", "w") as f:
                    meta = {"argv": argv, "wall_s": wall, "user_s": cpu, "sys_s": 0.0}
                    meta.update(peak_rss_mib=rss, started_utc=started)
                    json.dump(meta, f, indent=1)
                runs.append(run)
                print(f"  {name} #{repeat + 1}: {wall:.1f} s, {rss:.0f} MiB", flush=True)
    if a.no_course_runs:
        for pair in [p for p, r in all_runs.items() if all(x["config"] != "course" for x in r)]:
            del all_runs[pair], pairs[pair]
    verdicts = {}
    for pair, (content, style) in pairs.items():
        runs = all_runs[pair]
        print(
            f"\n== {pair} ({PAIRS[pair][0]}): {os.path.basename(content)} + "
            f"{os.path.basename(style)}"
        )
        cost = CourseCost(a.model, content, style)
        target = None
        for run in runs:
            if run["config"] == "course" and target is None:
                with open(os.path.join(run["out"], "run.json")) as f:
                    target = json.load(f)["final"]["total_cost"]
            run.update(outcome(run["out"], run["wall_s"], target))
            run["saved"] = {name: cost(os.path.join(run["out"], name)) for name in SAVED}
        cost.close()
        verdicts[pair] = report(pair, configs, runs, target)
        finals = [
            os.path.join(next(r["out"] for r in runs if r["config"] == name), "generated_image.png")
            for name, _ in configs
        ]
        sheet = os.path.join(a.out, f"{pair}_side_by_side.png")
        side_by_side(
            [content, style, *finals],
            [
                "content",
                "style",
                "course: Adam 200, fp32",
                *[f"{name}: {flags}" for (name, _), flags in zip(configs[1:], given)],
            ],
            sheet,
        )
        print(f"  side by side: {sheet}")
        summary["pairs"][pair] = {
            "set": PAIRS[pair][0],
            "content": content,
            "style": style,
            "target": target,
            "configs": dict(configs),
            "runs": runs,
            "verdict": verdicts[pair],
            "side_by_side": sheet,
        }
    print("\n== per set: pairs whose saved PNG has J_content and J_style <= the course's")
    for kind in SETS:
        mine = {p: v for p, v in verdicts.items() if PAIRS[p][0] == kind}
        if not mine:
            continue
        for name, _ in configs[1:]:
            met = [p for p, v in mine.items() if v[name]["png_both"]]
            jpg = [p for p, v in mine.items() if v[name]["jpg_both"]]
            speed = [v[name]["speedup"] for v in mine.values()]
            cpu = [v[name]["cpu_speedup"] for v in mine.values()]
            print(
                f"  {kind:8} {name}: {len(met)} of {len(mine)} pairs meet both (PNG; JPEG "
                f"{len(jpg)} of {len(mine)}); wall speed-up {min(speed):.1f}-{max(speed):.1f}x, "
                f"CPU-time speed-up {min(cpu):.1f}-{max(cpu):.1f}x; not met: "
                f"{', '.join(p for p in mine if p not in met) or 'none'}"
            )
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nsummary: {os.path.join(a.out, 'summary.json')}")


def report(pair, configs, runs, target):
    """Print one pair's table; per fast config, whether its saved files meet the course's."""
    course = next(r for r in runs if r["config"] == "course")
    c_png, c_jpg = course["saved"]["generated_image.png"], course["saved"]["generated_image.jpg"]
    print(
        f"  course: wall {course['wall_s']:.1f} s, CPU {course['cpu_s']:.1f} s, "
        f"{course['peak_rss_mib']:.0f} MiB; saved PNG J_content {c_png[1]:.4g}, J_style "
        f"{c_png[2]:.4g}; JPEG {c_jpg[1]:.4g}, {c_jpg[2]:.4g}"
    )
    print(
        f"  {'config':7} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>7} {'evals':>5} "
        f"{'speed-up':>8} {'CPU x':>6} {'Jc png':>7} {'Js png':>7} {'Jc jpg':>7} {'Js jpg':>7} "
        f"{'meets':>5}"
    )
    verdict = {}
    for name, _ in configs[1:]:
        for run in (r for r in runs if r["config"] == name):
            png, jpg = run["saved"]["generated_image.png"], run["saved"]["generated_image.jpg"]
            ratios = [png[1] / c_png[1], png[2] / c_png[2], jpg[1] / c_jpg[1], jpg[2] / c_jpg[2]]
            speedup = course["wall_s"] / run["wall_s"]
            cpu_speedup = course["cpu_s"] / run["cpu_s"]
            both = ratios[0] <= 1 and ratios[1] <= 1
            print(
                f"  {name:7} {run['wall_s']:7.1f} {run['cpu_s']:7.1f} {run['peak_rss_mib']:7.0f} "
                f"{run['evaluations']:5d} {speedup:7.2f}x {cpu_speedup:5.1f}x "
                + " ".join(f"{r:7.3f}" for r in ratios)
                + f" {'yes' if both else 'NO':>5}"
            )
            verdict[name] = {
                "ratios_png": ratios[:2],
                "ratios_jpg": ratios[2:],
                "png_both": both,
                "jpg_both": ratios[2] <= 1 and ratios[3] <= 1,
                "speedup": speedup,
                "cpu_speedup": cpu_speedup,
                "peak_rss_mib": run["peak_rss_mib"],
            }
    return verdict


if __name__ == "__main__":
    main()
