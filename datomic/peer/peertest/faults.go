package peertest

import (
	"net/http"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/peer"
)

// Fault is a misbehaviour injected in place of a normal response.
type Fault struct {
	// Category, when set, answers with an anomaly of that category (and
	// Code, Message) with Status, or the status the server uses for it.
	Category datomic.Category
	Code     datomic.Keyword
	Message  string
	// Status, without Category or Body, answers with that status and a
	// plain-text body.
	Status int
	// Body, when set, is sent as the transit response body with Status
	// (default 200).
	Body []byte
	// Truncate runs the operation, then sends only the first half of its
	// response body (with a matching Content-Length).
	Truncate bool
	// Hang never answers: the request hangs until the server closes, and
	// its connection is then dropped without a response, so the client
	// can only give up by itself.
	Hang bool
}

// InjectFault makes the next times requests for op (e.g. "tx-range",
// "next", "transact", "status") fail with f, after their signatures are
// checked. Faults queue in the order injected.
func (s *Server) InjectFault(op string, times int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range times {
		s.faults[op] = append(s.faults[op], f)
	}
}

func (s *Server) takeFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[op]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[op] = q[1:]
	return q[0], true
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, run func() (int, transit.Map)) {
	switch {
	case f.Hang:
		<-s.closing
		panic(http.ErrAbortHandler)
	case f.Body != nil:
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", peer.ContentType)
		w.WriteHeader(status)
		_, _ = w.Write(f.Body)
	case f.Truncate:
		status, resp := run()
		b, _ := transit.Marshal(resp)
		w.Header().Set("Content-Type", peer.ContentType)
		w.WriteHeader(status)
		_, _ = w.Write(b[:len(b)/2])
	case f.Category != "":
		status := f.Status
		if status == 0 {
			status = statusOf(f.Category)
		}
		msg := f.Message
		if msg == "" {
			msg = "injected " + string(f.Category)
		}
		writeTransit(w, status, anomaly(f.Category, f.Code, msg))
	default:
		http.Error(w, "injected failure", f.Status)
	}
}
