"""The sites that call the service, each known by its API keys (issue 13).

    apikey.py     the key's form (mod_<id>_<secret>), making one, what is kept of it (its SHA-256)
    registry.py   SiteKeys: create, list, revoke, and the check every scoring door makes (site_of);
                  key_storage: where a deployment keeps its keys (MODERATION_KEYS_FILE, else its store)
    cli.py        `moderation keys create SITE | list | revoke KEY_ID`

Storage is the store layer's (service/store/: Redis and memory, and keyfile.py); what a door does with a key
it was sent is the API layer's (service/api/keys.py). No web framework here.
"""
