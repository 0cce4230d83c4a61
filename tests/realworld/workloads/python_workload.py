"""A deterministic Python workload for tests/realworld/python.sh.

It exercises the allocator the way ordinary Python programs do: JSON, sorting, big dicts and
sets of strings, regular expressions, objects, itertools, zlib, hashlib, a thread pool,
big integers, bytearrays that grow by realloc, ctypes (callbacks from C, structures with
16-byte-aligned members, which the C extension stores with aligned vector instructions),
and a lot of short-lived garbage. Every line
it prints depends only on the computation, never on addresses, timing or hash seeds.
"""

import bisect
import collections
import concurrent.futures
import ctypes
import ctypes.util
import dataclasses
import fractions
import functools
import gc
import hashlib
import heapq
import io
import itertools
import json
import math
import pickle
import random
import re
import struct
import sys
import zlib


def digest(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def section(name, *values):
    print(name + ":", *values)
    sys.stdout.flush()


WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
         "pi rho sigma tau upsilon phi chi psi omega").split()


def random_word(rng):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 12)))


def nested(rng, depth):
    if depth == 0:
        kind = rng.randrange(5)
        if kind == 0:
            return rng.randint(-10**9, 10**9)
        if kind == 1:
            return round(rng.uniform(-1e6, 1e6), 6)
        if kind == 2:
            return random_word(rng) + " \u00e9\u4e2d\U0001f600"
        if kind == 3:
            return rng.random() < 0.5
        return None
    if rng.random() < 0.5:
        return [nested(rng, depth - 1) for _ in range(rng.randint(1, 6))]
    return {random_word(rng): nested(rng, depth - 1) for _ in range(rng.randint(1, 6))}


def json_section():
    rng = random.Random(1)
    document = {"items": [nested(rng, 5) for _ in range(60)], "name": "realworld"}
    text = json.dumps(document, sort_keys=True)
    pretty = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    back = json.loads(text)
    assert back == document
    assert json.loads(pretty) == document
    again = json.dumps(back, sort_keys=True)
    section("json", len(text), len(pretty), digest(text), digest(pretty), again == text)


def sorting_section():
    rng = random.Random(2)
    numbers = [rng.randint(0, 10**6) for _ in range(150000)]
    ordered = sorted(numbers)
    numbers.sort(reverse=True)
    strings = [random_word(rng) for _ in range(60000)]
    by_key = sorted(strings, key=lambda s: (len(s), s[::-1]))
    pairs = sorted(zip(strings, range(len(strings))), key=lambda p: p[0])
    position = bisect.bisect_left(ordered, 500000)
    section("sort", ordered[0], ordered[-1], ordered[75000], numbers[0], position,
            digest(",".join(by_key)), pairs[0][1], pairs[-1][1])


def dict_set_section():
    rng = random.Random(3)
    keys = ["key-%d-%s" % (i, random_word(rng)) for i in range(120000)]
    table = {key: i for i, key in enumerate(keys)}
    for key in keys[::3]:
        del table[key]
    for i in range(0, 120000, 7):
        table["extra-%d" % i] = -i
    counts = collections.Counter(key.rsplit("-", 1)[1][:2] for key in keys)
    left = set(keys[:80000])
    right = set(keys[40000:])
    sym = left ^ right
    frozen = frozenset(k[:5] for k in keys)
    ordered_dict = collections.OrderedDict((k, len(k)) for k in keys[:5000])
    ordered_dict.move_to_end(keys[0])
    section("dict", len(table), sum(table.values()), counts.most_common(3)[0][1],
            len(left & right), len(left | right), len(sym), len(frozen),
            next(reversed(ordered_dict)) == keys[0],
            digest("|".join(sorted(table)[:1000])))


def regex_section():
    rng = random.Random(4)
    lines = []
    for i in range(20000):
        lines.append("%s user=%s id=%d mail=%s@%s.org value=%0.3f" % (
            rng.choice(WORDS), random_word(rng), rng.randint(0, 99999), random_word(rng),
            rng.choice(WORDS), rng.uniform(0, 1000)))
    text = "\n".join(lines)
    mails = re.findall(r"mail=([a-z]+)@([a-z]+)\.org", text)
    ids = [int(m.group(1)) for m in re.finditer(r"\bid=(\d+)", text)]
    replaced = re.sub(r"value=(\d+)\.(\d+)", lambda m: "v=" + m.group(2) + m.group(1), text)
    split = re.split(r"\s+", text)
    greek = collections.Counter(m.group(0) for m in re.finditer(r"^\w+", text, re.MULTILINE))
    pattern_cache = [re.compile(r"%s\s+user=(\w{%d,})" % (w, n)) for w in WORDS for n in (3, 6)]
    hits = sum(len(p.findall(text)) for p in pattern_cache)
    section("regex", len(mails), sum(ids), digest(replaced), len(split),
            greek.most_common(1)[0][1], hits)


class Shape:
    registry = collections.Counter()

    def __init__(self, name):
        self.name = name
        Shape.registry[type(self).__name__] += 1

    def area(self):
        raise NotImplementedError

    def describe(self):
        return "%s(%s)=%s" % (type(self).__name__, self.name, self.area())


class Rectangle(Shape):
    def __init__(self, name, width, height):
        super().__init__(name)
        self.width, self.height = width, height

    def area(self):
        return fractions.Fraction(self.width) * self.height


class Square(Rectangle):
    def __init__(self, name, side):
        super().__init__(name, side, side)


class Triangle(Shape):
    __slots__ = ("base", "height")

    def __init__(self, name, base, height):
        super().__init__(name)
        self.base, self.height = base, height

    def area(self):
        return fractions.Fraction(self.base * self.height, 2)


@dataclasses.dataclass(order=True, frozen=True)
class Point:
    x: int
    y: int
    tags: tuple = ()


def objects_section():
    rng = random.Random(5)
    shapes = []
    for i in range(30000):
        kind = i % 3
        if kind == 0:
            shapes.append(Rectangle("r%d" % i, rng.randint(1, 50), rng.randint(1, 50)))
        elif kind == 1:
            shapes.append(Square("s%d" % i, rng.randint(1, 50)))
        else:
            shapes.append(Triangle("t%d" % i, rng.randint(1, 50), rng.randint(1, 50)))
    total = sum((s.area() for s in shapes), fractions.Fraction(0))
    largest = max(shapes, key=lambda s: (s.area(), s.name))
    points = sorted(Point(rng.randint(0, 100), rng.randint(0, 100), (random_word(rng),))
                    for _ in range(20000))
    unique = len(set(points))
    # Reference cycles for the garbage collector.
    for _ in range(3):
        ring = [{"next": None, "payload": [0] * 10} for _ in range(20000)]
        for a, b in zip(ring, ring[1:] + ring[:1]):
            a["next"] = b
        del ring
    collected = gc.collect() >= 0
    section("objects", total, largest.describe(), points[0], points[-1], unique,
            sorted(Shape.registry.items()), collected)


def itertools_section():
    perms = sum(1 for p in itertools.permutations(range(8)) if p[0] < p[-1])
    combos = [sum(c) for c in itertools.combinations(range(22), 4)]
    product = collections.Counter(a * b % 17 for a, b in itertools.product(range(300), repeat=2))
    groups = [(k, len(list(g))) for k, g in itertools.groupby(sorted(WORDS * 50, key=len), key=len)]
    acc = list(itertools.accumulate(range(1, 20000), lambda a, b: (a * 31 + b) % 1000003))
    chained = list(itertools.islice(itertools.chain.from_iterable(
        itertools.repeat(w, 3) for w in itertools.cycle(WORDS)), 5000))
    pairs = list(itertools.zip_longest(range(7), "abc", fillvalue="-"))
    section("itertools", perms, len(combos), sum(combos), product.most_common(1)[0], groups,
            acc[-1], digest("".join(chained)), pairs[-1])


def make_blob(seed, size):
    rng = random.Random(seed)
    parts = []
    total = 0
    while total < size:
        part = (rng.choice(WORDS) + " ") * rng.randint(1, 20) + random_word(rng) + "\n"
        parts.append(part)
        total += len(part)
    return "".join(parts).encode("ascii")[:size]


def zlib_hashlib_section():
    blob = make_blob(6, 3 * 1024 * 1024)
    results = []
    for level in (1, 6, 9):
        packed = zlib.compress(blob, level)
        assert zlib.decompress(packed) == blob
        results.append((level, len(packed), zlib.crc32(packed)))
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    stream = b"".join(compressor.compress(blob[i:i + 65536]) for i in range(0, len(blob), 65536))
    stream += compressor.flush()
    decompressor = zlib.decompressobj(-15)
    out = io.BytesIO()
    for i in range(0, len(stream), 4096):
        out.write(decompressor.decompress(stream[i:i + 4096]))
    out.write(decompressor.flush())
    assert out.getvalue() == blob
    hashes = [hashlib.new(name, blob).hexdigest()[:20] for name in ("md5", "sha1", "sha256",
                                                                     "sha512", "blake2b", "sha3_256")]
    incremental = hashlib.sha256()
    for i in range(0, len(blob), 1000):
        incremental.update(blob[i:i + 1000])
    assert incremental.hexdigest() == hashlib.sha256(blob).hexdigest()
    section("zlib", results, len(stream), zlib.adler32(blob))
    section("hashlib", hashes)


def chunk_work(index):
    rng = random.Random(100 + index)
    data = bytearray()
    for _ in range(2000):
        data += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    words = collections.Counter(random_word(rng) for _ in range(3000))
    packed = zlib.compress(bytes(data))
    return index, len(data), hashlib.sha1(packed).hexdigest()[:12], len(words)


def threads_section():
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(chunk_work, range(16)))
    section("threads", results[:3], sum(r[1] for r in results), digest(repr(results)))


def numbers_section():
    big = math.factorial(3000)
    fib = [0, 1]
    for _ in range(3000):
        fib.append(fib[-1] + fib[-2])
    powers = pow(3, 20000, 10**40 + 7)
    heap = []
    rng = random.Random(7)
    for i in range(50000):
        heapq.heappush(heap, (rng.random(), i))
    smallest = [heapq.heappop(heap)[1] for _ in range(5)]
    dq = collections.deque(maxlen=1000)
    for i in range(100000):
        dq.append(i * i)
    raw = b"".join(struct.pack("<iqd", i, i * i, i / 7) for i in range(20000))
    unpacked = [struct.unpack_from("<iqd", raw, i * 20) for i in range(0, 20000, 997)]
    pickled = pickle.dumps({"fib": fib[-50:], "smallest": smallest, "unpacked": unpacked},
                           protocol=4)
    growing = bytearray()
    for i in range(200000):
        growing.extend(b"x" * (i % 13))
    text = io.StringIO()
    for i in range(50000):
        text.write("line %d\n" % i)
    section("numbers", len(hex(big)), digest(hex(big)), len(hex(fib[-1])), powers, smallest,
            dq[0], len(raw), unpacked[3], digest(pickle.loads(pickled)["fib"].__repr__()),
            len(growing), len(text.getvalue()))


@functools.lru_cache(maxsize=None)
def partitions(n, k):
    if n == 0:
        return 1
    if n < 0 or k == 0:
        return 0
    return partitions(n - k, k) + partitions(n, k - 1)


def churn_section():
    # Short-lived garbage of every size class, interleaved so the heap fragments.
    rng = random.Random(8)
    keep = []
    checksum = 0
    for round_ in range(40):
        batch = [bytes(rng.randint(1, 5000)) for _ in range(800)]
        strings = ["%d:%s" % (i, "y" * (i % 300)) for i in range(2000)]
        keep.append(batch[::50])
        keep.append(strings[::200])
        checksum += sum(len(b) for b in batch) + sum(len(s) for s in strings)
        if len(keep) > 30:
            keep = keep[10:]
    lists = [[i] * (i % 100) for i in range(20000)]
    section("churn", checksum, sum(len(x) for x in keep), sum(map(len, lists)),
            partitions(120, 120))


def ctypes_section():
    # Callback objects, pointers and structures: ctypes keeps a 16-byte-aligned union in
    # every one of its objects, and their sizes are multiples of 8 only (a subclass adds
    # slots), so an allocator that aligns a block of 16 bytes or more to less than 16 breaks
    # them. qsort calls back into Python for every comparison.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    comparator_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                       ctypes.POINTER(ctypes.c_int))

    class Sample(ctypes.Structure):
        _fields_ = [("weight", ctypes.c_longdouble), ("count", ctypes.c_int),
                    ("name", ctypes.c_char * 13)]

    rng = random.Random(9)
    checksum = 0
    calls = [0]
    for round_ in range(60):
        values = [rng.randint(-10**6, 10**6) for _ in range(200)]
        array = (ctypes.c_int * len(values))(*values)

        def compare(a, b):
            calls[0] += 1
            return (a[0] > b[0]) - (a[0] < b[0])

        comparator = comparator_type(compare)
        libc.qsort(array, len(array), ctypes.sizeof(ctypes.c_int), comparator)
        if list(array) != sorted(values):
            raise SystemExit("ctypes: qsort through a Python callback sorted wrongly")
        samples = [Sample(i / 3, i, b"s%d" % i) for i in range(100)]
        pointers = [ctypes.pointer(sample) for sample in samples]
        checksum += sum(p.contents.count for p in pointers) + array[0] + array[-1]
        checksum += int(sum(sample.weight for sample in samples))
    section("ctypes", checksum, calls[0] > 0)


def main():
    json_section()
    sorting_section()
    dict_set_section()
    regex_section()
    objects_section()
    itertools_section()
    zlib_hashlib_section()
    ctypes_section()
    threads_section()
    numbers_section()
    churn_section()
    print("done")


if __name__ == "__main__":
    main()
