"""ONNX Runtime sessions for the worker: one per model file per process, sized to the cores.

Sessions are created explicitly by :meth:`ModelRunner.create` (from ``Engine.load`` at worker start-up),
never at import. ``InferenceSession.run`` is thread-safe and releases the GIL, so one session serves all
of a worker's concurrent jobs; nothing is cached per image.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from engine.pipelines import GraphBuild, ModelSpec
from engine.quantized_graph import int8_graph
from engine.resizable_graph import free_input_size, half_pixel_resizes

log = logging.getLogger(__name__)

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def session_options(threads: int, *, mem_arena: bool = True) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # static input shapes: the arena holds one run's activations per concurrent run, a fixed size, and
    # spares every run the page faults of fresh memory (Settings.ort_mem_arena)
    so.enable_cpu_mem_arena = mem_arena
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle workers must not burn CPU
    return so


def configure_process() -> None:
    """Process-wide knobs for a worker: OpenCV must not compete with ORT's threads."""
    cv2.setNumThreads(1)


def optimized_model_path(model_path: Path, sha256: str, graph: GraphBuild = "as_exported") -> Path:
    """Where the graph onnxruntime optimised is kept, beside the weights. Level-ALL optimisation picks
    layouts and kernels for this CPU, so the name carries the weights' hash, the onnxruntime version and
    the CPU's identity: another machine sharing the cache, or an upgrade, optimises afresh. Loading it
    skips the optimisation: session creation took ~3× less CPU (u2netp 0.06 vs 0.2 s, u2net 0.25 vs
    0.75 s, measured)."""
    variant = "" if graph == "as_exported" else f".{graph}"
    return model_path.with_name(
        f"{model_path.stem}{variant}.ort-{ort.__version__}-{sha256[:12]}-{_cpu_key()}.optimized.onnx"
    )


def _built_graph(spec: ModelSpec, path: Path) -> str | bytes:
    """What onnxruntime loads when no optimised graph is kept: the weights' file, or the graph built from them."""
    if spec.int8:
        return int8_graph(path, resizable=spec.resizable)
    if spec.resizable:
        return free_input_size(path.read_bytes())
    if spec.graph == "half_pixel":
        return half_pixel_resizes(path.read_bytes())
    return str(path)


def _cpu_key() -> str:
    identity = platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            lines = [line for line in fh if line.startswith(("model name", "flags"))]
        identity += "".join(sorted(set(lines)))
    except OSError:  # not Linux
        identity += platform.processor()
    return hashlib.sha256(identity.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ModelRunner:
    spec: ModelSpec
    session: ort.InferenceSession
    path: Path

    @classmethod
    def create(cls, spec: ModelSpec, model_dir: Path, threads: int, *, mem_arena: bool = True) -> ModelRunner:
        path = model_dir / spec.file
        so = session_options(threads, mem_arena=mem_arena)
        cached = optimized_model_path(path, spec.asset.sha256, spec.graph)
        if cached.exists():
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # already done, once
            try:
                session = ort.InferenceSession(str(cached), sess_options=so, providers=["CPUExecutionProvider"])
                return cls(spec=spec, session=session, path=path)
            except Exception as exc:  # a damaged cache file costs a re-optimisation, never a worker
                log.warning("optimised model %s unusable (%r); optimising %s again", cached, exc, path.name)
                cached.unlink(missing_ok=True)
                so = session_options(threads, mem_arena=mem_arena)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        if os.access(model_dir, os.W_OK):
            so.optimized_model_filepath = str(partial)
        graph = _built_graph(spec, path)
        try:
            session = ort.InferenceSession(graph, sess_options=so, providers=["CPUExecutionProvider"])
        except Exception:
            if not so.optimized_model_filepath:
                raise
            # writing the cache failed (disk full, …): serve without it
            partial.unlink(missing_ok=True)
            so = session_options(threads, mem_arena=mem_arena)
            session = ort.InferenceSession(graph, sess_options=so, providers=["CPUExecutionProvider"])
        try:
            if partial.exists():
                os.replace(partial, cached)  # atomic: a worker starting at the same time sees all of it or none
        except OSError as exc:
            log.warning("could not keep the optimised model %s: %r", cached, exc)
        return cls(spec=spec, session=session, path=path)

    def preprocess(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        """H×W×3 uint8 → 1×3×S×S float32 as the model was trained (aspect not kept)."""
        size = self.spec.input_size
        h, w = rgb.shape[:2]
        interp = cv2.INTER_AREA if h > size or w > size else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (size, size), interpolation=interp).astype(np.float32)
        if self.spec.normalisation == "imagenet_max":
            small /= max(float(small.max()), 1e-6)
            small = (small - _IMAGENET_MEAN) / _IMAGENET_STD
        else:
            small = (small - 128.0) / 256.0
        return np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32)

    def run(self, tensor: NDArray[np.float32]) -> NDArray[np.float32]:
        """Bare ``session.run`` (the benchmark times exactly this): the raw first map, S×S."""
        out = self.session.run([self.spec.output_name], {self.spec.input_name: tensor})[0]
        result: NDArray[np.float32] = np.asarray(out, dtype=np.float32)[0, 0]
        return result

    def postprocess(self, raw: NDArray[np.float32]) -> tuple[NDArray[np.float32], float]:
        """The 0..1 mask and the raw peak (before any rescaling), used to tell "no subject"."""
        peak = float(raw.max())
        if self.spec.output_scaling == "minmax":
            lo = float(raw.min())
            mask = (raw - lo) / max(peak - lo, 1e-6)
        else:
            mask = np.clip(raw, 0.0, 1.0)
        return np.asarray(mask, dtype=np.float32), peak

    def predict(self, rgb: NDArray[np.uint8]) -> tuple[NDArray[np.float32], float]:
        return self.postprocess(self.run(self.preprocess(rgb)))

    def time_run(self, repeat: int = 1) -> list[float]:
        """Seconds per bare ``session.run`` on a fixed input: the benchmark's reference."""
        size = self.spec.input_size
        tensor = np.random.default_rng(0).standard_normal((1, 3, size, size), dtype=np.float32) * 0.5
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            self.run(tensor)
            times.append(time.perf_counter() - start)
        return times
