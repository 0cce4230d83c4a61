# Writes the SQL script for tests/realworld/sqlite.sh to stdout. Deterministic: its only
# randomness is a fixed linear congruential generator.
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return int(seed / 65536) % n }
function word(   len, s, i) {
  len = 3 + rnd(9); s = ""
  for (i = 0; i < len; i++) s = s substr("abcdefghijklmnopqrstuvwxyz", 1 + rnd(26), 1)
  return s
}
BEGIN {
  seed = 20240601
  ncustomers = 2000; nproducts = 300; norders = 8000; nitems = 24000; ndocs = 1500
  print "PRAGMA journal_mode=DELETE;"
  print "PRAGMA foreign_keys=ON;"
  print "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, tier INTEGER, notes TEXT);"
  print "CREATE TABLE products(id INTEGER PRIMARY KEY, title TEXT NOT NULL, category TEXT, price_cents INTEGER, weight REAL);"
  print "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), day INTEGER, status TEXT);"
  print "CREATE TABLE order_items(order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER, PRIMARY KEY(order_id, product_id)) WITHOUT ROWID;"
  print "CREATE TABLE documents(id INTEGER PRIMARY KEY, body TEXT, payload BLOB);"
  print "BEGIN TRANSACTION;"
  split("berlin lisbon oslo quito lima kyoto perth accra dakar hanoi", cities, " ")
  split("tools books games food garden music sports toys", categories, " ")
  split("new paid shipped returned", statuses, " ")
  for (i = 1; i <= ncustomers; i++)
    printf "INSERT INTO customers VALUES(%d, '%s %s', '%s', %d, %s);\n", i, word(), word(), cities[1 + rnd(10)], rnd(4), (rnd(3) == 0 ? "NULL" : "'" word() " " word() " " word() "'")
  for (i = 1; i <= nproducts; i++)
    printf "INSERT INTO products VALUES(%d, '%s-%d', '%s', %d, %d.%02d);\n", i, word(), i, categories[1 + rnd(8)], 100 + rnd(50000), rnd(40), rnd(100)
  for (i = 1; i <= norders; i++)
    printf "INSERT INTO orders VALUES(%d, %d, %d, '%s');\n", i, 1 + rnd(ncustomers), rnd(365), statuses[1 + rnd(4)]
  n = 0
  for (i = 1; n < nitems; i++) {
    order = 1 + (i % norders); product = 1 + rnd(nproducts); key = order SUBSEP product
    if (key in seen) continue
    seen[key] = 1; n++
    printf "INSERT INTO order_items VALUES(%d, %d, %d);\n", order, product, 1 + rnd(9)
  }
  for (i = 1; i <= ndocs; i++) {
    body = ""
    len = 5 + rnd(200)
    for (j = 0; j < len; j++) body = body word() " "
    printf "INSERT INTO documents VALUES(%d, '%s', zeroblob(%d));\n", i, body, rnd(20000)
  }
  print "COMMIT;"
  print "CREATE INDEX orders_by_customer ON orders(customer_id, day);"
  print "CREATE INDEX items_by_product ON order_items(product_id);"
  print "CREATE INDEX customers_by_city ON customers(city, tier);"
  print "CREATE UNIQUE INDEX products_by_title ON products(title);"
  print "ANALYZE;"
  print ".print == counts"
  print "SELECT 'customers', count(*), NULL FROM customers UNION ALL SELECT 'products', count(*), NULL FROM products UNION ALL SELECT 'orders', count(*), NULL FROM orders UNION ALL SELECT 'items', count(*), sum(quantity) FROM order_items;"
  print ".print == revenue by category"
  print "SELECT p.category, count(DISTINCT o.id), sum(i.quantity * p.price_cents) FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id GROUP BY p.category ORDER BY 3 DESC;"
  print ".print == top customers per city"
  print "SELECT city, name, total FROM (SELECT c.city, c.name, sum(i.quantity * p.price_cents) AS total, row_number() OVER (PARTITION BY c.city ORDER BY sum(i.quantity * p.price_cents) DESC, c.id) AS rank FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id GROUP BY c.id) WHERE rank <= 2 ORDER BY city, rank;"
  print ".print == busy customers"
  print "SELECT c.tier, count(*) FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) >= 5 GROUP BY c.tier HAVING count(*) > 10 ORDER BY c.tier;"
  print ".print == recursive cte"
  print "WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL SELECT n + 1, b, a + b FROM fib WHERE n < 80) SELECT n, a FROM fib WHERE n % 10 = 0;"
  print "WITH RECURSIVE series(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM series WHERE x < 20000), buckets AS (SELECT x % 97 AS b, count(*) AS n, group_concat(x, ',') AS xs FROM series GROUP BY b) SELECT count(*), sum(n), sum(length(xs)), max(length(xs)) FROM buckets;"
  print ".print == monthly running totals"
  print "WITH monthly AS (SELECT o.day / 30 AS month, sum(i.quantity) AS units FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY month) SELECT month, units, sum(units) OVER (ORDER BY month) FROM monthly ORDER BY month;"
  print ".print == text"
  print "SELECT count(*), sum(length(body)), sum(length(payload)), max(length(replace(body, 'a', 'AAAA'))) FROM documents;"
  print "SELECT count(*) FROM documents WHERE body LIKE '%abc%' OR body GLOB '*xyz*';"
  print "SELECT substr(group_concat(upper(substr(body, 1, 8)), '|'), 1, 120) FROM (SELECT body FROM documents ORDER BY id LIMIT 40);"
  print "SELECT json_array_length(json_group_array(json_object('id', id, 'n', length(body)))) FROM documents;"
  print "SELECT city, json_group_array(name) FROM (SELECT city, name FROM customers WHERE tier = 3 ORDER BY id LIMIT 25) GROUP BY city ORDER BY city;"
  print ".print == update and delete"
  print "BEGIN;"
  print "UPDATE products SET price_cents = price_cents * 11 / 10 WHERE category IN ('books', 'games');"
  print "UPDATE customers SET notes = coalesce(notes, '') || ' updated' WHERE tier = 0;"
  print "UPDATE documents SET body = body || body WHERE id % 5 = 0;"
  print "DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE status = 'returned');"
  print "DELETE FROM orders WHERE status = 'returned';"
  print "DELETE FROM documents WHERE id % 7 = 0;"
  print "COMMIT;"
  print "SELECT count(*), sum(price_cents) FROM products;"
  print "SELECT count(*), sum(length(notes)) FROM customers WHERE notes LIKE '%updated';"
  print "SELECT count(*) FROM orders; SELECT count(*), sum(quantity) FROM order_items;"
  print "SELECT count(*), sum(length(body)) FROM documents;"
  print "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status;"
  print ".print == rollback"
  print "BEGIN; DELETE FROM customers WHERE id NOT IN (SELECT customer_id FROM orders); SELECT changes() > 0; ROLLBACK;"
  print "SELECT count(*) FROM customers;"
  print ".print == temp table and sort"
  print "CREATE TEMP TABLE words AS WITH RECURSIVE split(rest, w) AS (SELECT body || ' ', '' FROM documents WHERE id <= 200 UNION ALL SELECT substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1) FROM split WHERE rest <> '') SELECT w FROM split WHERE w <> '';"
  print "SELECT count(*), count(DISTINCT w) FROM words;"
  print "SELECT w, count(*) FROM words GROUP BY w ORDER BY count(*) DESC, w LIMIT 5;"
  print "SELECT group_concat(w, ' ') FROM (SELECT DISTINCT w FROM words ORDER BY length(w) DESC, w LIMIT 10);"
  print ".print == integrity"
  print "VACUUM;"
  print "PRAGMA integrity_check;"
  print "PRAGMA foreign_key_check;"
}
