#!/usr/bin/env python
"""The README's picture: content + style = result, from one course run on trained weights.

    python benchmarks/readme_figure.py --model STANDIN.mat            # ~5 min on 2 cores
    python benchmarks/readme_figure.py --model STANDIN.mat --work /tmp/fig --skip-run

Content: scikit-image's public-domain photo ``chelsea`` (``pip install scikit-image``),
centre-cropped from 300x451 to the course's 300x400 so the run does not squash it. Style: the
package's own ``nst_tf1/data/demo_style.jpg``. Both may ship with the repository; the course's
louvre/monet images may not.

The run is the course's, unchanged (Adam, learning rate 2.0, 200 iterations, 300x400,
J = 10 J_content + 40 J_style), with a fixed seed::

    nst-tf1 --content WORK/chelsea.png --style nst_tf1/data/demo_style.jpg \\
        --model STANDIN.mat --seed 1 --output-dir WORK/run

on the **trained stand-in** (``../shared/tools/make_proxy_vgg.py``: trained ImageNet VGG-16
convolutions under VGG-19's layer names; not VGG-19, kept outside the repository; random
weights give noise, not a painting). The script checks run.json (finished, seed 1, the model
file's SHA-256) and composes ``docs/readme_figure.png``: content | + | style | = | result, each
captioned, and a footer naming the weights, the command and the seed. To stay under 250 KB
the panels are shown at 352x264 and the PNG is quantised to a 256-colour palette.
"""

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys

from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE = os.path.join(ROOT, "nst_tf1", "data", "demo_style.jpg")
OUT = os.path.join(ROOT, "docs", "readme_figure.png")
HEIGHT, WIDTH = 300, 400
#: Each panel in the figure, a little under the run's size, to keep the PNG under 250 KB.
PANEL_H, PANEL_W = 264, 352
SEED = 1
WEIGHTS = "weights: trained stand-in (VGG-16 convolutions under VGG-19 names), not VGG-19"


def write_content(path):
    """Write scikit-image's chelsea, centre-cropped to the course's 4:3, as a PNG."""
    from skimage import data

    photo = data.chelsea()  # 300 x 451, public domain
    left = (photo.shape[1] - WIDTH) // 2
    Image.fromarray(photo[:HEIGHT, left : left + WIDTH]).save(path)


def command(content, model, run_dir):
    """The course's run, as a user types it (the console script of this interpreter's venv)."""
    nst = os.path.join(os.path.dirname(sys.executable), "nst-tf1")
    return [
        nst,
        "--content",
        content,
        "--style",
        STYLE,
        "--model",
        model,
        "--seed",
        str(SEED),
        "--output-dir",
        run_dir,
    ]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_record(run_dir, model):
    """Refuse to draw from a run that is not the one this script describes."""
    with open(os.path.join(run_dir, "run.json")) as f:
        record = json.load(f)
    settings = record.get("settings", {})
    course = {
        "seed": SEED,
        "height": HEIGHT,
        "width": WIDTH,
        "iterations": 200,
        "optimizer": "adam",
        "fast": False,
        "alpha": 10,
        "beta": 40,
    }
    problems = [f"status {record.get('status')!r}"] if record.get("status") != "finished" else []
    problems += [f"{k} is {settings.get(k)!r}" for k, v in course.items() if settings.get(k) != v]
    if sha256(model) not in json.dumps(record):
        problems.append("the model's SHA-256 is not in run.json")
    if problems:
        sys.exit(f"readme_figure: {run_dir}/run.json: " + "; ".join(problems))
    return record


def font(size, mono=False):
    """DejaVu from matplotlib's own data (a dependency of the package), so "--" reads as two
    hyphens and the figure looks the same everywhere."""
    import matplotlib

    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
    return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name), size)


def compose(content, result, out, footer):
    """content | + | style | = | result, captioned, with a footer; saved as a palette PNG."""
    panels = [
        (Image.open(content).convert("RGB"), "content: chelsea (scikit-image, public domain)"),
        (Image.open(STYLE).convert("RGB"), "style: nst_tf1/data/demo_style.jpg"),
        (Image.open(result).convert("RGB"), "result: the course's run, 200 Adam steps"),
    ]
    side, gap, top, bottom = 40, 8, 8, 74
    cap = font(13)
    sign = font(34)
    small = font(11, mono=True)
    width = 3 * PANEL_W + 2 * side + 2 * gap
    canvas = Image.new("RGB", (width, top + PANEL_H + 22 + bottom), "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for i, (image, caption) in enumerate(panels):
        canvas.paste(image.resize((PANEL_W, PANEL_H), Image.LANCZOS), (x, top))
        draw.text(
            (x + PANEL_W // 2, top + PANEL_H + 4), caption, fill="black", font=cap, anchor="ma"
        )
        x += PANEL_W
        if i < 2:
            draw.text(
                (x + side // 2, top + PANEL_H // 2), "+="[i], fill="black", font=sign, anchor="mm"
            )
            x += side
    y = top + PANEL_H + 26
    for line in footer:
        draw.text((gap, y), line, fill=(60, 60, 60), font=small)
        y += 16
    canvas = canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    canvas.save(out, optimize=True)
    return os.path.getsize(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the trained stand-in .mat")
    parser.add_argument("--work", default="/tmp/nst-readme-figure", help="content and run folder")
    parser.add_argument("--out", default=OUT, help=f"the PNG (default {OUT})")
    parser.add_argument("--skip-run", action="store_true", help="compose from an earlier run")
    args = parser.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    content = os.path.join(args.work, "chelsea.png")
    run_dir = os.path.join(args.work, "run")
    cmd = command(content, args.model, run_dir)
    if not args.skip_run:
        write_content(content)
        print("$", shlex.join(cmd), flush=True)
        subprocess.run(cmd + ["--overwrite"], check=True)
    check_record(run_dir, args.model)
    shown = [
        "nst-tf1",
        "--content",
        "chelsea.png",
        "--style",
        "demo_style.jpg",
        "--model",
        "proxy-vgg.mat",
        "--seed",
        str(SEED),
    ]
    footer = [
        WEIGHTS,
        "command: " + " ".join(shown),
        "(the course's defaults: 300x400, Adam, learning rate 2.0, 200 iterations, "
        "J = 10 J_content + 40 J_style)",
        "made by benchmarks/readme_figure.py",
    ]
    size = compose(content, os.path.join(run_dir, "generated_image.png"), args.out, footer)
    print(f"wrote {args.out} ({size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
