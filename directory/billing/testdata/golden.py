#!/usr/bin/env python3
"""Writes rating_golden.csv: 100 calls with prices worked out independently
of the Go code, from the rules in docs/billing.md restated here.

Run from directory/billing:  python3 testdata/golden.py > testdata/rating_golden.csv

Rules (restated, not imported):
  * internal, inbound and emergency calls are free;
  * a call with no answer time or 0 billable seconds is free (no connection fee);
  * the band is decided by the answer time as wall-clock time in Europe/Oslo;
    a band whose 'to' is before its 'from' runs past midnight and belongs to
    the day it starts on; the first band override listed in a rate that
    contains the answer time wins, otherwise the class's default applies;
  * international numbers take the zone with the longest matching prefix,
    or the 'international' class when no zone matches;
  * per second: connect + seconds * price;
    per minute: connect + ceil(seconds / 60) * price;
  * NOK amounts are exact decimals; the total is rounded to whole øre once,
    half up.

The tariff below restates testdata/tariff.yaml; the Go test reads the YAML,
so a change in one without the other fails the test.
"""
import csv
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D, ROUND_HALF_UP
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")

# band name -> (start days as Python weekday numbers Mon=0, from minute, to minute)
BANDS = {
    "day": ({0, 1, 2, 3, 4}, 8 * 60, 17 * 60),
    "evening": ({0, 1, 2, 3, 4}, 17 * 60, 8 * 60),
    "weekend": ({5, 6}, 0, 24 * 60),
}

# class -> (connect, price, per, [(band, connect or None, price or None)])
RATES = {
    "national": (D("0.39"), D("0.19"), "minute", []),
    "mobile": (D("0.39"), D("0.0049"), "second",
               [("evening", None, D("0.0025")), ("weekend", D("0.19"), D("0.0025"))]),
    "shared-cost": (D("0.39"), D("0.25"), "minute", []),
    "premium": (D("1.00"), D("0.0333"), "second", []),
    "short": (D("0.39"), D("0.99"), "minute", []),
    "international": (D("0.99"), D("2.49"), "minute", []),
    "freephone": (D("0"), D("0"), "second", []),
}
ZONES = {
    "nordic": (["+45", "+46", "+354", "+358"], (D("0.39"), D("0.29"), "minute", [])),
    "europe": (["+30", "+31", "+32", "+33", "+34", "+35", "+36", "+39", "+40", "+41",
                "+43", "+44", "+48", "+49"], (D("0.39"), D("0.49"), "minute", [])),
    "world": (["+1", "+61", "+81", "+86", "+91"], (D("0.99"), D("0.0125"), "second", [])),
    "caribbean": (["+1268", "+1876"], (D("0.99"), D("3.90"), "minute", [])),
}
FREE = {"internal", "inbound", "emergency"}


def in_band(name, local):
    days, frm, to = BANDS[name]
    m = local.hour * 60 + local.minute
    wd = local.weekday()
    if frm < to:
        return wd in days and frm <= m < to
    return (wd in days and m >= frm) or (((wd - 1) % 7) in days and m < to)


def zone_of(number):
    best, blen = "", 0
    for z, (prefixes, _) in ZONES.items():
        for p in prefixes:
            if number.startswith(p) and len(p) > blen:
                best, blen = z, len(p)
    return best


def fmt(d):
    return format(d.normalize(), "f") if d != 0 else "0"


def rate(cls, zone, number, local, secs):
    """Returns (band, øre, working)."""
    if cls in FREE or cls == "" or local is None or secs <= 0:
        return "", 0, "free"
    connect, price, per, overrides = ZONES[zone][1] if zone else RATES[cls]
    band = ""
    for b, c, p in overrides:
        if in_band(b, local):
            band = b
            connect = c if c is not None else connect
            price = p if p is not None else price
            break
    units = secs if per == "second" else -(-secs // 60)
    total = connect + units * price
    ore = int((total * 100).quantize(D("1"), rounding=ROUND_HALF_UP))
    unit = "s" if per == "second" else "min"
    work = f"{fmt(connect)} + {units}{unit}×{fmt(price)} = {fmt(total)} → {ore}"
    return band, ore, work


# (case, direction, number field, number, Oslo answer time or "", seconds, class, zone)
# Class and zone are written by hand; the zone is also checked against zone_of.
N = "normalised"
CASES = [
    # national, per minute: started minutes
    ("national 1s", "outbound", N, "+4722334455", "2026-11-03 10:00:00", 1, "national", ""),
    ("national 59s", "outbound", N, "+4722334455", "2026-11-03 10:00:00", 59, "national", ""),
    ("national 60s", "outbound", N, "+4722334455", "2026-11-03 10:00:00", 60, "national", ""),
    ("national 61s", "outbound", N, "+4722334455", "2026-11-03 10:00:00", 61, "national", ""),
    ("national 119s", "outbound", N, "+4755667788", "2026-11-03 10:00:00", 119, "national", ""),
    ("national 120s", "outbound", N, "+4755667788", "2026-11-03 10:00:00", 120, "national", ""),
    ("national 121s", "outbound", N, "+4755667788", "2026-11-03 10:00:00", 121, "national", ""),
    ("national 1h", "outbound", N, "+4733445566", "2026-11-04 09:00:00", 3600, "national", ""),
    ("national evening (no override)", "outbound", N, "+4773112233", "2026-11-04 20:00:00", 61, "national", ""),
    ("national weekend (no override)", "outbound", N, "+4762112233", "2026-11-07 12:00:00", 300, "national", ""),
    ("national from callee", "outbound", "callee", "22334455", "2026-11-03 10:00:00", 90, "national", ""),
    ("national unanswered", "outbound", N, "+4722334455", "", 0, "national", ""),
    ("national answered 0s", "outbound", N, "+4722334455", "2026-11-03 10:00:00", 0, "national", ""),
    # mobile, per second, day (default rate)
    ("mobile day 1s", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 1, "mobile", ""),
    ("mobile day 10s", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 10, "mobile", ""),
    ("mobile day 50s half up", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 50, "mobile", ""),
    ("mobile day 59s", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 59, "mobile", ""),
    ("mobile day 60s", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 60, "mobile", ""),
    ("mobile day 61s", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 61, "mobile", ""),
    ("mobile day 150s half up", "outbound", N, "+4741234567", "2026-11-05 13:00:00", 150, "mobile", ""),
    ("mobile day 249s", "outbound", N, "+4741234567", "2026-11-05 13:00:00", 249, "mobile", ""),
    ("mobile day 1h", "outbound", N, "+4741234567", "2026-11-05 13:00:00", 3600, "mobile", ""),
    ("mobile from callee", "outbound", "callee", "91234567", "2026-11-05 13:00:00", 30, "mobile", ""),
    ("mobile unanswered", "outbound", N, "+4791234567", "", 0, "mobile", ""),
    ("mobile answered 0s", "outbound", N, "+4791234567", "2026-11-03 10:00:00", 0, "mobile", ""),
    # mobile across band boundaries (Europe/Oslo wall clock)
    ("mobile Tue 07:59:59 evening from Mon", "outbound", N, "+4791234567", "2026-11-03 07:59:59", 2, "mobile", ""),
    ("mobile Tue 08:00:00 default", "outbound", N, "+4791234567", "2026-11-03 08:00:00", 2, "mobile", ""),
    ("mobile Tue 16:59:59 default", "outbound", N, "+4791234567", "2026-11-03 16:59:59", 6, "mobile", ""),
    ("mobile Tue 17:00:00 evening", "outbound", N, "+4791234567", "2026-11-03 17:00:00", 6, "mobile", ""),
    ("mobile evening 2s half up", "outbound", N, "+4791234567", "2026-11-04 21:00:00", 2, "mobile", ""),
    ("mobile evening 4s", "outbound", N, "+4791234567", "2026-11-04 21:00:00", 4, "mobile", ""),
    ("mobile evening 600s", "outbound", N, "+4791234567", "2026-11-04 23:30:00", 600, "mobile", ""),
    ("mobile Wed 03:00 evening from Tue", "outbound", N, "+4791234567", "2026-11-04 03:00:00", 100, "mobile", ""),
    ("mobile Fri 23:59 evening", "outbound", N, "+4791234567", "2026-11-06 23:59:00", 45, "mobile", ""),
    ("mobile Sat 00:00 evening wins over weekend", "outbound", N, "+4791234567", "2026-11-07 00:00:00", 45, "mobile", ""),
    ("mobile Sat 07:59 evening wins over weekend", "outbound", N, "+4791234567", "2026-11-07 07:59:00", 45, "mobile", ""),
    ("mobile Sat 08:00 weekend", "outbound", N, "+4791234567", "2026-11-07 08:00:00", 45, "mobile", ""),
    ("mobile weekend 2s half up", "outbound", N, "+4791234567", "2026-11-07 14:00:00", 2, "mobile", ""),
    ("mobile Sun 23:59 weekend", "outbound", N, "+4791234567", "2026-11-08 23:59:59", 120, "mobile", ""),
    ("mobile Mon 00:00 default (Sun starts no evening)", "outbound", N, "+4791234567", "2026-11-09 00:00:00", 120, "mobile", ""),
    ("mobile Mon 07:59 default", "outbound", N, "+4791234567", "2026-11-09 07:59:00", 120, "mobile", ""),
    ("mobile summer 16:59:59 CEST default", "outbound", N, "+4791234567", "2026-06-15 16:59:59", 100, "mobile", ""),
    ("mobile summer 17:00 CEST evening", "outbound", N, "+4791234567", "2026-06-15 17:00:00", 100, "mobile", ""),
    ("mobile DST night Sun 02:30", "outbound", N, "+4791234567", "2026-10-25 02:30:00", 100, "mobile", ""),
    ("mobile winter 08:30 (07:30 UTC) default", "outbound", N, "+4741234567", "2026-11-10 08:30:00", 77, "mobile", ""),
    ("mobile winter 17:30 (16:30 UTC) evening", "outbound", N, "+4741234567", "2026-11-10 17:30:00", 77, "mobile", ""),
    # freephone, shared cost, premium, short
    ("freephone 600s", "outbound", N, "+4780012345", "2026-11-03 10:00:00", 600, "freephone", ""),
    ("freephone evening", "outbound", N, "+4780030000", "2026-11-03 19:00:00", 30, "freephone", ""),
    ("shared-cost 810 59s", "outbound", N, "+4781012345", "2026-11-03 10:00:00", 59, "shared-cost", ""),
    ("shared-cost 810 61s", "outbound", N, "+4781012345", "2026-11-03 10:00:00", 61, "shared-cost", ""),
    ("shared-cost 815 600s", "outbound", N, "+4781512345", "2026-11-03 10:00:00", 600, "shared-cost", ""),
    ("premium 820 1s", "outbound", N, "+4782012345", "2026-11-03 10:00:00", 1, "premium", ""),
    ("premium 820 50s half up", "outbound", N, "+4782012345", "2026-11-03 10:00:00", 50, "premium", ""),
    ("premium 829 150s half up", "outbound", N, "+4782912345", "2026-11-03 10:00:00", 150, "premium", ""),
    ("premium unknown 850 series", "outbound", N, "+4785012345", "2026-11-03 10:00:00", 61, "premium", ""),
    ("premium unanswered", "outbound", N, "+4782012345", "", 0, "premium", ""),
    ("short 1881 59s", "outbound", N, "+471881", "2026-11-03 10:00:00", 59, "short", ""),
    ("short 1881 60s", "outbound", N, "+471881", "2026-11-03 10:00:00", 60, "short", ""),
    ("short 1881 61s", "outbound", N, "+471881", "2026-11-03 10:00:00", 61, "short", ""),
    ("short 02800", "outbound", N, "+4702800", "2026-11-03 10:00:00", 200, "short", ""),
    ("short 116123", "outbound", N, "+47116123", "2026-11-03 10:00:00", 30, "short", ""),
    ("short 180 from callee", "outbound", "callee", "180", "2026-11-07 10:00:00", 45, "short", ""),
    # international: zones by longest prefix, and the fallback class
    ("nordic +46 59s", "outbound", N, "+46812345678", "2026-11-03 10:00:00", 59, "international", "nordic"),
    ("nordic +46 61s", "outbound", N, "+46812345678", "2026-11-03 10:00:00", 61, "international", "nordic"),
    ("nordic +45", "outbound", N, "+4520123456", "2026-11-03 10:00:00", 300, "international", "nordic"),
    ("nordic +358 over europe +35", "outbound", N, "+358401234567", "2026-11-03 10:00:00", 120, "international", "nordic"),
    ("nordic +354 over europe +35", "outbound", N, "+3545551234", "2026-11-03 10:00:00", 121, "international", "nordic"),
    ("europe +353 via +35", "outbound", N, "+35312345678", "2026-11-03 10:00:00", 60, "international", "europe"),
    ("europe +49", "outbound", N, "+4930123456", "2026-11-03 10:00:00", 61, "international", "europe"),
    ("europe +44", "outbound", N, "+442071234567", "2026-11-07 10:00:00", 1800, "international", "europe"),
    ("europe +48 from callee 0048", "outbound", "callee", "004822123456", "2026-11-03 10:00:00", 30, "international", "europe"),
    ("world +1 2s half up", "outbound", N, "+12125551234", "2026-11-03 10:00:00", 2, "international", "world"),
    ("world +1 61s", "outbound", N, "+12125551234", "2026-11-03 10:00:00", 61, "international", "world"),
    ("world +61", "outbound", N, "+61212345678", "2026-11-03 10:00:00", 600, "international", "world"),
    ("world +86", "outbound", N, "+8613800138000", "2026-11-03 10:00:00", 37, "international", "world"),
    ("caribbean +1876 over +1", "outbound", N, "+18765551234", "2026-11-03 10:00:00", 59, "international", "caribbean"),
    ("caribbean +1268 61s", "outbound", N, "+12685551234", "2026-11-03 10:00:00", 61, "international", "caribbean"),
    ("no zone +27", "outbound", N, "+27211234567", "2026-11-03 10:00:00", 60, "international", ""),
    ("no zone +234 61s", "outbound", N, "+2348012345678", "2026-11-03 10:00:00", 61, "international", ""),
    ("no zone +37 (not +35)", "outbound", N, "+37061234567", "2026-11-03 10:00:00", 1, "international", ""),
    ("international unanswered", "outbound", N, "+12125551234", "", 0, "international", "world"),
    # always free
    ("internal 1h", "internal", N, "2001", "2026-11-03 10:00:00", 3600, "internal", ""),
    ("internal evening", "internal", N, "2002", "2026-11-03 20:00:00", 60, "internal", ""),
    ("internal unanswered", "internal", N, "2003", "", 0, "internal", ""),
    ("inbound from mobile", "inbound", N, "2001", "2026-11-03 10:00:00", 600, "inbound", ""),
    ("inbound from abroad", "inbound", N, "2001", "2026-11-07 10:00:00", 61, "inbound", ""),
    ("inbound unanswered", "inbound", N, "2001", "", 0, "inbound", ""),
    ("emergency 112", "emergency", N, "+47112", "2026-11-03 10:00:00", 300, "emergency", ""),
    ("emergency 113 night", "emergency", N, "+47113", "2026-11-04 03:00:00", 900, "emergency", ""),
    ("emergency 110 weekend", "emergency", N, "+47110", "2026-11-07 03:00:00", 61, "emergency", ""),
    ("outbound dialled 112 is emergency", "outbound", N, "+47112", "2026-11-03 10:00:00", 120, "emergency", ""),
    ("outbound callee 0112 is emergency", "outbound", "callee", "0112", "2026-11-03 10:00:00", 120, "emergency", ""),
    # unanswered junk costs nothing and needs no class
    ("unanswered junk number", "outbound", N, "12ab", "", 0, "", ""),
    ("unanswered incomplete number", "outbound", N, "+47223", "", 0, "", ""),
    # more day-rate mobile sums to reach a realistic spread
    ("mobile day 37s", "outbound", N, "+4745678901", "2026-11-02 11:11:11", 37, "mobile", ""),
    ("mobile day 250s half up", "outbound", N, "+4745678901", "2026-11-02 11:11:11", 250, "mobile", ""),
    ("mobile day 999s", "outbound", N, "+4799887766", "2026-11-06 16:00:00", 999, "mobile", ""),
    ("national 7201s", "outbound", N, "+4751234567", "2026-11-06 09:00:00", 7201, "national", ""),
    ("shared-cost weekend 1s", "outbound", N, "+4781099999", "2026-11-08 12:00:00", 1, "shared-cost", ""),
    ("premium evening 61s", "outbound", N, "+4782055555", "2026-11-02 22:00:00", 61, "premium", ""),
]


def main():
    assert len(CASES) == 100, len(CASES)
    w = csv.writer(sys.stdout, delimiter=";", lineterminator="\n")
    w.writerow(["case", "direction", "field", "number", "answer_oslo", "answer_utc",
                "billable_seconds", "class", "zone", "band", "price_ore", "working"])
    for name, direction, field, number, ans, secs, cls, zone in CASES:
        local = None
        utc = ""
        if ans:
            local = datetime.strptime(ans, "%Y-%m-%d %H:%M:%S").replace(tzinfo=OSLO)
            utc = local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if cls == "international":
            assert zone_of(number.replace("00", "+", 1) if number.startswith("00") else number) == zone, name
        band, ore, work = rate(cls, zone, number, local, secs)
        w.writerow([name, direction, field, number, ans, utc, secs, cls, zone, band, ore, work])


if __name__ == "__main__":
    main()
