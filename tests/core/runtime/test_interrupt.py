"""Ctrl-C during Lightning training becomes one KeyboardInterrupt, the SIGINT handler restored."""

import os
import signal

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from adsim.core.runtime.interrupt import deferred_interrupt, fit_lightning


class _Interrupted(L.LightningModule):
    def __init__(self, at_step: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.at_step = at_step

    def training_step(self, batch, i):
        if i == self.at_step:
            raise KeyboardInterrupt  # what SIGINT raises mid-step
        return (self.w - batch).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _trainer():
    return L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)


def test_an_interrupt_in_training_is_raised_not_turned_into_exit_1():
    with pytest.raises(KeyboardInterrupt):
        fit_lightning(_trainer(), _Interrupted(at_step=2), DataLoader(torch.ones(8, 1), batch_size=2))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Lightning had set it to ignore


def test_a_finished_fit_releases_the_trainer():
    module = _Interrupted(at_step=-1)
    fit_lightning(_trainer(), module, DataLoader(torch.ones(8, 1), batch_size=2))
    assert module._trainer is None


def test_an_interrupt_held_back_is_raised_when_the_block_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            reached.append(True)
    assert reached == [True] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
