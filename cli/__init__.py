"""adminctl: the command-line client of the control plane's public HTTP API.

It speaks only HTTP (the routes `/openapi.json` describes) and never imports the
services: it needs click and PyNaCl, nothing else."""
__version__ = "0.1.0"
