"""Shared Lightning plumbing for the stages' models: a quiet trainer and batched data."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import lightning as L
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler

from adsim.core.runtime.device import lightning_accelerator
from adsim.core.runtime.interrupt import fit_lightning
from adsim.core.runtime.quiet import quiet_libraries


class IndexBatches(Dataset):
    """A dataset whose items are whole batches: `make_batch(indices)` builds one vectorised."""

    def __init__(self, n: int, make_batch: Callable[[torch.Tensor], Any]):
        self.n = n
        self.make_batch = make_batch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, indices: list[int]) -> Any:
        return self.make_batch(torch.as_tensor(indices))


def batch_loader(n: int, batch_size: int, make_batch: Callable[[torch.Tensor], Any], shuffle: bool,
                 seed: int) -> DataLoader:
    """Batches of row indices, shuffled by a seeded generator, built in the main process."""
    gen = torch.Generator().manual_seed(seed)
    base = RandomSampler(range(n), generator=gen) if shuffle else SequentialSampler(range(n))
    return DataLoader(IndexBatches(n, make_batch), sampler=BatchSampler(base, batch_size, drop_last=False),
                      batch_size=None, num_workers=0)


def fit(module: L.LightningModule, loader: DataLoader, epochs: int) -> None:
    """Train `module` on `loader` for `epochs` epochs with a quiet single-device Lightning trainer."""
    with quiet_libraries():
        fit_lightning(L.Trainer(max_epochs=epochs, accelerator=lightning_accelerator(), devices=1, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                num_sanity_val_steps=0, deterministic=False), module, loader)


class _Stream(IterableDataset):
    def __init__(self, make_iter: Callable[[], Iterator[Any]]):
        self.make_iter = make_iter

    def __iter__(self) -> Iterator[Any]:
        return self.make_iter()


def stream_loader(make_iter: Callable[[], Iterator[Any]]) -> DataLoader:
    """Whole batches from a generator (read from disk part by part), one pass per epoch."""
    return DataLoader(_Stream(make_iter), batch_size=None, num_workers=0)
