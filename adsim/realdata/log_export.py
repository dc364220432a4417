"""A world's served log written in a public format (Taobao display ads), so calibration and replay
can be checked on a log whose generating config is known.

The day's requests are spread over `days` calendar days in request order (the loader holds out the
last), slots become pids `slot_0`, `slot_1`, ... (their sort order is the slot order), and the
world's past clicks become behavior_log page views.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from adsim.datasets.fixture_files import write_csv
from adsim.datasets.taobao import CHINA_OFFSET, DAY_SECONDS, USER_PROFILE
from adsim.world.build import World

EPOCH = 1494000000 - (1494000000 + CHINA_OFFSET) % DAY_SECONDS  # a midnight in the Taobao log's clock


def export_taobao(world: World, imp: pl.DataFrame, folder: str | Path, days: int = 8) -> Path:
    """raw_sample, ad_feature, user_profile and behavior_log of `imp` (a day's impressions)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    req = imp["request_id"].to_numpy()
    first, rank = np.unique(req, return_inverse=True)
    day = rank * days // len(first)
    ts = world.requests.ts[np.searchsorted(world.requests.request_id, req)] % DAY_SECONDS
    click = imp["click"].to_numpy().astype(np.int64)
    write_csv(pl.DataFrame({"user": imp["user_id"], "time_stamp": EPOCH + day * DAY_SECONDS + ts, "adgroup_id": imp["item_id"],
               "pid": "slot_" + imp["position"].cast(pl.String), "nonclk": 1 - click, "clk": click}),
              folder / "raw_sample.csv")
    items = world.items
    write_csv(pl.DataFrame({"adgroup_id": items.item_id, "cate_id": items.leaf, "campaign_id": items.advertiser_id,
               "customer": items.advertiser_id, "brand": items.brand, "price": np.round(items.price.astype(np.float64), 2)}),
              folder / "ad_feature.csv")
    profile = {c: np.zeros(len(world.users.user_id), np.int64) for c in USER_PROFILE.names}
    profile["userid"] = world.users.user_id
    write_csv(pl.DataFrame(profile), folder / "user_profile.csv")
    h = world.history
    write_csv(pl.DataFrame({"user": h.user_id, "time_stamp": EPOCH + h.ts, "btag": "pv", "cate": items.leaf[h.item_id],
               "brand": items.brand[h.item_id]}), folder / "behavior_log.csv")
    return folder
