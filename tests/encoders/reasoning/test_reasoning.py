"""MOON3.0's reasoning head: targets are what listings state, generation matches teacher forcing,
sampling follows the policy, imitation learns the attributes, and a reasoning encoder round-trips
through save_pretrained (GRPO: test_grpo.py)."""

import json

import numpy as np
import pytest
import torch

from adsim.core.config import load_config
from adsim.core.errors import ConfigError
from adsim.core.rng import generator
from encoders.nets.data import InputBuilder, all_item_embeddings, embed
from encoders.nets.moon import MoonConfig, MoonModel
from encoders.reasoning.head import SLOTS, gumbel_noise, reasoning_targets, slot_sizes
from encoders.reasoning.evaluate import reasoning_accuracy
from encoders.registry import make_provider
from encoders.nets.tokenizer import load_tokenizer
from encoders.training.train import new_model, train_encoder
from encoders.trained import load_encoder
from tests.support import SMOKE, run_cli

SIZES = slot_sizes(30)


def _model(seed: int = 0, moe_experts: int = 0, **options) -> MoonModel:
    torch.manual_seed(seed)
    model = MoonModel(MoonConfig(vocab_size=100, fusion=True, residual=True, reasoning_slots=SIZES, moe_experts=moe_experts,
                                 **options))
    for layer in model.lm.layers if moe_experts else ():  # a router that reads the composition strongly, as a trained one may
        torch.nn.init.normal_(layer.mlp.router.weight, std=3.0)
    for layer in model.lm.layers if options.get("residual_depth") == "layers" else ():  # re-injection as a trained one may have it
        torch.nn.init.normal_(layer.reinject.weight, std=0.5)
    return model


def _inputs(n: int = 6):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(2, 100, (n, 8), generator=g)
    mask = torch.ones(n, 8, dtype=torch.long)
    mask[0] = 0  # image only
    return dict(pixel_values=torch.randn(n, 3, 32, 32, generator=g), image_mask=torch.ones(n, dtype=torch.bool),
                input_ids=ids, attention_mask=mask)


def test_targets_are_the_declared_category_and_brand_and_the_title_stated_attributes(smoke_world):
    items = smoke_world.view.items
    t = reasoning_targets(items)
    assert t.shape == (len(items.item_id), len(SLOTS))
    assert (t[:, SLOTS.index("category")] == items.leaf).all() and (t[:, SLOTS.index("brand")] == items.brand).all()
    for name in ("colour", "pattern", "style"):
        col = t[:, SLOTS.index(name)]
        said = col >= 0
        assert 0.3 < said.mean() < 0.95  # titles drop attributes, so some slots carry no target
        assert (col[said] == getattr(smoke_world.items, name)[said]).mean() > 0.95  # the test may read the truth


@pytest.mark.parametrize("moe_experts, options", [(0, {}), (3, {}), (0, {"residual_depth": "layers", "fusion_inputs": "raw"})])
def test_greedy_generation_is_the_argmax_of_the_teacher_forced_pass(moe_experts, options):
    model = _model(moe_experts=moe_experts, **options).eval()
    with torch.no_grad():
        p = model.prefix(**_inputs())
        tokens = model.generate(p)
        _, logp = model.encode(p, tokens)
        short = model.decode(*model.reasoning.extend(p, tokens[:, :1]), p.x.shape[1]).last_hidden_state
        full = model.decode(*model.reasoning.extend(p, tokens), p.x.shape[1]).last_hidden_state
    # one policy: a state does not depend on how many reasoning tokens follow it (MoE routes included)
    assert torch.allclose(short, full[:, :short.shape[1]], atol=1e-5)
    with torch.no_grad():  # the cached decoder (one new token per slot) writes what a full rerun per slot writes
        noise = gumbel_noise((len(tokens), len(SIZES), logp.shape[-1]), 3, p.x.device)
        assert torch.equal(model.generate(p, use_cache=False), tokens)
        assert torch.equal(model.generate(p, noise=noise), model.generate(p, noise=noise, use_cache=False))
    best = torch.stack([model.reasoning.choose(logp[:, j], j) for j in range(len(SIZES))], 1)
    assert torch.equal(best, tokens)
    assert all((tokens[:, j] < s).all() for j, s in enumerate(SIZES))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(6, len(SIZES)), atol=1e-5)
    force = torch.full_like(tokens, -1)
    force[:, 2] = 3
    forced = model.generate(p, force)
    assert (forced[:, 2] == 3).all() and torch.equal(forced[:, :2], tokens[:, :2])


def test_only_rows_with_an_image_reason():
    model = _model().eval()
    inputs = _inputs()
    inputs["image_mask"] = torch.tensor([1, 1, 0, 0, 1, 0]).bool()  # rows 2, 3 and 5 are text alone
    with torch.no_grad():
        p = model.prefix(**inputs)
        reasoned = model(**inputs)
        plain = model.finish(p, model.decode(p.x, p.mask, p.kind), p.mask)
    text = ~inputs["image_mask"]
    assert torch.allclose(reasoned[text], plain[text], atol=1e-6)  # a text input is read by its words alone
    assert not torch.allclose(reasoned[~text], plain[~text], atol=1e-3)


def test_reasoning_does_not_depend_on_how_far_a_batch_is_padded():
    model = _model().eval()
    inputs = _inputs()
    padded = dict(inputs, input_ids=torch.nn.functional.pad(inputs["input_ids"], (0, 9)),
                  attention_mask=torch.nn.functional.pad(inputs["attention_mask"], (0, 9)))
    alone = {"pixel_values": inputs["pixel_values"]}  # images with no text columns at all
    with torch.no_grad():
        p, q, r = (model.prefix(**x) for x in (inputs, padded, alone))
        assert torch.equal(model.generate(p), model.generate(q))
        assert torch.allclose(model(**inputs), model(**padded), atol=1e-5)
        assert torch.equal(model.generate(r)[0], model.generate(p)[0])  # row 0 is an image with empty text


def test_gumbel_sampling_draws_from_the_slot_distribution():
    model = _model().eval()
    with torch.no_grad():
        p = model.prefix(**_inputs(1))
        logp = model.encode(p, model.generate(p))[1][0, 0, : SIZES[0]]
    n = 6000
    noise = gumbel_noise((n, SIZES[0]), seed=3, device=torch.device("cpu"))
    draws = (logp + noise).argmax(1)
    freq = torch.bincount(draws, minlength=SIZES[0]).double() / n
    probs = logp.exp().double()
    assert (freq - probs).abs().max() < 4 * torch.sqrt(probs.max() / n) + 1e-3


@pytest.fixture(scope="module")
def imitated(smoke_world, tmp_path_factory):
    """A reasoning encoder after imitation only (a few minutes' worth of smoke-size training)."""
    cfg = load_config(SMOKE, ["encoder_train.pretrain_steps=120", "encoder_train.posttrain_steps=0",
                              "encoder_train.batch_size=32", "encoder_train.reasoning=imitation"]).encoder_train
    out = tmp_path_factory.mktemp("reasoning")
    model = train_encoder(smoke_world.view, cfg, out, progress=False)
    return cfg, out, model


def test_imitation_beats_chance_by_a_wide_margin(smoke_world, imitated):
    cfg, out, model = imitated
    view = smoke_world.view
    builder = InputBuilder(view, load_tokenizer(out / "tokenizer"), cfg.max_title_tokens, cfg.max_query_tokens)
    ids = np.arange(0, len(view.items.item_id), 3)
    target = reasoning_targets(view.items)[ids]
    model.eval()
    with torch.no_grad():
        tokens = model.generate(model.prefix(**builder.items(ids).kwargs())).numpy()
    accuracy, majority = {}, {}
    for j, name in enumerate(SLOTS):
        stated = target[:, j] >= 0
        accuracy[name] = (tokens[stated, j] == target[stated, j]).mean()
        majority[name] = np.bincount(target[stated, j]).max() / stated.sum()  # the best constant answer
    # 120 steps of 32 (measured: category 0.53 against a majority rate of 0.09, colour 0.26 against
    # 0.10, style 0.36 against 0.21, brand 0.068 against 0.05 and a uniform 1/240).
    assert accuracy["category"] > 4 * majority["category"] and accuracy["colour"] > 2 * majority["colour"]
    assert accuracy["style"] > 1.3 * majority["style"] and accuracy["pattern"] > majority["pattern"]
    assert accuracy["brand"] > 10 / model.config.reasoning_slots[SLOTS.index("brand")]


def test_reasoning_report_reads_each_slot_against_statement_truth_and_the_commonest_value(smoke_world, imitated):
    cfg, out, model = imitated
    items = smoke_world.view.items
    builder = InputBuilder(smoke_world.view, load_tokenizer(out / "tokenizer"), cfg.max_title_tokens, cfg.max_query_tokens)
    acc = reasoning_accuracy(model, builder, items, seed=3, n=300)
    assert list(acc) == list(SLOTS)
    assert acc["category"].n_silent == 0  # every listing declares its category
    assert acc["category"].stated > 4 * acc["category"].image_prior  # as the imitation test measures
    colour = acc["colour"]
    assert 0 < colour.n_silent < 300 and 0 < colour.silent_prior <= 1 and 0 <= colour.silent <= 1
    ids = np.sort(generator(3, "reasoning-eval").choice(len(items.item_id), 300, replace=False))
    with torch.no_grad():
        image_tokens = model.eval().generate(model.prefix(**builder.items(ids, text=False).kwargs())).numpy()
    assert colour.image == pytest.approx((image_tokens[:, SLOTS.index("colour")] == items.colour[ids]).mean())


def test_the_cli_trains_a_reasoning_encoder_and_reports_its_tokens(tmp_path):
    r = run_cli("encoder", "train", "--config", str(SMOKE), "--set", "encoder_train.pretrain_steps=2",
                "--set", "encoder_train.posttrain_steps=2", "--set", "encoder_train.batch_size=16",
                "--set", "encoder_train.reasoning=imitation",
                "--skip", "grpo", "--quiet", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stages"] == ["pretrain", "posttrain"]
    assert set(report["reasoning_accuracy"]) == set(SLOTS) and "| brand |" in r.stdout
    r = run_cli("encoder", "eval", "--config", str(SMOKE), "--arm", "treatment", "--set", "arms.treatment.encoder=moon",
                "--set", f"arms.treatment.encoder_args={{path=\"{tmp_path}\"}}", "--out", str(tmp_path / "eval"))
    assert r.returncode == 0, r.stderr[-2000:]
    evaluated = json.loads((tmp_path / "eval" / "report.json").read_text())["arms"]["treatment"]["reasoning_accuracy"]
    assert evaluated == report["reasoning_accuracy"]  # the same tokens, read again from the saved checkpoint


def test_reasoning_and_visual_expansion_round_trip_through_save_pretrained(smoke_world, tmp_path):
    cfg = load_config(SMOKE, ["encoder_train.pretrain_steps=3", "encoder_train.posttrain_steps=3", "encoder_train.grpo_steps=3",
                              "encoder_train.batch_size=16", "encoder_train.reasoning=grpo",
                              "encoder_train.visual_expansion=2"])
    model = train_encoder(smoke_world.view, cfg.encoder_train, tmp_path, progress=False)
    assert (tmp_path / "stages" / "grpo" / "config.json").exists()
    assert (tmp_path / "logs" / "grpo" / "version_0" / "reasoning_samples.jsonl").exists()
    loaded, tokenizer = load_encoder(tmp_path)
    assert loaded.config.reasoning_slots == model.config.reasoning_slots
    builder = InputBuilder(smoke_world.view, tokenizer, 24, 12)
    cpu = torch.device("cpu")
    assert np.array_equal(all_item_embeddings(loaded, builder, cpu), all_item_embeddings(model, builder, cpu))
    queries = [builder.requests(np.arange(50))]
    assert np.array_equal(embed(loaded, queries, cpu), embed(model, queries, cpu))
    assert make_provider("moon", {"path": str(tmp_path)}, smoke_world).item_embeddings().shape == (1500, 128)


def test_reasoning_needs_declared_brands(smoke_world):
    cfg = load_config(SMOKE, ["encoder_train.reasoning=imitation"]).encoder_train
    from encoders.catalogue import catalogue_view
    view = catalogue_view(np.array(["a red bag"], dtype=object), np.array([0]), [[]], 32, seed=0)
    with pytest.raises(ConfigError, match="reasoning"):
        new_model(view, cfg, list(range(100)))


def test_the_cli_trains_every_stage_unless_skipped():
    from adsim.cli_encoder import train_stages
    assert train_stages([]) == ("pretrain", "posttrain", "grpo")  # grpo then runs when reasoning = "grpo"
    assert train_stages(["pretrain", "grpo"]) == ("posttrain",)
