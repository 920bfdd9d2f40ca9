#!/usr/bin/env python
"""Benchmark of nst-tf1 against a bare TF1 reference and a TF2 eager one, run by hand.

    python benchmarks/bench.py                       # 300x400, the course's 200 iterations
    python benchmarks/bench.py --size 600x800
    python benchmarks/bench.py --size 60x80 --iterations 10 --timed 4 --lbfgs-max 8   # smoke

Every figure comes from a fresh subprocess per configuration, so each peak RSS (VmHWM of
/proc/self/status) belongs to one configuration alone. The configurations:

* ``project``: the command line itself (``nst_tf1.cli.main``), Adam, fp32, 200 iterations,
  saving an image every 20 iterations and the final JPEG. The time between the Steps the
  optimisation yields gives the iteration times; load and setup are timed around
  ``read_vgg_weights`` and up to the first Step.
* ``reference``: the same computation written as bare ``tf.compat.v1`` / ``tf.nn`` calls
  (``scipy.io.loadmat``, ``tf.constant`` weights, ``AdamOptimizer``, ``imageio`` saves) with
  no project code at all.
* ``eager``: the seed-style TF2 version: ``tf.keras.applications.VGG19(weights=None)`` filled
  with the same weights, ``GradientTape`` inside ``tf.function``, Keras' Adam. Keras' VGG19
  max-pools where the course average-pools, so its costs differ; its speed is comparable.
* ``interleaved``: project and reference in one process, one iteration of each in turn, so
  that load from other processes affects both alike: the per-iteration ratio comes from here.
  It also measures the machine's matmul peak.
* ``bf16``: project fp32 and project bf16 in one process, interleaved the same way, each run
  for the full iteration count: speed ratio and final costs.
* ``lbfgs``: the command line with ``--optimizer lbfgs`` (fp32 and bf16): the number of
  evaluations until the cost is at most the project's Adam final cost.
* ``fast``: the whole command line with ``--optimizer lbfgs --precision bf16 --iterations K``
  (K from the bf16 L-BFGS run), as a user runs it: process wall time, load included.

The synthetic full-width VGG-19 file (real conv and fully connected shapes, about 575 MB) is
written once to ``--model`` and reused. Inputs are the package's procedural demo pair unless
``--content``/``--style`` are given. Figures on a machine busy with other work are noisy; the
interleaved ratios are the robust ones.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(tempfile.gettempdir(), "nst-tf1-bench", "vgg19-full.mat")
RESULT = "BENCH-RESULT "

# The course's settings, written out so that the references use no project code.
MEANS = (123.68, 116.779, 103.939)
STYLE_LAYERS = (
    ("conv1_1", 0.2),
    ("conv2_1", 0.2),
    ("conv3_1", 0.2),
    ("conv4_1", 0.2),
    ("conv5_1", 0.2),
)
CONTENT_LAYER = "conv4_2"
ALPHA, BETA, LEARNING_RATE, SAVE_EVERY, NOISE_RATIO = 10.0, 40.0, 2.0, 20, 0.6
# VGG-19 up to conv5_1, the last layer the cost reads: (block, convolutions, channels).
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 1, 512))


# --------------------------------------------------------------------------- measuring
def peak_rss_mib():
    """Peak resident set size of this process (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median_ms(times, warmup):
    times = times[warmup:] or times
    return 1000 * statistics.median(times)


def flops_per_iteration(height, width):
    """FLOPs of one iteration: conv forward to conv5_1, its input gradient, and the Grams.

    A 3x3 convolution from c_in to c_out channels on an h x w map costs 2*9*c_in*c_out*h*w
    FLOPs forward and the same again for the gradient with respect to its input (no weight
    gradients: the weights are constants). Each style layer's Gram A A^T costs 2*C^2*h*w
    forward and as much backward. Bias adds, ReLUs and poolings are left out (< 1 %).
    """
    total, h, w, c_in = 0, height, width, 3
    style = {name for name, _ in STYLE_LAYERS}
    for block, count, c_out in BLOCKS:
        for i in range(1, count + 1):
            total += 2 * (2 * 9 * c_in * c_out * h * w)
            if f"conv{block}_{i}" in style:
                total += 2 * (2 * c_out * c_out * h * w)
            c_in = c_out
        h, w = -(-h // 2), -(-w // 2)
    return total


def matmul_peak_gflops(dtype="float32", n=2048, repeats=8):
    """Best GFLOP/s of an n x n matmul in a TF1 session: the machine's practical peak."""
    import numpy as np
    import tensorflow.compat.v1 as tf

    with tf.Graph().as_default(), tf.Session() as sess:
        rng = np.random.default_rng(0)
        a = tf.Variable(rng.standard_normal((n, n), dtype=np.float32))
        b = tf.Variable(rng.standard_normal((n, n), dtype=np.float32))
        if dtype == "bfloat16":
            a, b = tf.cast(a, tf.bfloat16), tf.cast(b, tf.bfloat16)
        product = tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32))
        sess.run(tf.global_variables_initializer())
        sess.run(product)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            sess.run(product)
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


# --------------------------------------------------------------------------- inputs
def ensure_model(path):
    """Write the full-width synthetic VGG-19 file once; return seconds spent (0 if cached)."""
    if os.path.exists(path):
        return 0.0
    sys.path.insert(0, ROOT)
    from nst_tf1.testing import make_vgg_file

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    start = time.perf_counter()
    partial = path + ".partial"
    make_vgg_file(partial, width_divisor=1, fc="full", seed=0, overwrite=True)
    os.replace(partial, path)
    return time.perf_counter() - start


def ensure_images(directory, height, width, content=None, style=None):
    """PNG content and style images at the benchmark size; return their paths."""
    sys.path.insert(0, ROOT)
    import numpy as np
    from PIL import Image

    from nst_tf1.demo import make_demo_content, make_demo_style
    from nst_tf1.images import load_image

    paths = []
    for name, given, make in (
        ("content", content, make_demo_content),
        ("style", style, make_demo_style),
    ):
        array = load_image(given, height, width) if given else make(height, width)
        path = os.path.join(directory, f"{name}-{height}x{width}.png")
        Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- references
def bare_read(path):
    """conv name -> (W, b) with plain scipy.io.loadmat, the way a notebook would."""
    import numpy as np
    import scipy.io

    wanted = {f"conv{b}_{i}" for b, n, _ in BLOCKS for i in range(1, n + 1)}
    layers = {}
    for cell in scipy.io.loadmat(path)["layers"][0]:
        record = cell[0, 0]
        name = str(record["name"][0])
        if name in wanted:
            W, b = record["weights"][0, 0], record["weights"][0, 1]
            layers[name] = (np.ascontiguousarray(W, np.float32), b.reshape(-1).astype(np.float32))
    return layers


def bare_images(spec):
    import imageio.v2 as imageio
    import numpy as np

    means = np.array(MEANS, np.float32).reshape(1, 1, 1, 3)
    C = imageio.imread(spec["content"]).astype(np.float32)[None] - means
    S = imageio.imread(spec["style"]).astype(np.float32)[None] - means
    noise = np.random.default_rng(spec["seed"]).uniform(-20, 20, C.shape).astype(np.float32)
    G = (noise * NOISE_RATIO + C * (1 - NOISE_RATIO)).astype(np.float32)
    return C, S, G, means


def bare_save(path, image, means):
    import imageio.v2 as imageio
    import numpy as np

    imageio.imwrite(path, np.clip(image + means, 0, 255).astype("uint8")[0])


class BareReference:
    """The course's graph as bare tf.nn calls: constants, a Variable, AdamOptimizer."""

    def __init__(self, layers, C, S, G):
        import tensorflow.compat.v1 as tf

        tf.disable_v2_behavior()
        self.graph = tf.Graph()
        with self.graph.as_default():
            x = tf.Variable(G, name="x")
            act, h = {}, x
            for block, count, _ in BLOCKS:
                if block > 1:
                    h = tf.nn.avg_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
                for i in range(1, count + 1):
                    W, b = layers[f"conv{block}_{i}"]
                    h = tf.nn.relu(
                        tf.nn.conv2d(h, tf.constant(W), [1, 1, 1, 1], "SAME") + tf.constant(b)
                    )
                    act[f"conv{block}_{i}"] = h
            self.sess = tf.Session(graph=self.graph)
            a_C = self.sess.run(act[CONTENT_LAYER], {x: C})
            a_S = self.sess.run([act[n] for n, _ in STYLE_LAYERS], {x: S})

            def gram(a):
                _, h, w, c = a.get_shape().as_list()
                A = tf.reshape(a, [h * w, c])
                return tf.matmul(A, A, transpose_a=True), h * w, c

            a_G = act[CONTENT_LAYER]
            _, h, w, c = a_G.get_shape().as_list()
            self.J_content = tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * h * w * c)
            self.J_style = 0.0
            for (name, coeff), a in zip(STYLE_LAYERS, a_S):
                GG, hw, c = gram(act[name])
                GS, _, _ = gram(tf.constant(a))
                self.J_style += coeff * tf.reduce_sum(tf.square(GS - GG)) / (4.0 * c * c * hw * hw)
            self.J = ALPHA * self.J_content + BETA * self.J_style
            self.train = tf.train.AdamOptimizer(LEARNING_RATE).minimize(self.J)
            self.x = x
            self.sess.run(tf.global_variables_initializer())

    def step(self):
        _, J = self.sess.run([self.train, self.J])
        return float(J)

    def image(self):
        return self.sess.run(self.x)


def timed_iterations(spec, start, load, step, image, means):
    """The iterations of a whole bare run, saving as the project does; its figures.

    Args:
        spec: the run's spec (``iterations``, ``out``).
        start: ``time.perf_counter()`` at the start of the run.
        load: seconds the .mat read took.
        step: one optimisation step; returns J (float) of the image before it.
        image: returns the current (1, n_H, n_W, 3) normalised image.
        means: the RGB means to add back when saving.

    Returns:
        dict: load_s, setup_s (build and the first step), iter_times (the other steps),
        wall_s, final_cost, peak_rss_mib.
    """
    times, J, mark = [], None, time.perf_counter()
    setup = mark - start - load
    for i in range(spec["iterations"]):
        if i % SAVE_EVERY == 0:
            bare_save(os.path.join(spec["out"], f"{i}.png"), image(), means)
        J = step()
        now = time.perf_counter()
        times.append(now - mark)
        mark = now
    bare_save(os.path.join(spec["out"], "generated_image.jpg"), image(), means)
    wall = time.perf_counter() - start
    return {
        "load_s": load,
        "setup_s": setup + times[0],
        "iter_times": times[1:],
        "wall_s": wall,
        "final_cost": J,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_reference(spec):
    """Whole bare run: load, build, iterate, save every SAVE_EVERY; figures as the project's."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    layers = bare_read(spec["model"])
    load = time.perf_counter() - start
    C, S, G, means = bare_images(spec)
    ref = BareReference(layers, C, S, G)
    del layers
    # The first step includes TensorFlow's one-time graph optimisation.
    return timed_iterations(spec, start, load, ref.step, ref.image, means)


def run_eager(spec):
    """Seed-style TF2: Keras VGG19(weights=None) with the file's weights, GradientTape."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    layers = bare_read(spec["model"])  # before TensorFlow, as the project and reference do
    load = time.perf_counter() - start
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    C, S, G, means = bare_images(spec)
    h, w = C.shape[1:3]
    vgg = tf.keras.applications.VGG19(include_top=False, weights=None, input_shape=(h, w, 3))
    for name, (W, b) in layers.items():
        block, i = name[4:].split("_")
        vgg.get_layer(f"block{block}_conv{i}").set_weights([W, b])
    del layers
    names = [n for n, _ in STYLE_LAYERS] + [CONTENT_LAYER]
    outputs = [vgg.get_layer(f"block{n[4]}_conv{n[6]}").output for n in names]
    model = tf.keras.Model(vgg.input, outputs)
    model.trainable = False

    def gram(a):
        A = tf.reshape(a, [-1, a.shape[-1]])
        return tf.matmul(A, A, transpose_a=True)

    targets = model(S)
    style_targets = [gram(a) for a in targets[:-1]]
    content_target = model(C)[-1]
    image = tf.Variable(G)
    opt = tf.keras.optimizers.Adam(learning_rate=LEARNING_RATE)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            acts = model(image)
            a_G = acts[-1]
            J_content = tf.reduce_sum(tf.square(content_target - a_G)) / (
                4.0 * float(a_G.shape[1] * a_G.shape[2] * a_G.shape[3])
            )
            J_style = 0.0
            for (_, coeff), a, GS in zip(STYLE_LAYERS, acts[:-1], style_targets):
                hw, c = float(a.shape[1] * a.shape[2]), float(a.shape[3])
                J_style += coeff * tf.reduce_sum(tf.square(GS - gram(a))) / (4.0 * c * c * hw * hw)
            J = ALPHA * J_content + BETA * J_style
        opt.apply_gradients([(tape.gradient(J, image), image)])
        return J

    # The first step traces the tf.function.
    return timed_iterations(spec, start, load, lambda: float(train_step()), image.numpy, means)


# --------------------------------------------------------------------------- the project
def run_project_cli(spec):
    """``nst_tf1.cli.main(argv)`` in this process, timing its load and its Steps."""
    sys.path.insert(0, ROOT)
    import contextlib
    import io

    from nst_tf1 import cli, transfer, vgg

    marks = {}
    read = vgg.read_vgg_weights

    def timed_read(*args, **kwargs):
        marks["load_start"] = time.perf_counter()
        try:
            return read(*args, **kwargs)
        finally:
            marks["load_end"] = time.perf_counter()

    inner = transfer.Runner.run
    times, costs = [], []

    def timed_run(self, *args, **kwargs):
        mark = time.perf_counter()
        for progress in inner(self, *args, **kwargs):
            now = time.perf_counter()
            times.append(now - mark)
            costs.append(progress.step.total_cost)
            yield progress
            mark = time.perf_counter()

    vgg.read_vgg_weights = timed_read
    transfer.Runner.run = timed_run
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(spec["argv"])
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"nst_tf1.cli.main({spec['argv']}) exited {status}")
    # times[0] covers build, a_C and a_S and the first step; the last Step is the final image.
    return {
        "load_s": marks["load_end"] - marks["load_start"],
        "setup_s": times[0],
        "iter_times": times[1:-1],
        "wall_s": wall,
        "costs": costs[:-1],
        "final_cost": costs[-1],
        "peak_rss_mib": peak_rss_mib(),
    }


def run_interleaved(spec):
    """Project and bare reference in one process, alternating iterations; matmul peak."""
    sys.path.insert(0, ROOT)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from nst_tf1.transfer import style_transfer
    from nst_tf1.vgg import read_vgg_weights

    weights = read_vgg_weights(spec["model"])
    layers = {k: tuple(np.array(a) for a in v) for k, v in weights.layers.items()}
    C, S, G, means = bare_images(spec)
    content = C[0] + means[0]
    style = S[0] + means[0]
    project = style_transfer(
        content,
        style,
        weights,
        seed=spec["seed"],
        num_iterations=spec["warmup"] + spec["timed"] + 1,
        save_every=0,
    )
    next(project)
    ref = BareReference(layers, C, S, G)
    ref.step()
    p_times, r_times = [], []
    for _ in range(spec["warmup"] + spec["timed"]):
        mark = time.perf_counter()
        next(project)
        p_times.append(time.perf_counter() - mark)
        mark = time.perf_counter()
        ref.step()
        r_times.append(time.perf_counter() - mark)
    project.close()
    result = {"project_times": p_times, "reference_times": r_times}
    if spec.get("matmul"):
        result["matmul_fp32_gflops"] = matmul_peak_gflops("float32")
        if spec.get("bf16_ok"):
            result["matmul_bf16_gflops"] = matmul_peak_gflops("bfloat16")
    return result


def run_bf16(spec):
    """Project fp32 and bf16 in one process, alternating iterations, for the full count."""
    sys.path.insert(0, ROOT)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from nst_tf1.images import load_image
    from nst_tf1.transfer import style_transfer
    from nst_tf1.vgg import read_vgg_weights

    weights = read_vgg_weights(spec["model"])
    h, w = spec["height"], spec["width"]
    content, style = load_image(spec["content"], h, w), load_image(spec["style"], h, w)
    runs = {
        p: style_transfer(
            content,
            style,
            weights,
            seed=spec["seed"],
            save_every=0,
            num_iterations=spec["iterations"],
            precision=p,
        )
        for p in ("fp32", "bf16")
    }
    times = {p: [] for p in runs}
    last = {p: next(g) for p, g in runs.items()}  # build, a_C, a_S, first step
    for _ in range(spec["iterations"]):
        for p, g in runs.items():
            mark = time.perf_counter()
            last[p] = next(g)
            times[p].append(time.perf_counter() - mark)
    return {"times": times, "final_cost": {p: s.total_cost for p, s in last.items()}}


CHILDREN = {
    "project": run_project_cli,
    "reference": run_reference,
    "eager": run_eager,
    "interleaved": run_interleaved,
    "bf16": run_bf16,
}


# --------------------------------------------------------------------------- the parent
def project_tunables():
    """The ``GLIBC_TUNABLES`` the project's child runs with, or None for the environment's.

    The command starts itself with glibc's malloc tunables (nst_tf1.allocator); the child
    calls cli.main(argv) from Python, which does not, so it gets them as the command would.
    The references run with glibc's defaults, as the course's code does.
    """
    sys.path.insert(0, ROOT)
    from nst_tf1.allocator import tunables_to_add

    return tunables_to_add(os.environ)


def child(name, spec, log):
    """Run one configuration in a fresh interpreter; return its result dict and wall time."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    if name == "project":
        tunables = project_tunables()
        if tunables:
            env["GLIBC_TUNABLES"] = tunables
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", name, json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        log(f"  {name} FAILED (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return None, wall
    result = json.loads(lines[-1][len(RESULT) :])
    result["process_wall_s"] = wall
    return result, wall


def first_reaching(costs, target):
    """1-based number of evaluations until the cost is at most ``target`` (None: never)."""
    for i, cost in enumerate(costs):
        if cost <= target:
            return i + 1
    return None


def machine():
    cpu = "unknown CPU"
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown CPU":
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx512", "amx")))
    load = os.getloadavg()
    try:
        from importlib.metadata import version

        tf_version = version("tensorflow")
    except Exception:  # not installed under that name
        tf_version = "?"
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {' '.join(simd) or 'no AVX-512/AMX'}; "
        f"Python {platform.python_version()}, TensorFlow {tf_version}; load average "
        f"{load[0]:.2f} at start"
    )


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", default="300x400", help="HEIGHTxWIDTH (default: %(default)s)")
    p.add_argument(
        "--iterations",
        type=int,
        default=200,
        help="Adam iterations of the whole runs (default: %(default)s)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="iterations left out of the medians (default: %(default)s)",
    )
    p.add_argument(
        "--timed",
        type=int,
        default=20,
        help="interleaved iterations timed per side (default: %(default)s)",
    )
    p.add_argument(
        "--lbfgs-max",
        type=int,
        default=50,
        help="L-BFGS evaluation budget when counting evaluations (default: %(default)s)",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="full-width synthetic VGG-19 file, written if missing (default: %(default)s)",
    )
    p.add_argument("--content", help="content image (default: the package's demo scene)")
    p.add_argument("--style", help="style image (default: the package's demo painting)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default: %(default)s)")
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated sections to skip: reference, eager, interleaved, bf16, lbfgs, fast",
    )
    p.add_argument("--json", help="also write every raw figure to this JSON file")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        name, spec = args.child
        result = CHILDREN[name](json.loads(spec))
        print(RESULT + json.dumps(result), flush=True)
        return 0

    height, width = (int(v) for v in args.size.lower().split("x"))
    skip = set(filter(None, args.skip.split(",")))

    def log(text=""):
        print(text, flush=True)

    log(f"nst-tf1 benchmark: {height}x{width}, {args.iterations} Adam iterations, seed {args.seed}")
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    log(f"command: python benchmarks/bench.py {shown}")
    log(f"machine: {machine()}")
    tunables = project_tunables()
    log(
        "malloc: project runs with GLIBC_TUNABLES="
        + (tunables or os.environ.get("GLIBC_TUNABLES", "") or "(unset)")
        + "; the references with "
        + (os.environ.get("GLIBC_TUNABLES") or "glibc's defaults")
    )
    made = ensure_model(args.model)
    log(
        f"model: {args.model} ({os.path.getsize(args.model) / 1e6:.0f} MB"
        + (f", written in {made:.1f} s)" if made else ", cached)")
    )
    sys.path.insert(0, ROOT)
    from nst_tf1.graph import bf16_unsupported_reason

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    bf16_reason = bf16_unsupported_reason(check_tensorflow=False)
    work = tempfile.mkdtemp(prefix="nst-tf1-bench-")
    content, style = ensure_images(work, height, width, args.content, args.style)
    flops = flops_per_iteration(height, width)
    base = {
        "model": args.model,
        "content": content,
        "style": style,
        "seed": args.seed,
        "height": height,
        "width": width,
        "iterations": args.iterations,
    }
    common_argv = [
        "--model",
        args.model,
        "--content",
        content,
        "--style",
        style,
        "--height",
        str(height),
        "--width",
        str(width),
        "--seed",
        str(args.seed),
    ]
    raw = {"size": [height, width], "flops_per_iteration": flops}

    def outdir(name):
        path = os.path.join(work, name)
        os.makedirs(path, exist_ok=True)
        return path

    # Whole runs, one process each.
    whole = {}
    whole["project"], _ = child(
        "project",
        {
            **base,
            "argv": [
                *common_argv,
                "--iterations",
                str(args.iterations),
                "--output-dir",
                outdir("project"),
            ],
        },
        log,
    )
    if "reference" not in skip:
        whole["reference"], _ = child("reference", {**base, "out": outdir("reference")}, log)
    if "eager" not in skip:
        whole["eager"], _ = child("eager", {**base, "out": outdir("eager")}, log)
    raw["whole"] = whole

    log("")
    # wall/(N*it): the whole run against N median iterations. Load from other processes
    # during the run slows iterations and inflates it; "rest" (wall minus the sum of all
    # measured iteration times: start-up, load, setup, saves) and (N*it + rest)/(N*it) show
    # the time spent outside the iterations, which is what the project can add.
    log(
        f"{'whole run (' + str(args.iterations) + ' it)':20} {'load s':>6} {'setup s':>7} "
        f"{'ms/it':>7} {'wall s':>7} {'wall/(N*it)':>11} {'rest s':>6} {'(N*it+rest)/(N*it)':>18} "
        f"{'peak RSS MiB':>12} {'final J':>10}"
    )
    for name, r in whole.items():
        if not r:
            continue
        ms = median_ms(r["iter_times"], args.warmup)
        n_it = args.iterations * ms / 1000
        rest = r["wall_s"] - sum(r["iter_times"])
        log(
            f"{name:20} {r['load_s']:6.2f} {r['setup_s']:7.2f} {ms:7.1f} {r['wall_s']:7.1f} "
            f"{r['wall_s'] / n_it:11.3f} {rest:6.1f} {(n_it + rest) / n_it:18.3f} "
            f"{r['peak_rss_mib']:12.0f} {r['final_cost']:10.4g}"
        )
    proj = whole.get("project")
    if proj and whole.get("eager"):
        log(
            f"project/eager ms per iteration: "
            f"{median_ms(proj['iter_times'], args.warmup) / median_ms(whole['eager']['iter_times'], args.warmup):.3f}"  # noqa: E501
        )
    if proj and whole.get("reference"):
        pr, rr = proj, whole["reference"]
        log(
            f"project/reference (separate processes): ms per iteration "
            f"{median_ms(pr['iter_times'], args.warmup) / median_ms(rr['iter_times'], args.warmup):.3f}, "  # noqa: E501
            f"wall {pr['wall_s'] / rr['wall_s']:.3f}, peak RSS "
            f"{pr['peak_rss_mib'] / rr['peak_rss_mib']:.3f}"
        )

    if "interleaved" not in skip:
        inter, _ = child(
            "interleaved",
            {
                **base,
                "warmup": args.warmup,
                "timed": args.timed,
                "matmul": True,
                "bf16_ok": bf16_reason is None,
            },
            log,
        )
        raw["interleaved"] = inter
        if inter:
            p_ms = median_ms(inter["project_times"], args.warmup)
            r_ms = median_ms(inter["reference_times"], args.warmup)
            log("")
            log(
                f"interleaved ({args.timed} timed iterations each, after {args.warmup} "
                f"warm-up): project {p_ms:.1f} ms, reference {r_ms:.1f} ms, "
                f"project/reference {p_ms / r_ms:.3f}"
            )
            log(
                f"FLOPs per iteration: {flops / 1e9:.1f} GFLOP; achieved "
                f"{flops / p_ms / 1e6:.1f} GFLOP/s (project), matmul peak "
                f"{inter['matmul_fp32_gflops']:.1f} GFLOP/s fp32"
                + (
                    f", {inter['matmul_bf16_gflops']:.1f} GFLOP/s bf16"
                    if "matmul_bf16_gflops" in inter
                    else ""
                )
                + f"; {flops / p_ms / 1e6 / inter['matmul_fp32_gflops']:.0%} of the fp32 peak"
            )

    adam_cost = proj["final_cost"] if proj else None
    log("")
    if bf16_reason:
        log(f"bf16: not available here: {bf16_reason}")
    elif "bf16" not in skip:
        b, _ = child("bf16", base, log)
        raw["bf16"] = b
        if b:
            f_ms = median_ms(b["times"]["fp32"], args.warmup)
            h_ms = median_ms(b["times"]["bf16"], args.warmup)
            fc, hc = b["final_cost"]["fp32"], b["final_cost"]["bf16"]
            log(
                f"bf16 vs fp32 (interleaved, {args.iterations} Adam iterations each): fp32 "
                f"{f_ms:.1f} ms/it, bf16 {h_ms:.1f} ms/it, speed-up {f_ms / h_ms:.2f}x; final "
                f"J fp32 {fc:.5g}, bf16 {hc:.5g} ({(hc - fc) / fc:+.1%})"
            )

    if "lbfgs" not in skip and adam_cost is not None:
        needed = {}
        for precision in ("fp32", "bf16"):
            if precision == "bf16" and bf16_reason:
                continue
            r, _ = child(
                "project",
                {
                    **base,
                    "argv": [
                        *common_argv,
                        "--optimizer",
                        "lbfgs",
                        "--precision",
                        precision,
                        "--iterations",
                        str(args.lbfgs_max),
                        "--save-every",
                        str(args.lbfgs_max),
                        "--output-dir",
                        outdir(f"lbfgs-{precision}"),
                    ],
                },
                log,
            )
            raw[f"lbfgs_{precision}"] = r
            if r:
                needed[precision] = first_reaching(r["costs"], adam_cost)
                ms = median_ms(r["iter_times"], args.warmup)
                log(
                    f"lbfgs {precision}: evaluations to reach Adam-{args.iterations} fp32 J "
                    f"{adam_cost:.5g}: {needed[precision] or 'not within ' + str(args.lbfgs_max)}"
                    f"; best J after {args.lbfgs_max}: {r['final_cost']:.5g}; {ms:.1f} ms per "
                    f"evaluation"
                )
        if "fast" not in skip:
            precision = "fp32" if bf16_reason else "bf16"
            k = needed.get(precision) or 25
            argv = [
                *common_argv,
                "--optimizer",
                "lbfgs",
                "--precision",
                precision,
                "--iterations",
                str(k),
                "--output-dir",
                outdir("fast"),
            ]
            r, wall = child("project", {**base, "argv": argv}, log)
            raw["fast"] = r
            if r:
                log(
                    f"fast: nst-tf1 {' '.join(argv[argv.index('--optimizer') : -2])}: "
                    f"process wall {wall:.1f} s (Python and TensorFlow start-up included), "
                    f"in-process {r['wall_s']:.1f} s (load {r['load_s']:.1f} s); final J "
                    f"{r['final_cost']:.5g} vs Adam-{args.iterations} fp32 {adam_cost:.5g} "
                    f"({'at or below' if r['final_cost'] <= adam_cost else 'ABOVE'})"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)
    log(f"\nimages and inputs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
