"""Who may see what: the principal of a request and THE view of area tables (disclosure
control applied in one place). Pure: no Flask, no click."""
