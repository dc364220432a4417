"""Public log and catalogue formats read lazily and checked: Taobao display ads, Amazon Reviews 2023, query sets (a team's queries with their relevant items)."""
