"""A day served: an arm's system and its pass over a batch (`system`), the day's title index (`titles`),
the users' reaction and the truth of what they saw (`users`), the serving loop (`engine`), its records
and Parquet logs (`records`, `logs`) and stage timing (`timer`)."""
