"""What API Gateway does that `chalice local` and `chalice.test.Client` do not: path
parameters reach the handler URL-decoded (`/data/user/a%40b` gives agg_id `a@b`), and a
greedy parameter (`/dashboard/{proxy+}`) takes every segment after its prefix. Both
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
        try:
            found = undecoded(self, url)
        except ValueError:
            found = _greedy(self, url)
        captured = {k.rstrip("+"): urllib.parse.unquote(v) for k, v in found.captured.items()}
        return local.MatchResult(found.route, captured, found.query_params)

    def _greedy(matcher, url):
        parsed = urllib.parse.urlparse(url)
        parts = parsed.path.split("/")
        for route_url in matcher.route_urls:
            fixed, _, last = route_url.rpartition("/")
            if not (last.startswith("{") and last.endswith("+}")):
                continue
            prefix = fixed.split("/")
            if len(parts) > len(prefix) and parts[:len(prefix)] == prefix:
                rest = "/".join(parts[len(prefix):])
                if rest:
                    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
                    return local.MatchResult(route_url, {last[1:-2]: rest}, query)
        raise ValueError(f"No matching route found for: {url}")

    match_route.decodes_parameters = True
    local.RouteMatcher.match_route = match_route


if __name__ == "__main__":
    apply()
    from chalice.cli import main
    sys.exit(main())
