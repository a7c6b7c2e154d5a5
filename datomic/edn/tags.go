package edn

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// ParseInst parses the text of an #inst tag: an RFC 3339 timestamp of
// which every part after the year may be left out, as Clojure's reader
// allows ("1970", "1970-01", "1970-01-01T10:00", "2013-10-31T10:00:00.000-00:00").
// Missing parts take their smallest value and a missing offset means UTC.
// Fractions keep up to nanosecond precision. The result is in UTC.
func ParseInst(s string) (time.Time, error) {
	p := 0
	num := func(n int) (int, bool) {
		if p+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[p : p+n]) {
			if !isDigit(c) {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		p += n
		return v, true
	}
	bad := func() (time.Time, error) { return time.Time{}, fmt.Errorf("invalid instant %q", s) }
	year, ok := num(4)
	if !ok {
		return bad()
	}
	month, day, hour, minute, sec, nsec := 1, 1, 0, 0, 0, 0
	if p < len(s) && s[p] == '-' {
		p++
		if month, ok = num(2); !ok {
			return bad()
		}
		if p < len(s) && s[p] == '-' {
			p++
			if day, ok = num(2); !ok {
				return bad()
			}
			if p < len(s) && s[p] == 'T' {
				p++
				if hour, ok = num(2); !ok {
					return bad()
				}
				if p < len(s) && s[p] == ':' {
					p++
					if minute, ok = num(2); !ok {
						return bad()
					}
					if p < len(s) && s[p] == ':' {
						p++
						if sec, ok = num(2); !ok {
							return bad()
						}
						if p < len(s) && s[p] == '.' {
							p++
							start := p
							scale := 100_000_000
							for p < len(s) && isDigit(s[p]) {
								nsec += int(s[p]-'0') * scale
								scale /= 10
								p++
							}
							if p == start {
								return bad()
							}
						}
					}
				}
			}
		}
	}
	offset := 0
	if p < len(s) {
		switch s[p] {
		case 'Z':
			p++
		case '+', '-':
			sign := 1
			if s[p] == '-' {
				sign = -1
			}
			p++
			oh, ok1 := num(2)
			okColon := p < len(s) && s[p] == ':'
			p++
			om, ok2 := num(2)
			if !ok1 || !okColon || !ok2 || oh > 23 || om > 59 {
				return bad()
			}
			offset = sign * (oh*3600 + om*60)
		default:
			return bad()
		}
	}
	if p != len(s) || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return bad()
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

const dbIDPrefix = "#db/id[:"

// dbID turns the vector of a #db/id tag into a tempid. A partition alone,
// [:db.part/user], gives a tempid unique within the Decoder; with a negative
// number, [:db.part/user -1], equal numbers give equal tempids. Every tempid
// in :db.part/tx names the current transaction, as in Datomic.
func (d *Decoder) dbID(v any) (datomic.TempID, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case List:
		items = x
	}
	if len(items) < 1 || len(items) > 2 {
		return "", errors.New("value must be [partition] or [partition negative-number]")
	}
	part, ok := items[0].(datomic.Keyword)
	if !ok {
		return "", errors.New("partition must be a keyword")
	}
	var n int64
	if len(items) == 2 {
		if n, ok = items[1].(int64); !ok || n >= 0 {
			return "", errors.New("tempid number must be a negative integer")
		}
	}
	switch {
	case part == "db.part/tx":
		return datomic.TxTempID, nil
	case len(items) == 2:
		return datomic.TempID(fmt.Sprintf("%s%s %d]", dbIDPrefix, string(part), n)), nil
	}
	d.fresh++
	return datomic.TempID(fmt.Sprintf("%s%s]#%d", dbIDPrefix, string(part), d.fresh)), nil
}

// TempIDPartition returns the partition named in a tempid that the reader
// made from a #db/id tag, such as :db.part/db for #db/id [:db.part/db].
// It reports false for other tempids (plain strings from :db/id).
func TempIDPartition(id datomic.TempID) (datomic.Keyword, bool) {
	s, ok := strings.CutPrefix(string(id), dbIDPrefix)
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(s, " ]"); i > 0 {
		return datomic.Keyword(s[:i]), true
	}
	return "", false
}
