"""The studies a user runs: the A/B (`ab`), A/A (`aa`), replicates, lift and exchange-rate coverage,
exchange rates (`exchange`, `exchange_sweep`, `exchange_coverage`, `predict`), scaling, encoder comparison, the demo."""
