#!/usr/bin/env python3
"""Checks the generated tables (run by `make gazetteer` after the build; exit
1 on any failure).

- Format: gazetteer.gen.tsv.gz is '#' comment lines then TYPE<TAB>phrase with
  a known TYPE; clusters.gen.tsv.gz is word<TAB>bits (bits of 0 and 1), one
  row per word, no comment lines.
- Coverage: the issue-17 seed places resolve in places.tsv to the right
  country within 50 km of independent reference points (approximate WGS84
  coordinates of the real places, not read from any input), and are LOC
  phrases of the gazetteer where their population passes its cut; the
  demonyms of the seed and their plurals are DEMONYM phrases.
- Suffixes: the common legal forms are there, written as they are written;
  ambiguous short words are not.
- Size: the committed gzip files stay small.

Resolution in places.tsv is the naive one a geocoder may start from: exact
match on name or alternate, country kind first, then the largest population.
"""
import argparse
import gzip
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GAZ_TYPES = {"LOC-continent", "LOC-country", "LOC-region", "LOC-city", "DEMONYM",
             "FIRST", "LAST", "ORGSUFFIX"}

REF = {  # name: (cc, lat, lon, in the gazetteer at its default population cut)
    "Idlib": ("SY", 35.93, 36.63, True), "Khan Shaykhun": ("SY", 35.44, 36.65, True),
    # an alternate name: the gazetteer keeps alternates of places of 100,000 or more
    "Khan Sheikhoun": ("SY", 35.44, 36.65, False), "Hama": ("SY", 35.13, 36.76, True),
    "Morek": ("SY", 35.38, 36.69, False), "Damascus": ("SY", 33.51, 36.29, True),
    "Ankara": ("TR", 39.93, 32.86, True), "Tehran": ("IR", 35.69, 51.39, True),
    "Greece": ("GR", 39.07, 21.82, True), "Afghanistan": ("AF", 33.94, 67.71, True),
    "Russia": ("RU", 61.52, 105.32, True), "China": ("CN", 35.86, 104.20, True),
    "Paris": ("FR", 48.86, 2.35, True), "Aleppo": ("SY", 36.20, 37.16, True),
}
DEMONYMS = ["Syrian", "Iranian", "Turkish", "Greek", "Afghan", "Russian", "Chinese",
            "Syrians", "Iranians", "Greeks", "Afghans", "Russians", "American", "Americans",
            "British", "Israeli", "Israelis", "Iraqi", "Iraqis", "Ukrainian", "Ukrainians"]
# reported, not required: irregular nouns or names no source carries
DEMONYMS_INFO = ["Turks", "Kurdish", "Kurds", "Palestinian", "Arab", "Britons"]
SUFFIXES = ["Inc", "Inc.", "Ltd", "Co", "Co.", "Corp", "LLC", "PLC", "AG", "S.A.", "GmbH",
            "SpA", "NV", "BV", "AB", "ASA", "SE", "Corporation", "Incorporated"]
# matched case-insensitively by the recogniser, so no casing of these may be a suffix
NOT_SUFFIXES = ["as", "at", "ok", "pt", "and", "a", "the", "of", "AS", "OK", "co", "company",
                "Company", "PER", "SON"]
MAX_GZ_BYTES = 800 * 1024
MAX_GEO_GZ_BYTES = 2500 * 1000


def km(a, b, c, d):
    r = math.radians
    h = math.sin(r(c - a) / 2) ** 2 + math.cos(r(a)) * math.cos(r(c)) * math.sin(r(d - b) / 2) ** 2
    return 6371 * 2 * math.asin(math.sqrt(h))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.dirname(HERE),
                    help="dir with gazetteer.gen.tsv.gz and clusters.gen.tsv.gz")
    ap.add_argument("--places", default=os.path.join(
        os.environ.get("NEWSFLOW_DATA_CACHE") or os.path.join(
            os.path.expanduser("~"), ".cache", "newsflow", "gazetteer"), "places.tsv"))
    args = ap.parse_args()
    bad = []

    def fail(msg):
        bad.append(msg)
        print("FAIL " + msg)

    # ---- gazetteer format
    gpath = os.path.join(args.data, "gazetteer.gen.tsv.gz")
    gaz, counts, in_head = {}, {}, True
    with gzip.open(gpath, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                if not in_head:
                    fail("%s:%d: comment after the header" % (gpath, n))
                continue
            in_head = False
            p = line.split("\t")
            if len(p) != 2 or p[0] not in GAZ_TYPES or not p[1] or p[1] != p[1].strip():
                fail("%s:%d: not TYPE<TAB>phrase: %r" % (gpath, n, line))
                continue
            gaz.setdefault(p[1], set()).add(p[0])
            counts[p[0]] = counts.get(p[0], 0) + 1
    print("gazetteer: %s" % " ".join("%s=%d" % (t, counts.get(t, 0)) for t in sorted(GAZ_TYPES)))
    for t in GAZ_TYPES:
        if not counts.get(t):
            fail("gazetteer has no %s phrase" % t)

    # ---- clusters format
    cpath = os.path.join(args.data, "clusters.gen.tsv.gz")
    words, bits = set(), re.compile(r"^[01]+$")
    with gzip.open(cpath, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            p = line.rstrip("\n").split("\t")
            if len(p) != 2 or not p[0] or not bits.match(p[1]):
                fail("%s:%d: not word<TAB>bits: %r" % (cpath, n, line))
                continue
            if p[0] in words:
                fail("%s:%d: %r twice" % (cpath, n, p[0]))
            words.add(p[0])
    print("clusters: %d words" % len(words))
    for w in ("the", "#", "Reuters", "London", "said"):
        if w not in words:
            fail("clusters: no row for %r" % w)
    if not 100000 <= len(words) <= 130000:
        fail("clusters: %d words, expected about 116,000" % len(words))

    # ---- sizes
    for p in (gpath, cpath):
        sz = os.path.getsize(p)
        print("%s: %d bytes" % (os.path.basename(p), sz))
        if sz > MAX_GZ_BYTES:
            fail("%s is %d bytes, above %d" % (p, sz, MAX_GZ_BYTES))
    # the geocoder's table (issue 17) holds every city of 5,000 or more: its own budget
    geo = os.path.join(HERE, "..", "..", "..", "geo", "data", "places.gen.tsv.gz")
    sz = os.path.getsize(geo)
    print("places.gen.tsv.gz: %d bytes" % sz)
    if sz > MAX_GEO_GZ_BYTES:
        fail("%s is %d bytes, above %d" % (geo, sz, MAX_GEO_GZ_BYTES))

    # ---- places
    idx = {}
    with open(args.places, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            p = line.rstrip("\n").split("\t")
            for n in {p[2]} | (set(p[3].split("|")) if p[3] else set()):
                idx.setdefault(n, []).append(p)
    rank = {"continent": 0, "country": 0, "city": 1, "region": 2}
    for name, (cc, lat, lon, in_gaz) in REF.items():
        c = sorted(idx.get(name, []), key=lambda p: (rank[p[1]], -int(p[8])))
        loc = sorted(t for t in gaz.get(name, ()) if t.startswith("LOC-"))
        if in_gaz and not loc:
            fail("%s is no LOC phrase of the gazetteer" % name)
        if not c:
            fail("%s not found in places.tsv" % name)
            continue
        p = c[0]
        d = km(lat, lon, float(p[6]), float(p[7]))
        ok = p[4] == cc and (d <= 50 or p[1] == "country")
        if not ok:
            fail("%s resolves to %s %s %s, %.0f km off" % (name, p[1], p[2], p[4], d))
        print("%-15s %-4s %-7s %-16s %s %9s %10s pop=%-10s %6.1f km  candidates=%d  gaz=%s" % (
            name, "ok" if ok else "BAD", p[1], p[2], p[4], p[6], p[7], p[8], d, len(c),
            ",".join(loc) or "-"))

    # ---- demonyms and suffixes
    for d in DEMONYMS:
        if "DEMONYM" not in gaz.get(d, ()):
            fail("no DEMONYM %r" % d)
    print("demonyms: " + " ".join("%s=%s" % (d, ",".join(sorted(gaz.get(d, ()))) or "-")
                                  for d in DEMONYMS))
    print("not required: " + " ".join("%s=%s" % (d, ",".join(sorted(gaz.get(d, ()))) or "-")
                                      for d in DEMONYMS_INFO))
    for s in SUFFIXES:
        if "ORGSUFFIX" not in gaz.get(s, ()):
            fail("no ORGSUFFIX %r" % s)
    for s in NOT_SUFFIXES:
        if "ORGSUFFIX" in gaz.get(s, ()):
            fail("ORGSUFFIX %r is an ordinary word" % s)

    print("check_coverage: %s" % ("%d failed" % len(bad) if bad else "all passed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
