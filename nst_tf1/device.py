"""What a run runs on: the CPU and its bfloat16 instructions, the GPUs TensorFlow sees, and
the TensorFlow build (version, package, CUDA, oneDNN).

:func:`describe_device` is called by a run once TensorFlow is imported; run.json records the
dict (``device``) and the run's first printed line is :func:`device_line` of it::

    Device: AMD EPYC (2 logical CPUs; no avx512_bf16/amx_bf16), no GPU; TensorFlow 2.21.0
    (tensorflow, CUDA build), oneDNN off

Nothing here runs at import; the CPU is read from ``/proc/cpuinfo`` (Linux), elsewhere from
:mod:`platform`.
"""

from __future__ import annotations

import os
import platform
from typing import Any

__all__ = [
    "BF16_CPU_FLAGS",
    "BLAS_THREAD_VARIABLES",
    "PRECISIONS",
    "TENSORFLOW_DISTRIBUTIONS",
    "cpu_info",
    "onednn_enabled",
    "tensorflow_distribution",
    "describe_device",
    "device_line",
]

#: ``/proc/cpuinfo`` flags of the instructions oneDNN runs bfloat16 convolutions with.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

#: The environment variables OpenBLAS reads its thread count from, in its order (the user's,
#: recorded by :func:`describe_device`: NumPy's OpenBLAS reads them).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")

#: Arithmetic precisions of a run's session; the first is the course's; "auto" is bf16 where
#: the CPU and TensorFlow can run it (:func:`nst_tf1.graph.bf16_unsupported_reason`), else fp32.
PRECISIONS = ("fp32", "bf16", "auto")

#: The distribution names TensorFlow is published under, the default one first.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel")


def cpu_info() -> dict[str, Any]:
    """The CPU: its model name, logical CPU count and flags.

    Returns:
        dict: ``model`` (str, or None when unknown), ``logical_cpus`` (int or None),
        ``flags`` (set of ``/proc/cpuinfo`` flags, or None where that file cannot be read).
    """
    model, flags = None, None
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = None
    if text is not None:
        flags = set()
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model is None:
                model = value.strip()
            elif key in ("flags", "Features"):  # x86, arm
                flags.update(value.split())
    if not model:
        model = platform.processor() or platform.machine() or None
    return {"model": model, "logical_cpus": os.cpu_count(), "flags": flags}


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its CPU kernels with oneDNN (``TF_ENABLE_ONEDNN_OPTS``, the
    build and the CPU decide); imports TensorFlow."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


def tensorflow_distribution() -> str | None:
    """The installed distribution that provides TensorFlow (``tensorflow``,
    ``tensorflow-cpu``, ...), or None; read from the metadata, without importing it."""
    from importlib import metadata

    for name in TENSORFLOW_DISTRIBUTIONS:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return name
    return None


def describe_device() -> dict[str, Any]:
    """What this process computes on, for run.json and the run's first line; imports
    TensorFlow (a run calls it after its own quiet import).

    Returns:
        dict: ``cpu`` (model name), ``logical_cpus``, ``bf16`` (which of
        :data:`BF16_CPU_FLAGS` the CPU has; None where its flags cannot be read), ``gpus``
        (the names of the GPUs TensorFlow sees), ``tensorflow`` (version),
        ``tensorflow_package`` (the distribution installed), ``cuda_build`` (whether that
        TensorFlow was built with CUDA), ``onednn`` (whether oneDNN is on) and
        ``glibc_tunables`` (``$GLIBC_TUNABLES``, which sets malloc's behaviour and so the
        peak memory: see :mod:`nst_tf1.allocator`; None when unset) and ``blas_threads``
        (those of :data:`BLAS_THREAD_VARIABLES` that are set, name -> value: the thread
        count of NumPy's BLAS, which no loop of a run calls; None when none is).
    """
    import tensorflow as tf

    cpu = cpu_info()
    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception:  # details are a nicety: the device's own name will do
            details = {}
        gpus.append(details.get("device_name") or gpu.name)
    try:
        cuda_build = bool(tf.sysconfig.get_build_info().get("is_cuda_build"))
    except Exception:
        cuda_build = None
    flags = cpu["flags"]
    return {
        "cpu": cpu["model"],
        "logical_cpus": cpu["logical_cpus"],
        "bf16": None if flags is None else [flag for flag in BF16_CPU_FLAGS if flag in flags],
        "gpus": gpus,
        "tensorflow": tf.__version__,
        "tensorflow_package": tensorflow_distribution(),
        "cuda_build": cuda_build,
        "onednn": onednn_enabled(),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "blas_threads": {n: os.environ[n] for n in BLAS_THREAD_VARIABLES if n in os.environ}
        or None,
    }


def device_line(device: dict[str, Any]) -> str:
    """One line naming the device of :func:`describe_device`, e.g. ``Device: AMD EPYC (2
    logical CPUs; avx512_bf16), no GPU; TensorFlow 2.21.0 (tensorflow-cpu), oneDNN on``."""
    cpus = device.get("logical_cpus")
    about = [f"{cpus} logical CPU{'s' if cpus != 1 else ''}"] if cpus else []
    bf16 = device.get("bf16")
    if bf16 is not None:
        about.append("/".join(bf16) if bf16 else f"no {'/'.join(BF16_CPU_FLAGS)}")
    cpu = device.get("cpu") or "unknown CPU"
    if about:
        cpu += f" ({'; '.join(about)})"
    gpus = device.get("gpus") or []
    gpu = f"GPU {', '.join(gpus)}" if gpus else "no GPU"
    build = [device.get("tensorflow_package") or "package unknown"]
    if device.get("cuda_build"):
        build.append("CUDA build")
    onednn = "on" if device.get("onednn") else "off"
    return (
        f"Device: {cpu}, {gpu}; TensorFlow {device.get('tensorflow')} "
        f"({', '.join(build)}), oneDNN {onednn}"
    )
