"""The help center: articles, ingestion, embedders, the FAISS index and hybrid search."""
