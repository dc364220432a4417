"""Real data: a public log replayed (`replay`, `replay_settings`), a world calibrated to a log (`calibrate`),
a world's log in a public format (`log_export`), a team's query benchmark and catalogue (`query_bench_eval`,
`catalogue_encode`)."""
