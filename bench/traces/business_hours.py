#!/usr/bin/env python3
"""Cut a business-hours trace from the shared departures: a service used only on weekdays.

Issue 17 measures Presage on "a service that is only used on weekdays between 07:00 and 21:00
(nothing is recorded at night or on weekends)". No such recording ships with the shared data, so
this cuts one from a real series: one airport's departures per 15 minutes
(../shared/data/nyc-departures-15m.csv, see ../shared/data/README.md), keeping only the windows
that start on Monday to Friday at or after the opening time and before the closing time. Nights
and weekends are left out entirely (no rows, not zeros), which is what a collector scraping a
service that is switched off outside business hours records. Holidays that fall on a weekday
stay in: the departures were flown.

The shared file's timestamps are New York's local clock labelled Z, so the cut is made on the
labels as they are, and a template replaying the output keeps UTC as its clock.

Output: the shared long format (`timestamp,app,metric,value`), the app renamed (default
`business-hours`), rows in time order, values copied verbatim. Deterministic: the same input and
arguments give the same bytes. Python standard library only.

The committed trace, templates/backtest/business-hours-jfk-2013.csv, is:

    python3 bench/traces/business_hours.py \
      --input ../shared/data/nyc-departures-15m.csv --airport airport-jfk \
      --from 2013-01-07 --to 2013-07-01 \
      --output templates/backtest/business-hours-jfk-2013.csv

(run from the repository root: 25 weeks from Monday 7 January 2013, 125 weekdays of 56 quarter
hours, 7,000 rows.)
"""

import argparse
import csv
import datetime as dt
import sys

STEP = dt.timedelta(minutes=15)


def parse_label(text):
    """An RFC 3339 `...Z` label as a naive datetime (the clock it shows, no zone arithmetic)."""
    if not text.endswith("Z"):
        raise ValueError(f"timestamp {text!r} is not labelled Z")
    return dt.datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S")


def parse_clock(text):
    return dt.datetime.strptime(text, "%H:%M").time()


def in_business_hours(at, opening, closing):
    """Monday to Friday, opening <= clock time < closing (a window starting at closing is out)."""
    return at.weekday() < 5 and opening <= at.time() < closing


def cut(rows, airport, metric, start, end, opening, closing, app):
    """The rows of `airport`'s `metric` in [start, end) and in business hours, renamed to `app`."""
    out = []
    for row in rows:
        if row["app"] != airport or row["metric"] != metric:
            continue
        at = parse_label(row["timestamp"])
        if start <= at < end and in_business_hours(at, opening, closing):
            out.append((at, row["value"]))
    out.sort(key=lambda r: r[0])
    return [(at.strftime("%Y-%m-%dT%H:%M:%SZ"), app, metric, value) for at, value in out]


def check_complete(cut_rows, start, end, opening, closing):
    """Every business-hours quarter hour of the range is present once, so a gap in the source
    cannot pass for a closed shop."""
    expected = []
    day = start
    while day < end:
        at = dt.datetime.combine(day.date(), opening)
        while at.time() < closing and at.date() == day.date():
            if in_business_hours(at, opening, closing):
                expected.append(at.strftime("%Y-%m-%dT%H:%M:%SZ"))
            at += STEP
        day += dt.timedelta(days=1)
    got = [r[0] for r in cut_rows]
    if got != expected:
        missing = sorted(set(expected) - set(got))[:5]
        extra = sorted(set(got) - set(expected))[:5]
        raise SystemExit(f"source incomplete: missing {missing} extra-or-duplicate {extra}")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="shared long-format CSV (nyc-departures-15m.csv)")
    p.add_argument("--airport", default="airport-jfk", help="app to cut (default airport-jfk)")
    p.add_argument("--metric", default="departures")
    p.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (inclusive)")
    p.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD (exclusive)")
    p.add_argument("--open", dest="opening", default="07:00", help="opening clock time (default 07:00)")
    p.add_argument("--close", dest="closing", default="21:00", help="closing clock time (default 21:00)")
    p.add_argument("--app", default="business-hours", help="app name in the output")
    p.add_argument("--output", required=True, help="file to write ('-' for standard output)")
    args = p.parse_args(argv)

    start = dt.datetime.strptime(args.start, "%Y-%m-%d")
    end = dt.datetime.strptime(args.end, "%Y-%m-%d")
    opening, closing = parse_clock(args.opening), parse_clock(args.closing)
    if not start < end or not opening < closing:
        raise SystemExit("--from must precede --to and --open must precede --close")

    with open(args.input, newline="") as f:
        rows = cut(csv.DictReader(f), args.airport, args.metric, start, end, opening, closing, args.app)
    check_complete(rows, start, end, opening, closing)

    out = sys.stdout if args.output == "-" else open(args.output, "w", newline="")
    try:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["timestamp", "app", "metric", "value"])
        w.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
