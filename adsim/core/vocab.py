"""The one vocabulary every layer shares: query modalities and metric names.

Defined once here and imported everywhere, so a metric renamed or added shows up in the engine,
the outcomes, the reports and the CLI together.
"""

from __future__ import annotations

import enum


class Modality(enum.IntEnum):
    """What a query shows or says; stored as int8 codes, written as their lower-case names."""

    TEXT = 0
    IMAGE = 1
    MULTIMODAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


MODALITIES = tuple(m.label for m in Modality)  # ("text", "image", "multimodal")
N_MODALITIES = len(Modality)

# Expected outcomes: the same metrics with each shown ad's sampled click replaced by its true
# P(click) in its slot, and revenue by P(click) x the GSP price a click pays. No click noise: the
# simulator knows P(click); only the evaluation reads it, never the system under test.
EXPECTED_PREFIX = "expected_"
EXPECTED_DOWNSTREAM = ("expected_ctr", "expected_rpm", "expected_clicks_per_request")
# Ratio metrics of served traffic, in report order: each is a ratio of per-user sums.
RATIO_METRICS = ("ctr", "clicks_per_request", "rpm", "revenue_per_request", "relevance_rate", "coverage",
                 "retrieval_recall", "target_recall", "purchases_per_request") + EXPECTED_DOWNSTREAM
# The business metrics: exchange rates are fitted for them, power and CRN rows are reported for them.
# Sampled clicks first (what an online A/B of this size would see), then their expected twins
# (the primary outcomes of exchange rates), then the two that carry no click noise at all.
HEADLINE_DOWNSTREAM = ("ctr", "rpm", "clicks_per_request")  # scaling studies, per-day tables, coverage
DOWNSTREAM = HEADLINE_DOWNSTREAM + EXPECTED_DOWNSTREAM + ("relevance_rate", "coverage")
# Metrics reported per slice (query modality, category, item age): they need only clicks and revenue.
SLICE_METRICS = ("ctr", "clicks_per_request", "rpm", "expected_ctr")


def expected(metric: str) -> str:
    """The expected-outcome twin of a sampled-click metric: "ctr" -> "expected_ctr"."""
    return EXPECTED_PREFIX + metric


def is_expected(metric: str) -> bool:
    return metric.startswith(EXPECTED_PREFIX)
# Model metrics on held-out day-0 logs (point values, no CI).
RELEVANCE_METRICS = ("relevance_auc", "relevance_auc_true_labels")
# The headline AUCs are of the served score (the top-slot pCTR the auction sees); log-loss and
# calibration of the calibrated pCTR in the logged slot, beside the position-only model's log-loss.
RANKER_METRICS = ("ranker_auc", "ranker_auc_ci_low", "ranker_auc_ci_high", "ranker_gauc", "ranker_log_loss",
                  "ranker_calibration", "ranker_calibration_ci_low", "ranker_calibration_ci_high", "ranker_calibration_true",
                  "ranker_auc_position_aware", "ranker_gauc_position_aware", "ranker_log_loss_position_only")

MODEL_METRICS = RELEVANCE_METRICS + RANKER_METRICS
# A ranker replayed on a real log's held-out split (adsim replay): higher is better but for log-loss.
REPLAY_METRICS = ("auc", "gauc", "log_loss")


def in_model_metric_order(metrics: dict[str, float]) -> dict[str, float]:
    """`metrics` in the vocabulary's order (per-day ones after, by name), whatever order they came in:
    a saved outcome read back reports exactly as a fresh one."""
    rank = {m: i for i, m in enumerate(MODEL_METRICS)}
    return dict(sorted(metrics.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


# Intermediate metrics of an embedding space (adsim.runs.intermediate).
RETRIEVAL_TASKS = ("text", "image_search", "multimodal", "i2i")
PERSONAL_AUC = "personal_auc"  # the user's history against the items of the requested category
QUERY_TASKS = {"text": Modality.TEXT, "image_search": Modality.IMAGE, "multimodal": Modality.MULTIMODAL}
RECALL_KS = (1, 10, 100)
PROBES = ("leaf", "colour", "pattern", "style", "brand")  # listed attributes a linear probe reads off item embeddings
# Intermediate metrics in [0, 1] are reported in points (x 100); the others in their own units.
RATE_PREFIXES = tuple(f"{t}_recall" for t in RETRIEVAL_TASKS) + ("probe_", PERSONAL_AUC)


def recall_metric(task: str, k: int) -> str:
    """The name of recall@k on a retrieval task, e.g. `image_search_recall@10`."""
    return f"{task}_recall@{k}"


def probe_metric(attribute: str) -> str:
    return f"probe_{attribute}_acc"


IMAGE_SEARCH_RECALL = recall_metric("image_search", 10)  # the papers' headline intermediate metric
HEADLINE_RECALLS = tuple(recall_metric(t, 10) for t in ("image_search", "text", "multimodal"))
# The intermediate metrics reports list first: the query recalls and what embeddings know of users.
HEADLINE_INTERMEDIATES = HEADLINE_RECALLS + (PERSONAL_AUC,)
I2I_RECALL = recall_metric("i2i", 10)


def in_points(name: str) -> bool:
    """True for intermediate metrics that are rates (reported and differenced in points)."""
    return name.startswith(RATE_PREFIXES)


def is_headline_intermediate(name: str) -> bool:
    """The intermediate metrics an A/B report lists: recall@10, probes, alignment, uniformity."""
    return "@10" in name or name.startswith(("probe", "alignment", "uniformity", PERSONAL_AUC))
