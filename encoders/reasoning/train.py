"""Training the reasoning head (MOON3.0): supervised imitation, then GRPO jointly with the
contrastive loss.

- imitation (pretrain and posttrain stages): every row that shows a listed product's image (the
  item, its image alone, a photo of it, post-training's positives and negatives) is teacher-forced on
  the attributes its listing states, and the cross-entropy on those slots is added to the
  contrastive loss; slots the listing is silent on are generated greedily and carry no target.
- GRPO (stage `grpo`): for each post-training query's clicked product, a group of G reasoning
  sequences is sampled (Gumbel-max, vectorised over the group); the reward of a sequence is the
  log-probability that the query retrieves the product's embedding read after it, among the
  batch's other products and the query's negatives (the in-batch retrieval the contrastive loss
  trains). With `grpo_queries`, each query whose embedding reads its reasoning (a photo with
  text, or any photo when the residual runs through the decoder) samples a group of its own, each
  rewarded by the query, read after it, retrieving its product among the same candidates. Advantages are the rewards standardised within the group (group-relative: no value
  model); the policy-gradient term is penalised by the exact per-slot KL divergence from the
  imitation policy (the model as the stage began), and added to the contrastive loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from encoders.nets.data import EncoderInputs
from encoders.reasoning.head import gumbel_noise

STD_FLOOR = 1e-6  # a group whose rewards are all equal has zero advantage


@dataclass(frozen=True)
class ReasonedPass:
    """One forward pass with reasoning over packed rows and, for GRPO, sampled copies of some rows."""

    embeddings: torch.Tensor          # (n, D) the packed rows, greedy or teacher-forced reasoning
    sampled: torch.Tensor | None      # (n_sampled, D) embeddings read after sampled reasoning
    owner: torch.Tensor | None        # (n_sampled,) the packed row each sample copies
    tokens: torch.Tensor              # (n + n_sampled, S)
    log_probs: torch.Tensor           # (n + n_sampled, S, V)
    reasons: torch.Tensor             # (n,) the packed rows that reason (those with an image)
    rows: torch.Tensor | None         # (n + n_sampled,) the packed row behind every row of the pass
    product: torch.Tensor | None = None  # (n_sampled,) each sample's position in `sample_rows`


def reasoned_pass(model, packed: EncoderInputs, targets: torch.Tensor, sample_rows: torch.Tensor | None = None,
                  group: int = 0, seed: int = 0, force: bool = True) -> ReasonedPass:
    """Embed `packed` with reasoning (teacher-forced on `targets` (n, S) where >= 0 and `force`), plus
    `group` sampled sequences for each of `sample_rows`; one vision pass and one batch norm for all."""
    p = model.prefix(**packed.kwargs())
    n = len(targets)
    forced = targets if force else torch.full_like(targets, -1)
    noise = None
    owner, rows, product = None, None, None
    if sample_rows is not None and group > 0:
        owner = sample_rows.repeat_interleave(group)
        product = torch.arange(len(sample_rows), device=owner.device).repeat_interleave(group)
        rows = torch.cat([torch.arange(n, device=owner.device), owner])
        p = p.take(rows)
        forced = torch.cat([forced, torch.full((len(owner), targets.shape[1]), -1, device=targets.device)])
        total = int(sum(model.reasoning.sizes))
        noise = torch.zeros(len(rows), targets.shape[1], total, device=p.x.device)
        noise[n:] = gumbel_noise((len(owner), targets.shape[1], total), seed, p.x.device)
    tokens = model.generate(p, forced, noise)
    emb, logp = model.encode(p, tokens)
    return ReasonedPass(emb[:n], emb[n:] if owner is not None else None, owner, tokens, logp, p.keep[:n], rows, product)


def imitation(model, r: ReasonedPass, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over the stated slots of the packed rows that reason, and the greedy
    accuracy there (the argmax of each slot's distribution given the stated prefix)."""
    n = len(targets)
    stated = (targets >= 0) & r.reasons[:, None]
    if not stated.any():
        zero = torch.zeros((), device=targets.device)
        return zero, zero
    logp = r.log_probs[:n]
    nll = -model.reasoning.token_log_probs(logp, targets.clamp(min=0))
    best = torch.stack([model.reasoning.choose(logp[:, j], j) for j in range(targets.shape[1])], 1)
    return nll[stated].mean(), (best == targets)[stated].float().mean()


def group_rewards(q: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None,
                  own: torch.Tensor, owner: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(R,) log-probability that each query vector q (R, D) retrieves `own` (R, D), the embedding of
    product `owner`, among the other products (rows of `positives`) and query `owner`'s negatives.
    A product's samples: q the product's query, `own` its sampled embedding; a query's samples: q its
    sampled embedding, `own` its product's. Inputs L2-normalised."""
    logits = scale * q @ positives.T                                   # (R, B)
    mine = scale * (q * own).sum(-1)
    logits = logits.index_put((torch.arange(len(owner), device=owner.device), owner), mine)
    if negatives is not None:
        logits = torch.cat([logits, scale * torch.einsum("rd,rnd->rn", q, negatives[owner])], 1)
    return mine - torch.logsumexp(logits, 1)


def group_advantages(rewards: torch.Tensor, group: int) -> torch.Tensor:
    """Rewards standardised within each consecutive group of `group` samples of one product."""
    r = rewards.reshape(-1, group)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + STD_FLOOR)).flatten()


def slot_kl(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """(R,) KL(policy || reference) summed over slots, each exact over its slot's values."""
    return (logp.exp() * (logp - logp_ref)).sum((-1, -2))


@dataclass(frozen=True)
class GrpoTerms:
    loss: torch.Tensor      # policy gradient + kl_weight * KL
    reward: torch.Tensor    # mean reward of the products' sampled sequences
    kl: torch.Tensor        # mean KL from the reference policy
    query_reward: torch.Tensor | None = None  # mean reward of the queries' sampled sequences (query-side reasoning)


def grpo_terms(model, r: ReasonedPass, ref_log_probs: torch.Tensor, query: torch.Tensor, positives: torch.Tensor,
               negatives: torch.Tensor | None, scale: torch.Tensor, group: int, kl_weight: float,
               advantages_from: str = "group", query_rows: torch.Tensor | None = None) -> GrpoTerms:
    """GRPO's loss on the sampled rows of `r`. The first `sample_rows` are the rows of `positives` (each
    product's samples rewarded by its query retrieving it); `query_rows` (Q,), when given, are the
    queries (rows of `query`) whose own reasoning was sampled after them, each rewarded by that
    query retrieving its product (query-side reasoning). Rewards come from detached, normalised
    embeddings. `advantages_from="zero"` is GRPO's compute-matched control: the same samples,
    rewards, KL term and steps, without the policy gradient."""
    n = len(r.embeddings)
    norm = lambda t: nn.functional.normalize(t.detach(), dim=-1)  # noqa: E731
    with torch.no_grad():
        nq, npos, nneg, ns = norm(query), norm(positives), norm(negatives) if negatives is not None else None, norm(r.sampled)
        side = r.product >= len(positives)  # the query-side samples
        rewards = torch.empty(len(r.product), device=ns.device)
        prod = r.product[~side]
        rewards[~side] = group_rewards(nq[prod], npos, nneg, ns[~side], prod, scale.detach())
        if side.any():
            owner = query_rows[r.product[side] - len(positives)]
            rewards[side] = group_rewards(ns[side], npos, nneg, npos[owner], owner, scale.detach())
        advantages = group_advantages(rewards, group) if advantages_from == "group" else torch.zeros_like(rewards)
    logp = r.log_probs[n:]
    seq_logp = model.reasoning.token_log_probs(logp, r.tokens[n:]).sum(1)
    kls = slot_kl(logp, ref_log_probs)
    # Each side's terms are averaged over its own samples and the sides added, so sampling the
    # queries too adds their term without diluting the products'.
    loss = sum(-(advantages[m] * seq_logp[m]).mean() + kl_weight * kls[m].mean() for m in (~side, side) if m.any())
    return GrpoTerms(loss=loss, reward=rewards[~side].mean(), kl=kls.mean().detach(),
                     query_reward=rewards[side].mean() if side.any() else None)


@torch.no_grad()
def reference_log_probs(reference, packed: EncoderInputs, r: ReasonedPass) -> torch.Tensor:
    """The reference policy's (S, V) log-probabilities on the sampled rows' own tokens, from a pass
    over the same rows as the policy's (so its batch norms see the same batch)."""
    p = reference.prefix(**packed.kwargs()).take(r.rows)
    return reference.encode(p, r.tokens)[1][len(r.embeddings):]
