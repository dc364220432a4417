"""`adsim export`: a prepared Taobao log in FuxiCTR's format, as BARS lays out TaobaoAd_x1, so the
field's reference DIN can be trained on exactly the split replay uses.

`train.csv` and `test.csv` hold one row per impression (the replay split: the last day tests) with
the columns of BARS's TaobaoAd_x1: `clk`, the user and their profile fields, the ad's id, category,
advertiser and brand, the slot (`pid`), the target's event kind (`btag`, an impression is a view:
`pv`), the price, and `cate_his`, `brand_his`, `btag_his`: the user's last `max_len` behaviour
events strictly before the impression, oldest first, joined by `^` (the same causal join replay
reads). Categorical values are the prepared log's codes (`prepared/vocab_*.parquet` maps them back
to the dataset's ids; the sequences and their targets share a code space, as FuxiCTR's
`share_embedding` needs); missing cells are written empty, but inside a history a missing value is
the token `0`, so the k-th brand belongs to the k-th category. `dataset_config.yaml` and
`model_config.yaml` are BARS's DIN_taobaoad_x1 settings (expid DIN_taobaoad_x1_012) pointed at
these files. The files are written part by part, so memory follows the part size. `campaign_id`
is not carried by the prepared log and is left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.errors import DataError
from adsim.core.files import atomic_path, write_text
from adsim.datasets.log_table import PreparedLog
from stages.sequences import events_before, windows

PROFILE = ("cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level", "shopping_level", "occupation",
           "new_user_class_level")
CATEGORICAL = ("userid",) + PROFILE + ("adgroup_id", "cate_id", "customer", "brand", "pid", "btag")
SEQUENCES = (("cate_his", "cate_id"), ("brand_his", "brand"), ("btag_his", "btag"))


def _codes(values: np.ndarray) -> pl.Series:
    """Codes as strings, empty where 0 (missing)."""
    return pl.Series(values.astype(np.int64)).cast(pl.String).replace("0", None)


def _joined(codes: np.ndarray) -> pl.Series:
    """(n, L) codes, -1 for no event, as `^`-joined strings of the events (empty for none). A
    missing value inside an event stays, as code 0, so the three histories stay aligned."""
    frame = pl.DataFrame({"c": codes.astype(np.int64)})
    return frame.select(pl.col("c").arr.to_list().list.eval(pl.element().filter(pl.element() >= 0).cast(pl.String))
                        .list.join("^"))["c"]


def _part_frame(log: PreparedLog, path: Path, max_len: int, pv: int) -> pl.DataFrame:
    part, ev = log.read_part(path), log.behaviour_part(path)
    n, side = len(part.user), log.item_side
    cols = {"clk": part.click.astype(np.int64), "userid": _codes(part.user)}
    fields = list(log.profile_sizes or {})  # the profile table's column order
    for f in PROFILE:
        cols[f] = _codes(log.profile[part.user, fields.index(f)] if f in fields else np.zeros(n))
    cols |= {"adgroup_id": _codes(part.item), "cate_id": _codes(side["category"][part.item]),
             "customer": _codes(side["advertiser"][part.item]), "brand": _codes(side["brand"][part.item]),
             "pid": _codes(part.slot.astype(np.int64) + 1), "btag": _codes(np.full(n, pv)),
             "price": pl.Series(log.item_price[part.item]).fill_nan(None)}
    idx = windows(*events_before(part.user, part.time, ev.user, ev.time), max_len)
    safe, valid = np.maximum(idx, 0), idx >= 0
    for name, values in (("cate_his", ev.category), ("brand_his", ev.brand), ("btag_his", ev.kind.astype(np.int64))):
        cols[name] = _joined(np.where(valid, values[safe] if len(values) else 0, -1))  # one token per event
    return pl.DataFrame(cols).with_columns(pl.Series("split", part.split))


def export_fuxictr(log: PreparedLog, out: Path, max_len: int = 50) -> dict[str, int]:
    """train.csv, test.csv and the two configs under `out` (absolute paths inside, so FuxiCTR can
    run from its own checkout); the rows written per split."""
    out = Path(out).resolve()
    if not log.kinds:
        raise DataError(f"{log.name}: the FuxiCTR export needs a behaviour log (behavior_log) for the DIN sequences")
    pv = log.kinds.index("pv") + 1 if "pv" in log.kinds else 1
    out.mkdir(parents=True, exist_ok=True)
    rows = {"train": 0, "test": 0}
    with atomic_path(out / "train.csv") as train_tmp, atomic_path(out / "test.csv") as test_tmp:
        files = {"train": open(train_tmp, "wb"), "test": open(test_tmp, "wb")}
        try:
            for path in log.parts():
                frame = _part_frame(log, path, max_len, pv)
                for k, name in enumerate(("train", "test")):
                    chunk = frame.filter(pl.col("split") == k).drop("split")
                    chunk.write_csv(files[name], include_header=rows[name] == 0 and chunk.height > 0)
                    rows[name] += chunk.height
        finally:
            for f in files.values():
                f.close()
    write_text(dataset_config(out, max_len), out / "dataset_config.yaml")
    write_text(MODEL_CONFIG, out / "model_config.yaml")
    return rows


def dataset_config(out: Path, max_len: int) -> str:
    """FuxiCTR's dataset config for these files (BARS's TaobaoAd_x1 feature columns)."""
    seq = "\n".join(f"      - {{name: {s}, active: True, dtype: str, type: sequence, splitter: ^, max_len: {max_len}, "
                    f"padding: pre, share_embedding: {t}}}" for s, t in SEQUENCES)
    return f"""adsim_taobao:
    data_format: csv
    data_root: {out}/
    train_data: {out}/train.csv
    valid_data: {out}/test.csv
    test_data: {out}/test.csv
    min_categr_count: 1
    feature_cols:
      - {{name: group_id, active: True, dtype: int, type: meta, preprocess: copy_from(userid), remap: False}}
      - {{name: [{", ".join(CATEGORICAL)}], active: True, dtype: str, type: categorical}}
      - {{name: price, active: True, dtype: float, type: numeric, fill_na: 0}}
{seq}
    label_col: {{name: clk, dtype: float}}
"""


MODEL_CONFIG = """Base:
    model_root: ./checkpoints/
    num_workers: 0
    verbose: 1
    pickle_feature_encoder: true
    save_best_only: true
    eval_steps: null
    debug_mode: false
    use_features: null
    feature_config: null

DIN_adsim_taobao:
    model: DIN
    dataset_id: adsim_taobao
    loss: binary_crossentropy
    metrics: [gAUC, AUC, logloss]
    task: binary_classification
    optimizer: adam
    learning_rate: 1.0e-3
    embedding_regularizer: 5.0e-6
    net_regularizer: 0
    batch_size: 8192
    embedding_dim: 32
    dnn_hidden_units: [512, 256, 128]
    dnn_activations: relu
    attention_hidden_units: [512, 256]
    attention_hidden_activations: ReLU
    attention_output_activation: null
    attention_dropout: 0.4
    din_target_field: [cate_id, brand, btag]
    din_sequence_field: [cate_his, brand_his, btag_his]
    feature_specs: [{name: [cate_his, brand_his, btag_his], feature_encoder: null}]
    din_use_softmax: false
    net_dropout: 0.1
    batch_norm: false
    epochs: 100
    shuffle: true
    seed: 20222023
    monitor: {AUC: 1, gAUC: 1}
    monitor_mode: max
    early_stop_patience: 1
    group_id: group_id
"""
