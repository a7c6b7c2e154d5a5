package client

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

const anomalyNS = "cognitect.anomalies/"

var (
	kwCategory = datomic.Keyword(anomalyNS + "category")
	kwMessage  = datomic.Keyword(anomalyNS + "message")
	kwDBError  = datomic.Keyword("db/error")
)

// anomalyError converts an anomaly map into a *datomic.Error; label names
// the operation ("peer status").
func anomalyError(label string, m transit.Map) (*datomic.Error, bool) {
	v, ok := m.Get(kwCategory)
	if !ok {
		return nil, false
	}
	cat := categoryOf(v)
	msg := ""
	if s, ok := getString(m, kwMessage); ok {
		msg = s
	} else if s, ok := getString(m, datomic.Keyword("cause")); ok {
		msg = s
	}
	if msg == "" {
		msg = string(cat)
	}
	e := &datomic.Error{Category: cat, Message: label + ": " + msg, Op: -1}
	if code, ok := m.Get(kwDBError); ok {
		if k, ok := code.(datomic.Keyword); ok {
			e.Code = k
		}
	}
	return e, true
}

func categoryOf(v any) datomic.Category {
	var s string
	switch x := v.(type) {
	case datomic.Keyword:
		s = string(x)
	case string:
		s = x
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, ":"), anomalyNS)
	switch c := datomic.Category(s); c {
	case datomic.CatIncorrect, datomic.CatConflict, datomic.CatNotFound, datomic.CatForbidden,
		datomic.CatUnsupported, datomic.CatUnavailable, datomic.CatBusy, datomic.CatInterrupted,
		datomic.CatFault:
		return c
	}
	return datomic.CatFault
}

// statusError maps an HTTP status without an anomaly body to an error.
func statusError(label string, status int, body []byte) *datomic.Error {
	cat := datomic.CatFault
	switch {
	case status == http.StatusForbidden:
		cat = datomic.CatForbidden
	case status == http.StatusTooManyRequests:
		cat = datomic.CatBusy
	case status >= 502 && status <= 504:
		cat = datomic.CatUnavailable
	case status >= 400 && status < 500:
		cat = datomic.CatIncorrect
	}
	snippet := strings.TrimSpace(string(body[:min(len(body), 200)]))
	msg := fmt.Sprintf("%s: HTTP %d", label, status)
	if snippet != "" {
		msg += ": " + snippet
	}
	return &datomic.Error{Category: cat, Message: msg, Op: -1}
}

// malformed reports an unreadable response of the operation label names.
func malformed(label string, format string, args ...any) *datomic.Error {
	return &datomic.Error{
		Category: datomic.CatFault,
		Message:  label + ": " + fmt.Sprintf(format, args...),
		Op:       -1,
		Err:      ErrMalformed,
	}
}

// malformedErr wraps a decoding error of the response of the operation
// label names.
func malformedErr(label string, err error) *datomic.Error {
	return &datomic.Error{
		Category: datomic.CatFault,
		Message:  label + ": unreadable response",
		Op:       -1,
		Err:      fmt.Errorf("%w: %w", ErrMalformed, err),
	}
}

func getString(m transit.Map, k datomic.Keyword) (string, bool) {
	v, ok := m.Get(k)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func getInt(m transit.Map, k datomic.Keyword) (int64, bool) {
	v, ok := m.Get(k)
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	return n, ok
}

func getMap(m transit.Map, k datomic.Keyword) (transit.Map, bool) {
	v, ok := m.Get(k)
	if !ok {
		return nil, false
	}
	n, ok := v.(transit.Map)
	return n, ok
}
