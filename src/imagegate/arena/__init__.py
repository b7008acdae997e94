"""The arena: blind pairwise battles between models, votes, Bradley-Terry ratings with bootstrap confidence
intervals, and boards per task, competition and category.

- ``schema`` / ``catalog``: competitions and categories (``arena/data/*.yaml`` plus the admin API's additions)
- ``ratings``: the maths (Bradley-Terry MLE, bootstrap, ranks, online Elo), numpy only, no I/O
- ``boards``: per-board outcome counts kept in memory, updated from new votes, recomputed off the request path
- ``store``: the battles table (generated and imported battles, votes)
- ``battles``: choosing a competition and a pair, generating both images through the gateway, the pool
- ``fastchat``: FastChat's battle format (import and export)
- ``service``: ``ArenaService``, what the API, the CLI and the pages call
"""
