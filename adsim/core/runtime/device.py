"""The one place where CPU/GPU is chosen, for torch and for FAISS.

`ADSIM_DEVICE=cpu` forces the CPU even where a GPU is present (for comparisons and tests).
"""

from __future__ import annotations

import functools
import os

import torch


@functools.cache
def torch_device() -> torch.device:
    if os.environ.get("ADSIM_DEVICE", "").lower() != "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@functools.cache
def faiss_gpus() -> int:
    """Number of GPUs FAISS can use: 0 without a GPU build of FAISS or a GPU."""
    if torch_device().type != "cuda":
        return 0
    import faiss
    return faiss.get_num_gpus() if hasattr(faiss, "StandardGpuResources") else 0


def dist_backend() -> str:
    """torch.distributed's backend for the ranks' collectives: NCCL between GPUs, else gloo."""
    return "nccl" if torch_device().type == "cuda" else "gloo"


def lightning_accelerator() -> str:
    return "gpu" if torch_device().type == "cuda" else "cpu"


def describe() -> str:
    return f"torch={torch_device().type} faiss={'gpu' if faiss_gpus() else 'cpu'} threads={torch.get_num_threads()}"
