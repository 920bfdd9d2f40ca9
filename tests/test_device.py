"""What a run runs on: nst_tf1.device."""

from nst_tf1 import device


def test_cpu_info_reads_the_model_and_flags(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 "
        "amx_bf16\n\nprocessor\t: 1\nmodel name\t: Test CPU 9000\n"
    )
    real_open = open
    monkeypatch.setattr(
        "builtins.open",
        lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k),
    )
    info = device.cpu_info()
    assert info["model"] == "Test CPU 9000" and {"avx2", "amx_bf16"} <= info["flags"]


def test_describe_device_and_its_line():
    import tensorflow as tf

    described = device.describe_device()
    assert described["tensorflow"] == tf.__version__
    assert described["gpus"] == [] or all(isinstance(g, str) for g in described["gpus"])
    line = device.device_line(described)
    assert line.startswith("Device: ") and f"TensorFlow {tf.__version__}" in line
    assert "\n" not in line


def test_device_line_wording():
    line = device.device_line(
        {
            "cpu": "Intel Xeon",
            "logical_cpus": 8,
            "bf16": ["avx512_bf16", "amx_bf16"],
            "gpus": ["NVIDIA A100"],
            "tensorflow": "2.21.0",
            "tensorflow_package": "tensorflow",
            "cuda_build": True,
            "onednn": True,
        }
    )
    assert line == (
        "Device: Intel Xeon (8 logical CPUs; avx512_bf16/amx_bf16), GPU NVIDIA "
        "A100; TensorFlow 2.21.0 (tensorflow, CUDA build), oneDNN on"
    )
    line = device.device_line(
        {
            "cpu": None,
            "logical_cpus": 1,
            "bf16": [],
            "gpus": [],
            "tensorflow": "2.21.0",
            "tensorflow_package": "tensorflow-cpu",
            "cuda_build": False,
            "onednn": False,
        }
    )
    assert line == (
        "Device: unknown CPU (1 logical CPU; no avx512_bf16/amx_bf16), no GPU; "
        "TensorFlow 2.21.0 (tensorflow-cpu), oneDNN off"
    )
