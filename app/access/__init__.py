"""Who may do what: roles, API keys, and the policy every route declares."""
