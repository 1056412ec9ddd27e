"""The thin Flask layer: HTTP in, plain services, HTTP out."""
