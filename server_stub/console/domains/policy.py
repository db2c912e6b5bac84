from server_stub.console.domain_page import DomainPage

PAGE = DomainPage(
    "/policy", "Policy",
    "reorder policy at each level (global, client, site, device): lead time, safety days, consolidation",
    "server_stub.supply policy (supply live branch)",
    ("effective_policy(conn, *, client, site, asset_id) -> values with the level each comes from",
     "set_policy(conn, level, target, key, value) (form post, admin)"))
