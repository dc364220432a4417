"""What every layer shares: typed config and its validation, one vocabulary, the taxonomy, seeded random
streams, typed tables, atomic files, errors and the code versions that key caches. Imports nothing of adsim."""
