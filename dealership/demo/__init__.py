"""Demo and benchmark data: a simulated history of a dealer group, written in bulk.

- `params`: the figures of shared/spec/demo-data.md (seasonality, channel mix, rates), all adjustable.
- `lifecycle`: the customer lifecycle of customers.services, replayed in memory (no queries).
- `history`: simulates each customer's life as a list of dated events (the demo, three stores).
- `writer`: applies the events through `lifecycle` and writes every table in bulk (COPY on PostgreSQL).
- `scale`: the vectorised generator for benchmark sizes (50 stores, 36 months, ~2 M customers).
"""
