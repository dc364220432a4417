"""Public log and catalogue formats read lazily and checked: Taobao display ads, Amazon Reviews 2023, query-item benchmarks."""
