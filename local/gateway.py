"""What API Gateway does that `chalice local` and `chalice.test.Client` do not: path
parameters reach the handler URL-decoded (`/data/user/a%40b` gives agg_id `a@b`). Both
local servers take this in, so a client that encodes its ids works here as deployed.

Run as `python -m local.gateway <chalice arguments>` to start the chalice CLI with it."""
import sys
import urllib.parse


def apply() -> None:
    from chalice import local
    if getattr(local.RouteMatcher.match_route, "decodes_parameters", False):
        return
    undecoded = local.RouteMatcher.match_route

    def match_route(self, url):
        found = undecoded(self, url)
        captured = {k: urllib.parse.unquote(v) for k, v in found.captured.items()}
        return local.MatchResult(found.route, captured, found.query_params)

    match_route.decodes_parameters = True
    local.RouteMatcher.match_route = match_route


if __name__ == "__main__":
    apply()
    from chalice.cli import main
    sys.exit(main())
