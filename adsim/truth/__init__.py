"""Ground truth: graded relevance, attractiveness, examination, click and purchase probability, outcome
draws with common random numbers, annotator labels. The only code that knows the answer; the ad system
never imports it."""
