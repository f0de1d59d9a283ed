"""Tenant routing cost on the INVITE path (`edge.uas.tenants.route`): N dialplans spread over T tenants.

Every INVITE is routed before its first fact: by the Request-URI host among the tenants' domains, else
by the called number among every tenant's plans. Prints the time per route for a domain match, a
number match, and a number that matches only the catch-all.

    .venv/bin/python bench/tenant_route.py [--plans 1000] [--tenants 50] [--routes 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.uas.dialplan import Plan
from edge.uas.tenants import Tenant, route


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=1000)
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--routes", type=int, default=20000)
    args = ap.parse_args()
    tenants = {f"t{i}": Tenant(f"t{i}", domains=(f"t{i}.example",)) for i in range(args.tenants)}
    plans = [
        Plan(f"p{i}", f"{1000 + i}", "agent", tenant=f"t{i % args.tenants}") for i in range(args.plans)
    ] + [Plan("all", "*", "agent")]
    cases = {
        "domain": ("t7.example", "1007"),
        "number": ("192.0.2.1", str(1000 + args.plans // 2)),
        "catch-all": ("192.0.2.1", "99999"),
    }
    for name, (host, number) in cases.items():
        start = time.perf_counter()
        for _ in range(args.routes):
            route(plans, tenants, host, number)
        us = (time.perf_counter() - start) / args.routes * 1e6
        print(f"route ({name}, {args.plans} plans, {args.tenants} tenants): {us:.1f} us")


if __name__ == "__main__":
    main()
