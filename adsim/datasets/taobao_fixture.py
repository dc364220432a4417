"""A small Taobao display-ad log in the dump's exact format, with a known click model.

Three click models (`FixtureSpec.signal`):

- `embeddings`: P(click) = sigmoid(base + appeal + slot + strength * u . z), u the user's taste and
  z the ad's latent vector; `item_embeddings.parquet` holds z with noise.
- `behaviour`: the signal sits where the real data has it, in `behavior_log`. Each user favours
  three categories (drawn mostly from a pool set by the profile's gender code) and browses them:
  their pv/cart/fav/buy events fall in a favourite with probability `FAVOURED`. A click follows the
  ad's category: + strength * log(p_user(category) * n_categories), and a little price aversion.
  `raw_sample` clicks alone say almost nothing about a user's favourites at a CTR of a few percent.
- `none`: the same base, slot and per-ad appeal; nothing else.

The dump's quirks are kept: `\\N` and `NULL` for missing values, repeated rows (in `raw_sample` and
`behavior_log`), the trailing space in `user_profile`'s last header, users without a profile row,
cells missing in the profile, string ids, gzip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.rng import generator
from adsim.core.files import write_parquet
from adsim.datasets.fixture_files import FixtureSpec, csv_stream, latents, write_csv, write_item_embeddings

PIDS = ("430548_1007", "430539_1007")
START = 1494000000  # 2017-05-05 in the raw_sample's clock
N_CATES = 29        # categories 1..29
FAVOURED = 0.85     # share of a user's behaviour events in their favourite categories
BEHAVIOUR_DAYS = 14  # days of behaviour before the first impression day
BLOCK_USERS = 50_000  # users drawn and written at a time
CATEGORY_SLICE = 500_000  # events per slice of the category draw
PROFILE_COLUMNS = ["userid", "cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
                   "shopping_level", "occupation", "new_user_class_level"]


def category_preferences(spec: FixtureSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n_users, N_CATES) each user's share of behaviour per category, and their gender code (1 or 2):
    three favourites, drawn from the gender's half of the categories with probability 0.7."""
    gender = rng.integers(1, 3, spec.n_users)
    pref = np.zeros((spec.n_users, N_CATES))
    half = N_CATES // 2
    for fav in range(3):  # three favourites each, with replacement: a user may favour fewer
        own = np.where(gender == 1, rng.integers(0, half, spec.n_users), rng.integers(half, N_CATES, spec.n_users))
        cat = np.where(rng.random(spec.n_users) < 0.7, own, rng.integers(0, N_CATES, spec.n_users))
        pref[np.arange(spec.n_users), cat] += rng.dirichlet(np.ones(3), spec.n_users)[:, fav]
    return FAVOURED * pref / pref.sum(1, keepdims=True) + (1 - FAVOURED) / N_CATES, gender


def click_probability(spec: FixtureSpec, user, ad, pid, latents, ads: pl.DataFrame, pref: np.ndarray) -> np.ndarray:
    """P(click) of each impression under the spec's click model (the fixture's ground truth)."""
    z, u, appeal = latents
    logit = spec.base_logit + appeal[ad] - 0.5 * pid
    if spec.signal == "embeddings":
        logit = logit + spec.strength * np.einsum("nd,nd->n", u[user], z[ad])
    if spec.signal == "behaviour":
        cate = ads["cate_id"].to_numpy()[ad] - 1
        log_price = np.log(ads["price"].to_numpy())
        logit = (logit + spec.behaviour_strength * np.log(pref[user, cate] * N_CATES)
                 - 0.4 * (log_price[ad] - log_price.mean()) / log_price.std())
    return 1 / (1 + np.exp(-logit))


def _ads(spec: FixtureSpec, rng) -> pl.DataFrame:
    brand = np.where(np.arange(spec.n_items) % 7 == 0, None, (np.arange(spec.n_items) % 40 + 100).astype(str).astype(object))
    return pl.DataFrame({"adgroup_id": np.arange(spec.n_items) + 1, "cate_id": rng.integers(1, N_CATES + 1, spec.n_items),
                         "campaign_id": rng.integers(1, 300, spec.n_items), "customer": rng.integers(1, 120, spec.n_items),
                         "brand": pl.Series(brand.tolist(), dtype=pl.String),
                         "price": np.round(rng.lognormal(4, 1, spec.n_items), 2)})


def _categories(u01: np.ndarray, cum: np.ndarray, user: np.ndarray) -> np.ndarray:
    """Category codes (from 1) drawn by inverting each event's user's cumulative preferences `cum`
    at `u01`, in slices so memory stays a slice's (events x categories)."""
    out = np.empty(len(user), np.int64)
    for s in range(0, len(user), CATEGORY_SLICE):
        sl = slice(s, s + CATEGORY_SLICE)
        out[sl] = np.minimum((u01[sl, None] > cum[user[sl]]).sum(1), N_CATES - 1) + 1
    return out


def _behaviour(spec: FixtureSpec, rng, pref: np.ndarray, ads: pl.DataFrame, first_user: int = 0) -> pl.DataFrame:
    """The events of the users `first_user` .. + len(pref) (pref: their rows) over the BEHAVIOUR_DAYS
    before the log and its days, categories drawn from their preferences (uniform ones for signals
    other than `behaviour`), brands from the ads of the category, some rows repeated."""
    if spec.signal != "behaviour":
        pref = np.full_like(pref, 1 / N_CATES)
    n_events = rng.poisson(spec.events_per_user * rng.lognormal(0, 0.5, len(pref)))
    user = np.repeat(np.arange(len(pref)), n_events)
    cate = _categories(rng.random(len(user)), np.cumsum(pref, 1), user)
    ad_cate = ads["cate_id"].to_numpy()
    ad_brand = ads["brand"].cast(pl.Int64).fill_null(-1).to_numpy()
    pick = rng.integers(0, spec.n_items, len(user))
    same = ad_cate[pick] == cate  # the brand of an ad of the category where the draw found one (none: -1)
    brand = np.where(same, ad_brand[pick], rng.integers(100, 140, len(user)))
    span = (BEHAVIOUR_DAYS + spec.n_days) * 86_400
    beh = pl.DataFrame({"user": user + first_user + 1000,
                        "time_stamp": START - BEHAVIOUR_DAYS * 86_400 + rng.integers(0, span, len(user)),
                        "btag": np.asarray(("pv", "pv", "pv", "pv", "cart", "fav", "buy"))[rng.integers(0, 7, len(user))],
                        "cate": cate, "brand": pl.Series(brand).cast(pl.String).replace("-1", None)})
    return pl.concat([beh, beh[:: 60]])  # the dump repeats some rows


def _profile(spec: FixtureSpec, rng, gender: np.ndarray) -> pl.DataFrame:
    """One row per user but every 20th (missing profiles), some cells missing, gender as drawn."""
    profile = pl.DataFrame({c: rng.integers(0, 4, spec.n_users) for c in PROFILE_COLUMNS}).with_columns(
        pl.Series("userid", np.arange(spec.n_users) + 1000), pl.Series("final_gender_code", gender))
    profile = profile.with_columns(pl.when(pl.int_range(pl.len()) % 11 == 3).then(None).otherwise(pl.col("pvalue_level"))
                                   .alias("pvalue_level"))
    return profile.filter(pl.int_range(pl.len()) % 20 != 7)


def _impressions(spec: FixtureSpec, rng, users: range) -> tuple[np.ndarray, ...]:
    """The draws of the impressions of `users`: each user's per_user_day a day for n_days, at
    random times, of random ads in random slots, and the uniforms their clicks compare with."""
    n = len(users) * spec.n_days * spec.per_user_day
    user = np.repeat(np.arange(users.start, users.stop), spec.n_days * spec.per_user_day)
    day = np.tile(np.repeat(np.arange(spec.n_days), spec.per_user_day), len(users))
    time = START + day * 86_400 + rng.integers(0, 86_000, n)
    return user, time, rng.integers(0, spec.n_items, n), rng.integers(0, 2, n), rng.random(n)


def _raw_sample(user, time, ad, pid, clk) -> pl.DataFrame:
    """raw_sample rows with the dump's quirks: some nonclk missing, some rows repeated."""
    raw = pl.DataFrame({"user": user + 1000, "time_stamp": time, "adgroup_id": ad + 1, "pid": np.asarray(PIDS)[pid],
                        "nonclk": 1 - clk, "clk": clk})
    raw = raw.with_columns(pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("nonclk")).alias("nonclk"))
    return pl.concat([raw, raw[: len(raw) // 50]])  # the dump repeats some rows


def write_taobao(folder: str | Path, spec: FixtureSpec = FixtureSpec()) -> Path:
    """raw_sample, ad_feature, user_profile and behavior_log in `folder`, and item_embeddings.parquet.
    The impressions and events are drawn and written BLOCK_USERS users at a time (the first block
    from the fixture's own streams, later ones from streams named by their block), so memory follows
    the block, not the log: `FULL_SIZE` writes a log of the real dump's shape."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = generator(spec.seed, "fixture-taobao")
    lat = latents(spec)
    pref, gender = category_preferences(spec, generator(spec.seed, "fixture-taobao-preferences"))
    truth = []
    with csv_stream(folder / "raw_sample.csv", spec.gzip) as raw_out, csv_stream(folder / "behavior_log.csv", spec.gzip) as beh_out:
        for b, lo in enumerate(range(0, spec.n_users, BLOCK_USERS)):
            users = range(lo, min(lo + BLOCK_USERS, spec.n_users))
            user, time, ad, pid, uniform = _impressions(spec, rng if b == 0 else generator(spec.seed, "fixture-taobao", b), users)
            if b == 0:  # drawn after the first block's impressions, as the fixture always has
                ads, profile = _ads(spec, rng), _profile(spec, rng, gender)
            prob = click_probability(spec, user, ad, pid, lat, ads, pref)
            raw_out(_raw_sample(user, time, ad, pid, (uniform < prob).astype(np.int64)))
            beh_rng = generator(spec.seed, "fixture-taobao-behaviour", *([b] if b else []))
            beh_out(_behaviour(spec, beh_rng, pref[users.start:users.stop], ads, users.start))
            if spec.write_truth:  # for studies that grade replay's intervals; no loader reads it
                truth.append(pl.DataFrame({"user": user + 1000, "time_stamp": time, "adgroup_id": ad + 1,
                                           "pid": np.asarray(PIDS)[pid], "p": prob}))
    write_csv(ads.with_columns(pl.col("brand").fill_null("NULL")), folder / "ad_feature.csv", spec.gzip)
    write_csv(profile, folder / "user_profile.csv", spec.gzip, header=PROFILE_COLUMNS[:-1] + ["new_user_class_level "])
    write_item_embeddings(folder / "item_embeddings.parquet", (np.arange(spec.n_items) + 1).tolist(), lat[0],
                          spec.embedding_noise, spec.seed)
    if spec.write_truth:
        write_parquet(pl.concat(truth), folder / "click_probability.parquet")
    return folder
