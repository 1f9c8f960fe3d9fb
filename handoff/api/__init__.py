"""HTTP routes by area; each translates between HTTP and one use case (`core/`)."""
