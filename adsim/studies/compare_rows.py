"""The encoder comparison's rows and the pairs it differences: data only, so that a bad `--rows`
is refused before the comparison's modules load (`adsim.studies.arguments.check_compare`).

Every trained row is the config's `encoder_train` with the row's changes; each component's row
sits beside MOON and, where one exists, its compute-matched control (the same training with the
component's active ingredient off)."""

ROWS = {  # name -> (kind, encoder_train changes) of the trained rows, in the order they are listed
    "clip": ("clip", {}),
    "moon_pretrain_only": ("moon", {"posttrain_steps": 0, "grpo_steps": 0}),
    "moon_posttrain_only": ("moon", {"pretrain_steps": 0}),
    "moon": ("moon", {}),
    "moon_co_augmented": ("moon", {"co_augmentation": True}),  # MOON2.0
    "moon_visual_expansion": ("moon", {"visual_expansion": 2}),  # MOON2.0: 2 more photos per item
    "moon_visual_expansion_held": ("moon", {"visual_expansion": 2, "visual_expansion_photos": "held"}),  # its control
    "moon_moe": ("moon", {"moe_experts": 4}),  # MOON2.0: modality-routed mixture of experts
    "moon_sample_filtering": ("moon", {"sample_filtering": True}),  # MOON2.0: dynamic sample filtering
    "moon_reasoning_imitation": ("moon", {"reasoning": "imitation"}),  # MOON3.0
    "moon_reasoning_grpo": ("moon", {"reasoning": "grpo"}),
    "moon_grpo_zero_advantage": ("moon", {"reasoning": "grpo", "grpo_control": "zero-advantage"}),  # GRPO's controls
    "moon_grpo_imitation": ("moon", {"reasoning": "grpo", "grpo_control": "imitation"}),
    "moon_fusion_raw": ("moon", {"fusion_inputs": "raw"}),  # MOON3.0 fusion over the raw per-modality signals
    "moon_residual_layers": ("moon", {"residual_depth": "layers"}),  # the residual carried through the decoder
    "moon_grpo_queries": ("moon", {"reasoning": "grpo", "grpo_queries": True}),  # GRPO on the queries' reasoning too
}
PAIRS = (("moon", "clip"), ("moon", "random"), ("clip", "random"), ("moon", "moon_pretrain_only"),
         ("moon", "moon_posttrain_only"), ("moon_co_augmented", "moon"), ("moon_visual_expansion", "moon"),
         ("moon_visual_expansion", "moon_visual_expansion_held"), ("moon_visual_expansion_held", "moon"),
         ("moon_moe", "moon"), ("moon_sample_filtering", "moon"),
         ("moon_reasoning_imitation", "moon"), ("moon_reasoning_grpo", "moon"),
         ("moon_reasoning_grpo", "moon_reasoning_imitation"), ("moon_reasoning_grpo", "moon_grpo_zero_advantage"),
         ("moon_reasoning_grpo", "moon_grpo_imitation"), ("moon_grpo_zero_advantage", "moon_reasoning_imitation"),
         ("moon_grpo_imitation", "moon_reasoning_imitation"), ("moon_fusion_raw", "moon"), ("moon_residual_layers", "moon"),
         ("moon_grpo_queries", "moon_reasoning_grpo"), ("moon_grpo_queries", "moon"))
