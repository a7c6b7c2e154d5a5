// Generates testdata/golden.json: transit+json encodings written by
// transit-js, the reference implementation, for the Go reader and writer
// tests. Run from this directory after `npm install transit-js@0.8.874`
// in any directory on NODE_PATH:
//
//   NODE_PATH=/path/to/node_modules node gen.js > ../golden.json
//
// Each case is {"name", "transit"}; the Go test holds the expected value
// for each name.
"use strict";
const t = require("transit-js");

const kw = t.keyword;
const sym = t.symbol;
const cases = [];
function add(name, value, verbose) {
  const w = t.writer(verbose ? "json-verbose" : "json");
  cases.push({ name: name, transit: w.write(value) });
}

// Scalars (written as quoted top-level values).
add("nil", null);
add("true", true);
add("false", false);
add("zero", 0);
add("negative", -42);
add("max-safe", 9007199254740991);
add("min-safe", -9007199254740991);
add("long-2^53", t.integer("9007199254740992"));
add("long-2^53+1", t.integer("9007199254740993"));
add("long-eid", t.integer("4611681620380877805"));
add("long-min", t.integer("-9223372036854775808"));
add("long-max", t.integer("9223372036854775807"));
add("double", 1.5);
add("double-small", -2.25e-10);
add("double-nan", NaN);
add("double-inf", Infinity);
add("double-neg-inf", -Infinity);
add("string", "hello");
add("string-empty", "");
add("string-unicode", "h\u00e9llo \u4e16\u754c \ud83d\ude00");
add("string-escapes", "quote\" backslash\\ newline\n tab\t ctl\u0001");
add("string-tilde", "~:not-a-keyword");
add("string-caret", "^ not a map");
add("string-backtick", "`reserved");
add("keyword", kw("db/ident"));
add("keyword-short", kw("a"));
add("symbol", sym("?e"));
add("bigint", t.bigInt("123456789012345678901234567890"));
add("bigint-small", t.bigInt("5"));
add("bigdec", t.bigDec("1.50"));
add("bigdec-negative", t.bigDec("-0.0010"));
add("bigdec-integer", t.bigDec("42"));
add("instant", new Date(1577836800000));
add("instant-verbose", new Date(1577836800123), true);
add("instant-before-epoch", new Date(-86400000));
add("uuid", t.uuid("5f0c4d5e-1b7a-4c5d-9e8f-0123456789ab"));
add("uri", t.uri("https://example.com/a?b=c"));
add("bytes", t.binary("AAEC/f7/"));

// Composites.
add("vector", [1, "two", kw("three"), [4, [5]]]);
add("vector-empty", []);
add("list", t.list([1, 2, 3]));
add("set", t.set([kw("a"), kw("b")]));
add("map", t.map([kw("db/ident"), kw("person/name"), kw("db/cardinality"), kw("db.cardinality/one")]));
add("map-empty", t.map());
add("map-string-keys", t.map(["name", "Ann", "ab", 1, "~tilde", 2]));
add("map-int-keys", t.map([1, "a", t.integer("4611681620380877805"), "b"]));
add("map-scalar-keys", t.map([true, "t", null, "nil", t.uuid("5f0c4d5e-1b7a-4c5d-9e8f-0123456789ab"), "u"]));
add("cmap", t.map([[1, 2], "pair", t.map([kw("a"), 1]), "map"]));
add("datom", t.tagged("datom", [t.integer("13194139782472"), 50, new Date(1577836800000), t.integer("13194139782472"), true]));
add("datoms", [
  t.tagged("datom", [139, 10, kw("account/id"), t.integer("13194139782472"), true]),
  t.tagged("datom", [139, 40, 56, t.integer("13194139782472"), true]),
  t.tagged("datom", [t.integer("4611681620380877805"), 62, "doc", t.integer("13194139782472"), false]),
]);
add("unknown-tag", t.tagged("point", [1, 2]));

// The cache: repeated keywords and keys, codes past one digit, rollover.
const many = [];
for (let i = 0; i < 100; i++) {
  many.push(t.map([kw("item/id"), i, kw("item/kind"), kw("kind/k" + (i % 50))]));
}
add("cache-two-digit", many);
const rollover = [];
for (let i = 0; i < 2000; i++) {
  rollover.push(kw("k/" + i));
}
for (let i = 0; i < 2000; i += 97) {
  rollover.push(kw("k/" + i));
}
add("cache-rollover", rollover);

// Request bodies of the Datomic client protocol.
const ctx = [kw("db-name"), "hello", kw("database-id"), "datomic:dev://localhost:4334/hello",
  kw("t"), 1000, kw("next-t"), 1001];
add("request-q", t.map([
  kw("offset"), 0,
  kw("query"), [kw("find"), sym("?e"), kw("in"), sym("$"), kw("where"), [sym("?e"), kw("db/ident"), kw("db/txInstant")]],
  kw("args"), [t.map(ctx)],
  kw("timeout"), 60000, kw("limit"), 1000, kw("chunk"), 1000, kw("op"), kw("q")].concat(ctx)));
add("request-transact", t.map([
  kw("op"), kw("transact"),
  kw("tx-id"), t.uuid("11111111-2222-3333-4444-555555555555"),
  kw("database-id"), "datomic:dev://localhost:4334/hello",
  kw("tx-data"), [
    [kw("db/add"), "datomic.tx", kw("db/txInstant"), new Date(1577836800000)],
    [kw("db/add"), "e17592186045418", kw("person/name"), "Ann"],
    t.map([kw("db/id"), "e17592186045419", kw("person/name"), "Bob", kw("person/likes"), [kw("cheese"), kw("wine")]]),
  ]].concat(ctx)));
add("response-tx-range", t.map([
  kw("data"), [
    t.map([kw("t"), 1000, kw("data"), [
      t.tagged("datom", [t.integer("13194139534312"), 50, new Date(1577836800000), t.integer("13194139534312"), true])]]),
    t.map([kw("t"), 1002, kw("data"), [
      t.tagged("datom", [t.integer("13194139534314"), 50, new Date(1577836801000), t.integer("13194139534314"), true]),
      t.tagged("datom", [17592186045418, 72, "Ann", t.integer("13194139534314"), true])]]),
  ],
  kw("chunk"), 2, kw("next-offset"), 2, kw("next-token"), t.uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
]));

process.stdout.write("[\n" + cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]\n");
