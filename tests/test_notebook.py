"""The course notebook: committed without outputs, every cell runs headless (nbclient) with no
stderr output, its loop gives the package's costs, and its HTML rendering needs no network.

nbclient, nbformat, ipykernel (the kernel running in this environment), nbconvert and
latex2mathml are in the test extra: if one is missing this fails, it does not skip.

Set NST_NOTEBOOK_HTML to a path to keep the executed notebook's HTML there.
"""

import copy
import importlib.util
import os
import re
import sys

import nbformat
import numpy as np
import pytest
from conftest import HEIGHT, ROOT, WIDTH
from nbclient import NotebookClient

NOTEBOOK = os.path.join(ROOT, "notebooks", "art_generation_with_nst.ipynb")
ITERATIONS, SAVE_EVERY = 4, 2


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None
    assert nb.metadata.kernelspec.name == "python3"


@pytest.fixture(scope="module")
def executed(vgg_file, image_pair, tmp_path_factory):
    """(notebook, output folder): the notebook executed headless on the synthetic model."""
    out = tmp_path_factory.mktemp("notebook") / "out"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "NST_VGG_MODEL": vgg_file,
            "NST_CONTENT": image_pair[0],
            "NST_STYLE": image_pair[1],
            "NST_HEIGHT": HEIGHT,
            "NST_WIDTH": WIDTH,
            "NST_ITERATIONS": ITERATIONS,
            "NST_SAVE_EVERY": SAVE_EVERY,
            "NST_OUTPUT_DIR": out,
            "MPLBACKEND": "Agg",
            # Kernel specs of this environment before any in the user's home directory.
            "JUPYTER_PREFER_ENV_PATH": "1",
        }.items():
            mp.setenv(name, str(value))
        # As a learner runs it: the notebook itself must keep TensorFlow's logs out.
        mp.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
        # ipykernel shows what C++ code writes to the process's stderr as the cell's stderr,
        # except under pytest (it looks for this variable): the kernel must do as for a user.
        mp.delenv("PYTEST_CURRENT_TEST", raising=False)
        # The kernel imports this checkout's package, installed or not.
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
        nb = nbformat.read(NOTEBOOK, as_version=4)
        # First, prove the kernel is this interpreter (the venv holding the dependencies).
        nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=300,
            resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}},
        )
        client.execute()  # raises CellExecutionError if any cell raises
    kernel_python = nb.cells.pop(0).outputs[0]["text"].strip()
    assert os.path.realpath(kernel_python) == os.path.realpath(sys.executable)
    return nb, out


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _text(nb):
    return "".join(o.get("text", "") for o in _outputs(nb))


def test_notebook_runs_headless(executed):
    nb, out = executed
    text = _text(nb)
    assert "'conv4_2': <tf.Tensor 'vgg19/conv4_2/Relu:0'" in text
    assert "Iteration 2 :" in text and "style cost = " in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    # C and S; C and G; the gradient and one step; the panel; the strip; the cost curve; the
    # activation maps.
    assert len(images) == 7
    for name in ("0.png", "2.png", "generated_image.jpg"):
        assert (out / name).is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "logs").iterdir())


def test_notebook_cells_are_quiet(executed):
    """No cell shows TensorFlow's start-up logs, the CUDA probe or a warning: no stderr."""
    nb, _ = executed
    stderr = [o.text for o in _outputs(nb) if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []
    text = _text(nb)
    for noise in ("cuInit", "WARNING", "oneDNN", "c_api.cc", "deprecated"):
        assert noise not in text


def _course_lines(text):
    """{iteration: (J, J_content, J_style)} from the course's printed lines."""
    number = r"(\S+)\n"
    pattern = (
        rf"Iteration (\d+) :\ntotal cost = {number}content cost = {number}style cost = {number}"
    )
    return {int(i): tuple(map(float, costs)) for i, *costs in re.findall(pattern, text)}


def test_notebook_loop_gives_the_package_costs(executed, vgg_file, image_pair):
    """The loop written out in the notebook is the package's model_nn: same seed, same costs."""
    from nst_tf1 import load_image
    from nst_tf1.transfer import style_transfer

    nb, _ = executed
    text = _text(nb)
    printed = _course_lines(text)
    assert sorted(printed) == list(range(0, ITERATIONS, SAVE_EVERY))
    final = float(re.search(r"final total cost = (\S+)\n", text).group(1))

    content, style = (load_image(p, HEIGHT, WIDTH) for p in image_pair)
    steps = list(
        style_transfer(
            content, style, vgg_file, num_iterations=ITERATIONS, save_every=SAVE_EVERY, seed=0
        )
    )
    for i, costs in printed.items():
        step = steps[i]
        expected = (step.total_cost, step.content_cost, step.style_cost)
        np.testing.assert_allclose(costs, expected, rtol=1e-6)
    assert steps[-1].iteration == ITERATIONS
    np.testing.assert_allclose(final, steps[-1].total_cost, rtol=1e-6)


def test_notebook_one_step_cell(executed):
    """Adam's first step moves every pixel by about the learning rate."""
    from nst_tf1 import CONFIG

    nb, _ = executed
    text = _text(nb)
    largest = float(re.search(r"largest pixel change: (\S+)", text).group(1))
    assert largest == pytest.approx(CONFIG.LEARNING_RATE, rel=1e-3)
    assert float(re.search(r"largest \|dJ/dG\|: (\S+)", text).group(1)) > 0


# An HTML page that needs no network: nbconvert's lab template without the scripts it loads
# from a CDN (MathJax, require.js, mermaid), and the markdown's LaTeX turned into MathML,
# which browsers draw themselves.
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)


def _latex_to_mathml(markdown):
    """``markdown`` with every $...$ and $$...$$ outside code spans as MathML."""
    from latex2mathml.converter import convert

    def mathml(match):
        display = match.group(1) is not None
        latex = match.group(1) if display else match.group(2)
        return convert(latex, display="block" if display else "inline")

    parts = re.split(r"(`[^`]*`)", markdown)  # code spans keep their dollar signs
    parts[::2] = [_MATH.sub(mathml, part) for part in parts[::2]]
    return "".join(parts)


def _equations(markdown):
    return sum(len(_MATH.findall(part)) for part in re.split(r"`[^`]*`", markdown))


# How nbconvert's HTML shows a cell's stderr (a pink block).
_STDERR_BLOCK = 'data-mime-type="application/vnd.jupyter.stderr"'


def render_html(nb):
    """The notebook as one HTML page that loads nothing from the network."""
    import jinja2
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _latex_to_mathml(cell.source)
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
    )
    return exporter.from_notebook_node(nb)[0]


def test_notebook_html_needs_no_network_and_shows_no_stderr(executed):
    nb, _ = executed
    html = render_html(nb)
    if os.environ.get("NST_NOTEBOOK_HTML"):
        with open(os.environ["NST_NOTEBOOK_HTML"], "w", encoding="utf-8") as f:
            f.write(html)
    # Nothing fetched: no script, style sheet, image or frame from anywhere but the page.
    fetched = re.findall(
        r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=\"([^\"]*)\"", html
    )
    assert [url for url in fetched if not url.startswith("data:")] == []
    assert "mathjax" not in html.lower()
    # Every equation is MathML (the only dollar signs left are in code).
    assert html.count("<math") >= 15
    assert html.count("<math") == sum(
        _equations(c.source) for c in nb.cells if c.cell_type == "markdown"
    )
    # No stderr block, and the costs and figures are there.
    assert _STDERR_BLOCK not in html
    assert "Iteration 2 :" in html
    assert html.count('src="data:image/png;base64,') == 7


_FIND_SPEC = importlib.util.find_spec


def _setup_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert "fetch-model" in cell.source  # the first code cell is the hosted-service setup
    return cell.source


def _run_setup_cell(monkeypatch, cwd, installed, hosted):
    """Execute the notebook's first code cell; return the commands it would have run."""
    import subprocess
    import types

    commands = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: commands.append(args[1:]))
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: _FIND_SPEC(name, *a) if installed or name != "nst_tf1" else None,
    )
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.delenv("NST_VGG_MODEL", raising=False)
    if hosted:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(cwd)
    namespace = {}
    exec(compile(_setup_cell(), "setup-cell", "exec"), namespace)
    return commands, namespace


def test_notebook_setup_cell_installs_and_fetches_in_a_hosted_service(tmp_path, monkeypatch):
    import configparser

    commands, namespace = _run_setup_cell(monkeypatch, tmp_path, installed=False, hosted=True)
    assert commands == [
        ["-m", "pip", "install", "--quiet", namespace["PACKAGE"]],
        ["-m", "nst_tf1", "fetch-model"],
    ]
    assert namespace["IN_CHECKOUT"] is False
    # It installs from the project's repository, the URL of the package's metadata.
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    assert namespace["PACKAGE"] == "git+" + config["metadata"]["url"]
    # Run again (the package is installed now): only the model is checked again.
    commands, _ = _run_setup_cell(monkeypatch, tmp_path, installed=True, hosted=True)
    assert commands == [["-m", "nst_tf1", "fetch-model"]]


def test_notebook_setup_cell_does_nothing_in_the_checkout(monkeypatch):
    commands, namespace = _run_setup_cell(
        monkeypatch, os.path.dirname(NOTEBOOK), installed=False, hosted=False
    )
    assert commands == [] and namespace["IN_CHECKOUT"] is True


def test_the_html_check_sees_a_stderr_block_and_converts_math():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("$$J = \\alpha J_C$$ and `$HOME`, $n_H$"),
        nbformat.v4.new_code_cell("import tensorflow"),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stderr", text="W0000 noise\n")]
    html = render_html(nb)
    assert _STDERR_BLOCK in html and "W0000 noise" in html
    assert html.count('<math display="block"') == 1 and html.count('<math display="inline"') == 1
    assert "$HOME" in html and _equations(nb.cells[0].source) == 2
