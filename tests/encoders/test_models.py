"""The encoders' networks: MOON with its options, GeM pooling, the CLIP-style baseline, the schedule."""

import copy

import pytest
import torch

from adsim.core.config import load_config
from adsim.core.errors import ConfigError
from encoders.nets.clip_dual import ClipDualConfig, ClipDualModel
from encoders.nets.moon import MoonConfig, MoonModel
from encoders.nets.pooling import gem
from encoders.training.losses import warmup_cosine
from encoders.nets.vision import n_image_tokens
from tests.support import SMOKE


@pytest.mark.parametrize("vision", ["resnet", "vit"])
def test_moon_options_run_and_balance_experts(vision):
    torch.manual_seed(0)
    model = MoonModel(MoonConfig(vocab_size=100, vision=vision, moe_experts=3, fusion=True, residual=True)).eval()
    assert model.vision.n_tokens == n_image_tokens(vision, 32, 8, model.config.vision_layers)
    pixels = torch.randn(6, 3, 32, 32)
    ids = torch.randint(2, 100, (6, 8))
    mask = torch.ones(6, 8, dtype=torch.long)
    mask[0] = 0  # an image-only input
    out = model(pixel_values=pixels, image_mask=torch.tensor([1, 1, 0, 0, 1, 1]).bool(), input_ids=ids, attention_mask=mask)
    assert out.shape == (6, 128) and torch.isfinite(out).all()
    assert torch.isfinite(model.balance_loss())
    tokens, pooled = model.vision(pixels)
    assert tokens.shape == (6, model.vision.n_tokens, model.vision.out_dim) and pooled.shape == (6, model.vision.out_dim)


def test_moe_balance_loss_is_one_when_balanced_e_when_collapsed_and_routes_follow_the_composition():
    torch.manual_seed(0)
    model = MoonModel(MoonConfig(vocab_size=100, moe_experts=3)).eval()
    pixels, ids = torch.randn(4, 3, 32, 32), torch.randint(2, 100, (4, 8))
    mask = torch.ones(4, 8, dtype=torch.long)
    mask[:2] = 0  # rows 0, 1: an image alone; rows 2, 3: image and text
    inputs = dict(pixel_values=pixels, image_mask=torch.ones(4, dtype=torch.bool), input_ids=ids, attention_mask=mask)
    routers = [layer.mlp.router for layer in model.lm.layers]
    with torch.no_grad():
        for r in routers:
            r.weight.zero_(), r.bias.zero_()
        model(**inputs)
        assert model.balance_loss().item() == pytest.approx(1.0, abs=1e-6)  # uniform routing
        for r in routers:
            r.bias.copy_(torch.tensor([12.0, 0.0, 0.0]))
        model(**inputs)
        assert model.balance_loss().item() == pytest.approx(3.0, abs=1e-3)  # one expert takes every token
        for r in routers:
            r.bias.zero_(), r.weight.zero_(), r.weight[0, 1].fill_(5.0)  # expert 0 likes text-heavy sequences
        model(**inputs)
        probs = torch.softmax(routers[0](model.lm.layers[0].mlp.route), -1)
    image_only, mixed = probs[0, 0, 0].item(), probs[2, 0, 0].item()
    assert image_only == pytest.approx(1 / 3, abs=1e-6) and mixed > 0.4  # the same image token, routed by its sequence


def test_gem_runs_from_the_mean_to_the_max():
    maps = torch.rand(3, 5, 4, 4)
    assert torch.allclose(gem(maps, torch.tensor(1.0)), maps.mean((2, 3)), atol=1e-6)
    p3 = gem(maps, torch.tensor(3.0))
    assert (p3 > maps.mean((2, 3))).all() and (p3 < maps.amax((2, 3))).all()
    assert torch.allclose(gem(maps, torch.tensor(60.0)), maps.amax((2, 3)), rtol=0.05)


def test_moon_residual_adds_the_vision_path_and_embeds_a_lone_image_by_it():
    torch.manual_seed(0)
    model = MoonModel(MoonConfig(vocab_size=100, residual=True)).eval()
    pixels, ids = torch.randn(4, 3, 32, 32), torch.randint(2, 100, (4, 8))
    mask = torch.ones(4, 8, dtype=torch.long)
    mask[0] = 0  # a photo alone
    images = torch.tensor([True, True, False, True])
    out = model(pixel_values=pixels, image_mask=images, input_ids=ids, attention_mask=mask)
    with torch.no_grad():
        vision = torch.nn.functional.normalize(model.detail(model.vision(pixels, stages=True)[2]), dim=-1)
    assert torch.allclose(out[0], vision[0], atol=1e-5)                     # photo alone: vision path only
    assert out[2].norm().item() == pytest.approx(1.0, abs=1e-5)              # text alone: language model only
    lm = out[1] - vision[1]                                                  # image + text: both, equal norms
    assert lm.norm().item() == pytest.approx(1.0, abs=1e-5) and not torch.allclose(lm, torch.zeros_like(lm))
    with torch.no_grad():
        model.head.weight.add_(1.0)
    again = model(pixel_values=pixels, image_mask=images, input_ids=ids, attention_mask=mask)
    assert torch.allclose(again[0], out[0]) and not torch.allclose(again[1], out[1])


def _rows():
    pixels, ids = torch.randn(4, 3, 32, 32), torch.randint(2, 100, (4, 8))
    mask = torch.ones(4, 8, dtype=torch.long)
    mask[0] = 0  # a photo alone
    return dict(pixel_values=pixels, image_mask=torch.tensor([True, True, False, True]), input_ids=ids, attention_mask=mask)


def test_residual_through_the_layers_reinjects_the_input_at_every_layer_and_reads_a_lone_photo_by_the_decoder():
    torch.manual_seed(0)
    model = MoonModel(MoonConfig(vocab_size=100, residual=True, residual_depth="layers")).eval()
    assert not hasattr(model, "residual_proj") and all((layer.reinject.weight == 0).all() for layer in model.lm.layers)
    rows = _rows()
    with torch.no_grad():
        out = model(**rows)
        vision = torch.nn.functional.normalize(model.detail(model.vision(rows["pixel_values"], stages=True)[2]), dim=-1)
        lm = out[0] - vision[0]  # the photo alone: the decoder's reading plus the vision path, equal norms
        assert lm.norm().item() == pytest.approx(1.0, abs=1e-5)
        for i, layer in enumerate(model.lm.layers):  # each layer's own weights move the output
            torch.nn.init.normal_(layer.reinject.weight, std=0.3)
            moved = model(**rows)
            assert not torch.allclose(moved, out, atol=1e-4), i
            out = moved
        twin = copy.deepcopy(model)  # a copy (GRPO's reference) re-injects with its own weights
        torch.nn.init.zeros_(model.lm.layers[0].reinject.weight)
        assert torch.allclose(twin(**rows), out, atol=1e-6) and not torch.allclose(model(**rows), out, atol=1e-4)


def test_raw_fusion_reads_the_decoders_inputs_beside_its_states_and_not_their_padding():
    torch.manual_seed(0)
    states = MoonModel(MoonConfig(vocab_size=100, fusion=True)).eval()
    raw = MoonModel(MoonConfig(vocab_size=100, fusion=True, fusion_inputs="raw")).eval()
    raw.load_state_dict(states.state_dict())  # the same weights: only what the heads attend over differs
    rows = _rows()
    rows["attention_mask"][1, 5:] = 0  # row 1's last three tokens are padding
    with torch.no_grad():
        a, b = states(**rows), raw(**rows)
        assert a.shape == b.shape and not torch.allclose(a, b, atol=1e-5)
        rows["input_ids"][1, 5:] = 7  # other ids under the padding: nothing the heads read changes
        assert torch.allclose(raw(**rows), b, atol=1e-6)
        rows["input_ids"][1, 2] = 7  # a real token: it does
        assert not torch.allclose(raw(**rows)[1], b[1], atol=1e-5)


def test_reinjection_weights_survive_saving_and_loading(tmp_path):
    torch.manual_seed(0)
    model = MoonModel(MoonConfig(vocab_size=100, residual=True, residual_depth="layers", fusion=True, fusion_inputs="raw")).eval()
    for layer in model.lm.layers:
        torch.nn.init.normal_(layer.reinject.weight, std=0.3)
    model.save_pretrained(str(tmp_path))
    loaded = MoonModel.from_pretrained(str(tmp_path)).eval()
    rows = _rows()
    with torch.no_grad():
        assert torch.allclose(loaded(**rows), model(**rows), atol=1e-6)
    assert loaded.config.residual_depth == "layers" and loaded.config.fusion_inputs == "raw"


@pytest.mark.parametrize("change, message", [("encoder_train.fusion_inputs=\"raw\"", "needs fusion = true"),
                                             ("encoder_train.residual_depth=\"layers\"", "needs residual = true")])
def test_options_that_need_another_say_so(change, message):
    off = "encoder_train.fusion=false" if "fusion" in change else "encoder_train.residual=false"
    with pytest.raises(ConfigError, match=message):
        load_config(SMOKE, [off, change])


def test_clip_dual_has_the_same_vision_tower_choice():
    for vision in ("resnet", "vit"):
        model = ClipDualModel(ClipDualConfig(vocab_size=100, vision=vision)).eval()
        out = model(pixel_values=torch.randn(4, 3, 32, 32), image_mask=torch.tensor([1, 0, 1, 1]).bool(),
                    input_ids=torch.randint(2, 100, (4, 6)), attention_mask=torch.ones(4, 6, dtype=torch.long))
        assert out.shape == (4, 128) and torch.isfinite(out).all()
    with pytest.raises(ConfigError, match="vision"):
        load_config(SMOKE, ["encoder_train.vision=cnn"])


def test_learning_rate_warms_up_then_decays():
    rates = [warmup_cosine(s, 100) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and max(rates) == pytest.approx(1.0) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and rates[-1] == pytest.approx(0.1, abs=0.01)


def test_grpos_reference_can_be_taken_after_a_training_step_with_moe_and_reinjection():
    """A forward pass leaves state behind (an MoE layer's balance loss is part of its graph), which a
    deep copy of the model cannot take; the reference is built anew and loaded instead."""
    from encoders.training.train import frozen_copy
    torch.manual_seed(0)
    model = MoonModel(MoonConfig(vocab_size=100, moe_experts=2, residual=True, residual_depth="layers")).train()
    rows = _rows()
    (model(**rows).sum() + model.balance_loss()).backward()
    state = torch.random.get_rng_state()
    reference = frozen_copy(model)
    assert torch.equal(torch.random.get_rng_state(), state)  # the training stream is left as it was
    assert not any(p.requires_grad for p in reference.parameters()) and reference.training
    with torch.no_grad():
        assert torch.allclose(reference.eval()(**rows), model.eval()(**rows), atol=1e-6)
