"""The ad system under test: retrieval (FAISS and lexical search), candidate filters and the relevance
model, the bootstrap's prior ranker, the GSP auction; the CTR ranker is in `ranker`. Never imports
ground truth."""
