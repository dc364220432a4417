"""Run by tests/stages/ranker/test_sharded.py under `torchrun --nproc-per-node 2 -m`: the ranker
trained with DistributedModelParallel on the test impressions; rank 0 prints one JSON line."""

import json
import warnings

import numpy as np
import torch

from adsim.core.runtime import dist
from adsim.core.config import RankerConfig
from adsim.stats.model_metrics import auc
from stages.ranker.model import CtrModel
from tests.stages.ranker.test_ranker import SIZES, _features, _impressions

warnings.filterwarnings("ignore")
me = dist.init_from_env()
model = CtrModel(RankerConfig(epochs=3, batch_size=64, hidden=32, shard_tables=True), SIZES, _features(), n_slots=4, seed=0)
model.fit(_impressions(4000, 1), me)
held = _impressions(2000, 2)
checksum = np.array([sum(float(v.double().sum()) for v in model.net.state_dict().values())])
spread = {name: (p.sharding_type, p.ranks) for module in model.plan.plan.values() for name, p in module.items()}
if me.main:
    print(json.dumps({"auc": auc(held.click, model.predict_logged(held)), "plan": spread,
                      "checksum": float(checksum[0]), "checksum_sum": float(dist.all_sum(checksum)[0]),
                      "plain": all(type(v) is torch.Tensor for v in model.net.state_dict().values())}))
else:
    dist.all_sum(checksum)
dist.close()
