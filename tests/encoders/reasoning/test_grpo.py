"""GRPO on the reasoning head (encoders.reasoning.train): group statistics, a fixed batch whose mean
reward rises with the KL held, and the compute-matched controls of the third stage."""

import copy

import pytest
import torch

from adsim.core.config import load_config
from encoders.nets.data import InputBuilder, pack
from encoders.nets.tokenizer import load_tokenizer
from encoders.reasoning.train import (group_advantages, group_rewards, grpo_terms, reasoned_pass, reference_log_probs,
                                      slot_kl)
from encoders.training.stage_data import StageData
from encoders.training.train import train_encoder
from tests.support import SMOKE


def test_group_statistics():
    r = torch.tensor([1.0, 2.0, 3.0, 5.0, 5.0, 5.0])
    a = group_advantages(r, 3)
    assert torch.allclose(a[:3], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-4) and (a[3:] == 0).all()
    logp = torch.log_softmax(torch.randn(4, 2, 5), -1)
    assert torch.allclose(slot_kl(logp, logp), torch.zeros(4))
    assert (slot_kl(logp, torch.log_softmax(torch.randn(4, 2, 5), -1)) > 0).all()
    q = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    pos = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    own = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    got = group_rewards(q, pos, None, own, torch.arange(3), torch.tensor(10.0))
    logits = 10 * q @ pos.T
    logits[torch.arange(3), torch.arange(3)] = 10 * (q * own).sum(-1)
    assert torch.allclose(got, torch.log_softmax(logits, 1).diagonal(), atol=1e-5)


def _grpo_batch(smoke_world, out, cfg):
    view = smoke_world.view
    builder = InputBuilder(view, load_tokenizer(out / "tokenizer"), cfg.max_title_tokens, cfg.max_query_tokens)
    data = StageData(view, builder, cfg, "grpo")
    batch = data.batch(0)
    names = ["query", "positive", "negatives"]
    packed = pack([batch[n] for n in names], view.image_size)
    return packed, data.row_targets(batch, names), len(batch["query"]), int(batch["n_negatives"])


def test_grpo_raises_the_mean_reward_on_a_fixed_batch_with_the_kl_bounded(smoke_world, tmp_path):
    cfg = load_config(SMOKE, ["encoder_train.batch_size=32", "encoder_train.reasoning=imitation"]).encoder_train
    start = train_encoder(smoke_world.view, cfg, tmp_path, progress=False, stages=())  # a policy that still varies
    packed, targets, b, n_neg = _grpo_batch(smoke_world, tmp_path, cfg)
    model = copy.deepcopy(start).train()
    reference = copy.deepcopy(start).train().requires_grad_(False)
    # The policy's own layers: the embedding read after a given sequence stays as it is, so the reward
    # can only rise by the policy choosing better sequences (in training the contrastive loss moves the rest).
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if n.startswith(("reasoning.out", "reasoning.norms"))], lr=1e-2)
    group, rows = 16, torch.arange(b, 2 * b)
    scale = model.log_scale.exp().detach()

    def terms(seed):
        r = reasoned_pass(model, packed, targets, rows, group, seed, force=False)
        neg = r.embeddings[2 * b:].reshape(b, n_neg, -1)
        return grpo_terms(model, r, reference_log_probs(reference, packed, r), r.embeddings[:b], r.embeddings[b:2 * b],
                          neg, scale, group, kl_weight=0.1)

    def mean_reward():  # over the same four noise draws before and after: only the policy moves
        with torch.no_grad():
            return sum(terms(seed).reward.item() for seed in range(4)) / 4

    before, kls = mean_reward(), [terms(0).kl.item()]
    for step in range(20):
        g = terms(100 + step)
        opt.zero_grad()
        g.loss.backward()
        opt.step()
        kls.append(g.kl.item())
    after = mean_reward()
    # Measured: -5.136 -> -5.035, the KL at most 3.0 (nats over the five slots).
    assert after > before + 0.05
    assert kls[0] < 1e-5 and max(kls) < 4.0
    # The compute-matched control: the same samples and KL term, advantages zeroed. At the reference
    # policy the KL's gradient vanishes, so the control's step does not move the policy; GRPO's does.
    model.load_state_dict(start.state_dict())
    head = [p for n, p in model.named_parameters() if n.startswith(("reasoning.out", "reasoning.norms"))]
    norms = {}
    for advantages_from in ("group", "zero"):
        r = reasoned_pass(model, packed, targets, rows, group, 7, force=False)
        g = grpo_terms(model, r, reference_log_probs(reference, packed, r), r.embeddings[:b], r.embeddings[b:2 * b],
                       r.embeddings[2 * b:].reshape(b, n_neg, -1), scale, group, kl_weight=0.1, advantages_from=advantages_from)
        grads = torch.autograd.grad(g.loss, head, allow_unused=True)
        norms[advantages_from] = sum(float(x.norm()) for x in grads if x is not None)
    assert g.loss.item() == pytest.approx(0.1 * g.kl.item(), abs=1e-7)
    assert norms["zero"] < 1e-6 < 1e-3 < norms["group"], norms


@pytest.mark.slow  # two short trainings (about 40 s); the zero-advantage term itself is tested above in the suite
@pytest.mark.parametrize("control, logged, absent", [("zero-advantage", "reward", "imitation_loss"),
                                                     ("imitation", "imitation_loss", "reward")])
def test_grpos_controls_train_the_same_third_stage(smoke_world, tmp_path, control, logged, absent):
    import polars as pl
    cfg = load_config(SMOKE, ["encoder_train.pretrain_steps=2", "encoder_train.posttrain_steps=2", "encoder_train.grpo_steps=3",
                              "encoder_train.batch_size=16", "encoder_train.reasoning=grpo",
                              f"encoder_train.grpo_control=\"{control}\""])
    train_encoder(smoke_world.view, cfg.encoder_train, tmp_path, progress=False)
    metrics = pl.read_csv(tmp_path / "logs" / "grpo" / "version_0" / "metrics.csv")
    assert metrics[logged].drop_nulls().len() == 3 and (absent not in metrics.columns or metrics[absent].null_count() == metrics.height)
