#!/usr/bin/env python3
"""Weekday mornings of a `presage backtest` JSON report: was capacity in place for the opening?

For each scored weekday with a demand window starting at --opening (default 07:00, on the
report's clock: the business-hours trace's local times labelled Z), and for each contender:
whether its capacity rose above its level at --night (default 03:00) before the opening, and
whether the units in service throughout the opening window served that window's demand. This
is what services/backtest/tests/business_hours.rs asserts on four weeks; this prints it for a
whole report. Python standard library only.

    presage backtest --template templates/backtest/business-hours.yaml \
      --trace templates/backtest/business-hours-jfk-2013.csv --warmup 28d --json bh.json
    python3 bench/traces/mornings.py bh.json
"""

import argparse
import bisect
import json

DAY = 86_400_000
MINUTE = 60_000


def clock(text):
    h, m = text.split(":")
    return (int(h) * 60 + int(m)) * MINUTE


def units_at(ats, steps, t):
    i = bisect.bisect_right(ats, t) - 1
    return steps[i]["units"] if i >= 0 else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", help="the JSON written by presage backtest --json")
    p.add_argument("--opening", default="07:00")
    p.add_argument("--night", default="03:00")
    args = p.parse_args()
    report = json.load(open(args.report))
    opening_ms, night_ms = clock(args.opening), clock(args.night)
    for series in report["series"]:
        openings = [
            d for d in series["demand"]
            if d["start_ms"] % DAY == opening_ms
            and (d["start_ms"] // DAY + 3) % 7 < 5  # 1970-01-01 was a Thursday
            and d["start_ms"] - opening_ms + night_ms >= report["scored_from_ms"]
        ]
        for c in series["contenders"]:
            steps = c["capacity"]
            ats = [s["at_ms"] for s in steps]
            raised = covered = both = 0
            for d in openings:
                night = d["start_ms"] - opening_ms + night_ms
                before = units_at(ats, steps, night)
                up = any(night < s["at_ms"] < d["start_ms"] and s["units"] > before for s in steps)
                during = [units_at(ats, steps, d["start_ms"])] + [
                    s["units"] for s in steps if d["start_ms"] < s["at_ms"] < d["end_ms"]
                ]
                ok = min(during) * c["per_unit"] >= d["value"]
                raised += up
                covered += ok
                both += up and ok
            print(
                f'{series["app"]} · {c["name"]}: {len(openings)} mornings; raised between '
                f"{args.night} and {args.opening} on {raised}, opening covered on {covered}, both {both}"
            )


if __name__ == "__main__":
    main()
