"""The synthetic world: catalogue, users, query text, procedural images, behaviour and past sessions,
built from one seed (`build`), saved as Parquet (`store`), and seen without its hidden fields (`view`)."""
