"""A short, allocation-heavy Python workload for bench/run.py.

Builds dicts, lists, sets, strings and small objects, round-trips JSON, sorts and groups
records: the object churn typical of scripting work. Deterministic (fixed seed); checks its
own results and exits with status 1 if anything is off, so a broken allocator is noticed.

usage: python3 py_workload.py [scale]
"""
import json
import random
import sys


class Record:
    __slots__ = ("key", "name", "score", "tags")

    def __init__(self, key, name, score, tags):
        self.key = key
        self.name = name
        self.score = score
        self.tags = tags


def fail(message):
    print(f"py_workload: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def words(rng, count):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 12))) for _ in range(count)]


def records_phase(rng, count):
    vocabulary = words(rng, 2000)
    records = [
        Record(i, " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 4))),
               rng.random() * 1000, [rng.choice(vocabulary) for _ in range(rng.randint(0, 5))])
        for i in range(count)
    ]
    by_tag = {}
    for record in records:
        for tag in record.tags:
            by_tag.setdefault(tag, []).append(record.key)
    ranked = sorted(records, key=lambda r: (-r.score, r.name))
    for a, b in zip(ranked, ranked[1:]):
        if a.score < b.score:
            fail("sort order")
    total_tags = sum(len(keys) for keys in by_tag.values())
    if total_tags != sum(len(r.tags) for r in records):
        fail("tag index")
    return records


def json_phase(records):
    document = {
        "records": [
            {"key": r.key, "name": r.name, "score": round(r.score, 6), "tags": r.tags,
             "meta": {"even": r.key % 2 == 0, "label": f"item-{r.key:06d}"}}
            for r in records
        ]
    }
    for _ in range(3):
        text = json.dumps(document, sort_keys=True)
        again = json.loads(text)
        if again != document:
            fail("json round trip")
        document = again
    return len(text)


def string_phase(rng, count):
    pieces = []
    for i in range(count):
        pieces.append(f"{i}:{rng.randint(0, 1 << 30):x}:" + "x" * (i % 17))
    joined = ",".join(pieces)
    split = joined.split(",")
    if split != pieces:
        fail("join/split")
    counts = {}
    for piece in split:
        counts[piece[-1]] = counts.get(piece[-1], 0) + 1
    upper = [p.upper().replace("X", "y") for p in pieces[::3]]
    return len(joined) + len(counts) + len(upper)


def container_phase(rng, count):
    live = []
    checksum = 0
    for i in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            live.append(list(range(rng.randrange(50))))
        elif kind == 1:
            live.append({j: str(j) for j in range(rng.randrange(30))})
        elif kind == 2:
            live.append({(j, j * 2) for j in range(rng.randrange(30))})
        else:
            live.append(tuple(str(j) * 3 for j in range(rng.randrange(20))))
        if len(live) > 3000:
            victim = live.pop(rng.randrange(len(live)))
            checksum += len(victim)
    return checksum + sum(len(x) for x in live)


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rng = random.Random(20240607)
    records = records_phase(rng, int(50000 * scale) + 100)
    size = json_phase(records[: int(20000 * scale) + 100])
    strings = string_phase(rng, int(120000 * scale) + 100)
    containers = container_phase(rng, int(60000 * scale) + 100)
    print(f"py_workload: records={len(records)} json_bytes={size} strings={strings} "
          f"containers={containers}")


if __name__ == "__main__":
    main()
