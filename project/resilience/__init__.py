"""Outgoing calls: retry with backoff, a circuit breaker per dependency shared by all
processes through the database, and the one HTTP wrapper (`http.HttpClient`)."""
