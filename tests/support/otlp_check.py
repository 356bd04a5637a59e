#!/usr/bin/env python3
"""Reads OTLP/HTTP JSON export requests (one file each, as POSTed), checks
the shape the OTLP JSON encoding requires, and prints one line per span:

  span service=S trace=T span=S parent=P name=N kind=K status=C dur_ok=1 key=value ...

Exit status 1, with the reason on stderr, when a document is not valid JSON
or breaks the encoding (ids not lowercase hex of the right length, 64-bit
numbers not decimal strings, a span missing a required field)."""
import json
import re
import sys

HEX = {32: re.compile(r"^[0-9a-f]{32}$"), 16: re.compile(r"^[0-9a-f]{16}$")}


def fail(why):
    print("otlp_check: " + why, file=sys.stderr)
    sys.exit(1)


def attributes(items):
    out = {}
    for a in items:
        value = a["value"]
        if len(value) != 1:
            fail("attribute %r has %d values" % (a["key"], len(value)))
        kind, v = next(iter(value.items()))
        if kind == "intValue":
            if not isinstance(v, str) or not re.match(r"^-?[0-9]+$", v):
                fail("intValue of %r is not a decimal string: %r" % (a["key"], v))
            v = int(v)
        elif kind != "stringValue":
            fail("unexpected value kind %r" % kind)
        out[a["key"]] = v
    return out


def check_id(span, key, digits):
    v = span[key]
    if not HEX[digits].match(v) or v == "0" * digits:
        fail("%s %r is not %d lowercase hex digits, not all zero" % (key, v, digits))
    return v


def main():
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            doc = json.loads(raw.decode("utf-8"))
        except Exception as e:  # noqa: BLE001 - any parse failure is the finding
            fail("%s: not JSON: %s" % (path, e))
        for rs in doc["resourceSpans"]:
            service = attributes(rs["resource"]["attributes"]).get("service.name")
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    trace = check_id(s, "traceId", 32)
                    span = check_id(s, "spanId", 16)
                    parent = check_id(s, "parentSpanId", 16) if "parentSpanId" in s else ""
                    start, end = s["startTimeUnixNano"], s["endTimeUnixNano"]
                    if not (isinstance(start, str) and isinstance(end, str)):
                        fail("times must be decimal strings")
                    dur_ok = int(end) >= int(start) > 10**18
                    line = "span service=%s trace=%s span=%s parent=%s name=%s kind=%s status=%s dur_ok=%d" % (
                        service, trace, span, parent, s["name"], s["kind"],
                        s.get("status", {}).get("code", 0), dur_ok)
                    for k, v in sorted(attributes(s["attributes"]).items()):
                        line += " %s=%s" % (k, v)
                    print(line)


main()
