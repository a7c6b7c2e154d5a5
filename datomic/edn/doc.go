// Package edn reads EDN (extensible data notation) and turns Datomic
// transaction data written in it into [datomic.Op] values. It is written for
// the public sample data (the MusicBrainz batches of Datomic's mbrainz
// importer and the Day of Datomic transactions; see the repository README,
// "Sample data") and for loading such data into a [datomic.Conn].
//
// # Reader
//
// [NewDecoder] reads a stream of top-level forms, one per call to
// [Decoder.Decode]; [Unmarshal] reads exactly one. Forms decode to Go values:
//
//	nil, true, false          nil, bool
//	42, -7, +3                int64; with suffix N or beyond int64, *big.Int
//	1.5, 1e3, ##Inf, ##NaN    float64
//	1.50M                     datomic.BigDec (the scale is kept: 1.50M ≠ 1.5M)
//	"text"                    string (escapes \t \r \n \b \f \" \\ \uXXXX;
//	                          surrogate pairs are joined)
//	\a \newline \u00e9 \o101  Char
//	:ns/name                  datomic.Keyword ("ns/name", without the colon)
//	sym, ns/sym               datomic.Symbol
//	[a b]                     []any
//	(a b)                     List
//	{k v}                     Map, in the order read (keys of any type)
//	#{a b}                    Set, in the order read
//	#:ns{:a 1 :_/b 2 :x/c 3}  Map with keys :ns/a, :b, :x/c
//	#inst "..."               time.Time in UTC (RFC 3339; any suffix after the
//	                          year may be left out: "1970", "1970-01", ...)
//	#uuid "..."               datomic.UUID
//	#uri "..."                datomic.URI
//	#db/id [:db.part/user]    datomic.TempID, unique per occurrence
//	#db/id [:db.part/user -1] datomic.TempID, equal for equal numbers
//	#db/id [:db.part/tx]      datomic.TxTempID ("datomic.tx")
//	#db/fn {:lang :clojure    datomic.Fn (:lang, :params, :code as a string or a
//	  :params [..] :code ..}  form kept as EDN text, :requires, :imports)
//	#other/tag value          Tagged (kept as read)
//
// Whitespace includes commas; ';' starts a comment to the end of the line;
// #_ discards the next form. Duplicate map keys and set elements are
// errors, as EDN requires. Not supported: ratios, radix and octal integers,
// auto-resolved keywords (::k) and namespaced maps (#::{}), reader
// conditionals and the other Clojure-only reader macros ('x, @x, ^meta).
// Errors in the input are [*SyntaxError] values with line and column.
// Nesting is limited to 10000 levels so that no input can exhaust the stack.
//
// [Marshal] prints the same values back as EDN.
//
// # Transaction data
//
// [ConvertTx] turns a transaction (a vector of entity maps and list forms)
// into operations; see its documentation for how vectors are told apart
// (lookup refs, cardinality-many values, tuples) with and without a schema,
// given as [ConvertOptions.Schema]. Malformed data gives a [*TxDataError]
// that names the operation and the attributes leading to the bad value.
//
// # Loading
//
// [LoadBatches] replays MusicBrainz-style batches, {:batch-ident {...}
// :data [...]}, into a [datomic.Conn], optionally split into smaller
// transactions, and [LoadMBrainz] loads the whole sample in the importer's
// order after installing :mbrainz.initial-import/batch-id.
// [LoadTransactions] replays a stream of transaction vectors (the Day of
// Datomic files). All three convert each transaction with the schema of
// the database as it stands before it, decode the next form while the
// current one is transacted, and hold at most three top-level forms in
// memory.
package edn
