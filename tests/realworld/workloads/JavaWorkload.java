// A mixed JVM workload for tests/realworld/java.sh: collections built and checked by a pool
// of threads, strings and regexes, direct byte buffers (native memory the JVM takes with
// malloc), deflate and inflate (zlib, whose buffers are malloc'd too), and objects that
// become garbage for the JVM's own collector. Prints a checksum that does not depend on
// thread scheduling.
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

public class JavaWorkload {
  static long collections(int seed) {
    Map<String, int[]> map = new HashMap<>();
    for (int i = 0; i < 60000; ++i) map.put("k" + seed + ":" + i, new int[i % 37]);
    TreeMap<Integer, String> tree = new TreeMap<>();
    for (int i = 0; i < 30000; ++i) tree.put((i * 7919 + seed) % 100003, "v" + i);
    long sum = 0;
    for (int[] value : map.values()) sum += value.length;
    for (Map.Entry<Integer, String> entry : tree.headMap(50000).entrySet())
      sum += entry.getKey() + entry.getValue().length();
    return sum;
  }

  static long nativeMemory(int seed) throws Exception {
    long sum = 0;
    CRC32 crc = new CRC32();
    for (int round = 0; round < 40; ++round) {
      ByteBuffer direct = ByteBuffer.allocateDirect(4096 + round * 1000 + seed);
      for (int i = 0; i < direct.capacity(); ++i) direct.put(i, (byte) (i * 31 + round));
      byte[] input = new byte[direct.capacity()];
      direct.get(0, input);
      Deflater deflater = new Deflater();
      deflater.setInput(input);
      deflater.finish();
      byte[] packed = new byte[input.length + 64];
      int packedLength = deflater.deflate(packed);
      deflater.end();
      Inflater inflater = new Inflater();
      inflater.setInput(packed, 0, packedLength);
      byte[] unpacked = new byte[input.length];
      int unpackedLength = inflater.inflate(unpacked);
      inflater.end();
      if (unpackedLength != input.length) throw new IllegalStateException("inflate lost bytes");
      crc.update(unpacked, 0, unpackedLength);
    }
    return sum + crc.getValue();
  }

  static long text(int seed) {
    StringBuilder builder = new StringBuilder();
    for (int i = 0; i < 20000; ++i) builder.append("item-").append(i * seed % 9973).append(';');
    Pattern pattern = Pattern.compile("item-(\\d+)7;");
    Matcher matcher = pattern.matcher(builder);
    long sum = 0;
    while (matcher.find()) sum += Long.parseLong(matcher.group(1));
    List<String> parts = new ArrayList<>();
    for (String part : builder.toString().split(";")) if (part.endsWith("1")) parts.add(part);
    return sum + String.join(",", parts).length();
  }

  public static void main(String[] arguments) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<Long>> results = new ArrayList<>();
    for (int task = 1; task <= 8; ++task) {
      final int seed = task;
      results.add(pool.submit(() -> collections(seed) + nativeMemory(seed) + text(seed)));
    }
    long total = 0;
    for (Future<Long> result : results) total += result.get();
    pool.shutdown();
    System.out.println("checksum " + total);
  }
}
