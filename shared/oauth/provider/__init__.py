"""The OpenID Provider both gdzwfw_idp and hrss_isso run (one implementation).

- ``tables``: storage schema, attached to a service's own metadata.
- ``models``: the objects Authlib's grants see (clients, codes, tokens).
- ``store``: all queries, keyword-only.
- ``keys``: signing keys in the database, rotation, JWKS.
- ``grants`` / ``server``: Authlib grants and endpoints, bound per request.
- ``interaction``: acr/prompt/max_age decisions and the hand-off to login UI.
- ``routes``: the HTTP endpoints, which decode, call the above and render.
- ``hooks``: what a service supplies (who is logged in, which claims).
"""
