"""The course notebook: committed without outputs, and every cell runs headless (nbclient).

nbclient, nbformat and ipykernel are in the test extra: if one is missing this fails, it does
not skip.
"""

import importlib.util
import os
import sys

import nbformat
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


def test_notebook_runs_headless(vgg_file, image_pair, tmp_path, monkeypatch):
    out = tmp_path / "out"
    for name, value in {
        "NST_VGG_MODEL": vgg_file,
        "NST_CONTENT": image_pair[0],
        "NST_STYLE": image_pair[1],
        "NST_HEIGHT": HEIGHT,
        "NST_WIDTH": WIDTH,
        "NST_ITERATIONS": ITERATIONS,
        "NST_SAVE_EVERY": SAVE_EVERY,
        "NST_OUTPUT_DIR": out,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
        # Kernel specs of this environment before any in the user's home directory.
        "JUPYTER_PREFER_ENV_PATH": "1",
    }.items():
        monkeypatch.setenv(name, str(value))
    # The kernel imports this checkout's package, installed or not.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    )

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # First, prove the kernel is this interpreter (the venv holding the package's dependencies).
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}},
    )
    client.execute()  # raises CellExecutionError if any cell raises

    kernel_python = nb.cells[0].outputs[0]["text"].strip()
    assert os.path.realpath(kernel_python) == os.path.realpath(sys.executable)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "'conv4_2': <tf.Tensor 'vgg19/conv4_2/Relu:0'" in text
    assert "Iteration 2 :" in text and "style cost = " in text
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    # C and S; C and G; the panel; the strip; the cost curve; the activation maps.
    assert len(images) == 6
    for name in ("0.png", "2.png", "generated_image.jpg"):
        assert (out / name).is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "logs").iterdir())


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
