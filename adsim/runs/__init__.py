"""How an arm is run: day 0 (`protocol`), an arm's training (`training`), serving and outcome (`arm`, `outcomes`,
`intermediate`), many arms in parallel and resumable (`runner`), trained MOON encoders cached (`encoder_cache`)."""
