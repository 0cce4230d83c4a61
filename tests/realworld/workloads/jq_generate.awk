# Writes a JSON array of N records (N from -v records=, default 60000) for the jq workload of
# tests/realworld/jq.sh and bench/run.py: numbers, strings, nested objects and arrays of
# varying length, deterministic: the MINSTD generator (its products stay below 2^47, exact in
# awk's doubles, where a 32-bit multiplier's would round away the low bits), not rand().
BEGIN {
  if (records == "") records = 60000
  seed = 12345
  printf "["
  for (i = 0; i < records; i++) {
    if (i) printf ","
    seed = (seed * 48271) % 2147483647
    count = seed % 12
    printf "{\"id\":%d,\"a\":%d,\"b\":\"name-%d-%x\",\"c\":[", i, seed % 10, i, seed % 65536
    for (k = 0; k < count; k++) printf "%s%d", (k ? "," : ""), (seed + k * 7919) % 1000
    printf "],\"d\":{\"x\":%.3f,\"tags\":[\"t%d\",\"u%d\"],\"ok\":%s}}", (seed % 100000) / 1000.0,
           seed % 17, seed % 23, (seed % 3 ? "true" : "false")
  }
  printf "]\n"
}
