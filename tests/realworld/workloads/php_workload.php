<?php
// A mixed PHP workload for tests/realworld/php.sh: arrays and hashes, strings, sorting,
// regular expressions, JSON, objects with destructors and cycles (PHP's own cycle
// collector), closures, generators, serialization; deterministic output.
mt_srand(12345);

$words = [];
for ($i = 0; $i < 60000; $i++) {
    $words[] = substr(md5((string)$i), 0, 3 + $i % 20);
}
$counts = array_count_values(array_map(fn($w) => $w[0], $words));
ksort($counts);
echo "first letters: ", json_encode($counts), "\n";

usort($words, fn($a, $b) => strlen($a) <=> strlen($b) ?: strcmp($a, $b));
echo "sorted: ", $words[0], " ", $words[count($words) - 1], " ", count(array_unique($words)), "\n";

$text = str_repeat("The quick brown fox jumps over the lazy dog 1234. ", 4000);
preg_match_all('/\b(\w)(\w*)\b/', $text, $matches);
echo "regex words: ", count($matches[0]), "\n";
echo "replaced: ", strlen(preg_replace_callback('/\d+/', fn($m) => strrev($m[0]) . "!", $text)), "\n";

$records = [];
for ($i = 0; $i < 20000; $i++) {
    $records[] = ['id' => $i, 'name' => "item$i", 'tags' => array_fill(0, $i % 7, "t$i"),
                  'score' => mt_rand(0, 1000) / 10];
}
$json = json_encode($records);
$decoded = json_decode($json, true);
echo "json: ", strlen($json), " bytes, ", count($decoded), " records, sum ",
     array_sum(array_column($decoded, 'score')), "\n";

class Node {
    public $next;
    public $payload;
    public static $destroyed = 0;
    public function __construct($payload) { $this->payload = $payload; }
    public function __destruct() { self::$destroyed++; }
}
for ($round = 0; $round < 200; $round++) {
    $first = new Node(str_repeat('x', $round));
    $node = $first;
    for ($i = 0; $i < 100; $i++) { $node->next = new Node([$i, $round]); $node = $node->next; }
    $node->next = $first;  // a cycle only the cycle collector frees
    unset($first, $node);
}
gc_collect_cycles();
echo "destroyed nodes: ", Node::$destroyed, "\n";

function fibonacci_generator($limit) {
    [$a, $b] = [0, 1];
    for ($i = 0; $i < $limit; $i++) { yield $a; [$a, $b] = [$b, ($a + $b) % 1000000007]; }
}
$sum = 0;
foreach (fibonacci_generator(200000) as $value) $sum = ($sum + $value) % 1000000007;
echo "fibonacci sum: $sum\n";

$map = [];
for ($i = 0; $i < 100000; $i++) $map["key" . ($i * 7919 % 100003)] = $i;
for ($i = 0; $i < 100000; $i += 2) unset($map["key" . ($i * 7919 % 100003)]);
echo "map: ", count($map), " ", array_sum($map) % 1000003, "\n";

$serialized = serialize($records);
$back = unserialize($serialized);
echo "serialize: ", strlen($serialized), " ", $back[19999]['name'], "\n";
echo "sha1: ", sha1(implode(',', $words)), "\n";
