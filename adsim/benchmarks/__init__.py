"""`adsim bench`: serving throughput end to end and per stage (`throughput`), and cost growth with the
world's size (`bench_scale`)."""
