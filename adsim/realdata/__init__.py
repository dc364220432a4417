"""Real data: a public log replayed (`replay`, `replay_settings`), a world calibrated to a log (`calibrate`),
a world's log in a public format (`log_export`), a team's query set and catalogue (`query_set_eval`,
`catalogue_encode`)."""
