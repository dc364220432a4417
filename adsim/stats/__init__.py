"""The statistics: pure math over arrays, importing only adsim.core. Bootstrap weights (`bootstrap`), lifts
and their intervals (`lifts`), model metrics (`model_metrics`), replicates combined (`combine`), exchange-rate fits
(`rate_fit`, `rate_estimators`, `rate_simulation`), the composite proxy (`proxy`), replay's intervals
(`replay_stats`), and their results (`estimates`)."""
