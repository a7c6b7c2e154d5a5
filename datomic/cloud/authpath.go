package cloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
)

// maxAuthPathBytes bounds the answer to GET /.
const maxAuthPathBytes = 64 << 10

// fetchAuthPath asks the endpoint, unsigned, where the system's access
// keys are: GET / answers EDN {:s3-auth-path "<bucket>[/<prefix>]"}. It
// returns the path without s3:// and trailing slashes. Failures that may
// pass (connection errors, 5xx, 429) are retried as reads are.
func fetchAuthPath(ctx context.Context, cfg Config, httpClient *http.Client, root, host string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	busy, unavailable := 0, 0
	for {
		path, err := getAuthPath(ctx, httpClient, root, host)
		if err == nil {
			return path, nil
		}
		de, _ := err.(*datomic.Error)
		if de == nil || ctx.Err() != nil {
			return "", err
		}
		var delay time.Duration
		switch {
		case de.Category == datomic.CatBusy && busy < len(cfg.Retry.BusyDelays):
			delay = cfg.Retry.BusyDelays[busy]
			busy++
		case (de.Category == datomic.CatUnavailable || de.Category == datomic.CatInterrupted) && unavailable < cfg.Retry.UnavailableRetries:
			delay = cfg.Retry.UnavailableDelay
			unavailable++
		default:
			return "", err
		}
		cfg.Logger.LogAttrs(ctx, slogWarn, "cloud request failed, retrying", attrOp("GET /"), attrErr(err))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", err
		case <-timer.C:
		}
	}
}

func getAuthPath(ctx context.Context, httpClient *http.Client, root, host string) (string, error) {
	const what = "cloud GET /"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		cat := datomic.CatUnavailable
		if ctx.Err() != nil {
			cat = datomic.CatInterrupted
		}
		return "", &datomic.Error{Category: cat, Message: what + ": request failed", Op: -1, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthPathBytes+1))
	if err != nil {
		return "", &datomic.Error{Category: datomic.CatUnavailable, Message: what + ": response truncated", Op: -1, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		cat := datomic.CatFault
		switch {
		case resp.StatusCode == http.StatusForbidden:
			cat = datomic.CatForbidden
		case resp.StatusCode == http.StatusTooManyRequests:
			cat = datomic.CatBusy
		case resp.StatusCode >= 502 && resp.StatusCode <= 504:
			cat = datomic.CatUnavailable
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			cat = datomic.CatIncorrect
		}
		return "", &datomic.Error{Category: cat, Op: -1, Message: fmt.Sprintf("%s: HTTP %d", what, resp.StatusCode)}
	}
	bad := func(format string, args ...any) error {
		return &datomic.Error{Category: datomic.CatFault, Op: -1, Err: ErrMalformed,
			Message: what + ": " + fmt.Sprintf(format, args...) + " (is Endpoint a Datomic Cloud client endpoint?)"}
	}
	if len(body) > maxAuthPathBytes {
		return "", bad("answer larger than %d bytes", maxAuthPathBytes)
	}
	v, err := edn.Unmarshal(body)
	if err != nil {
		return "", bad("answer is not EDN: %v", err)
	}
	m, ok := v.(edn.Map)
	if !ok {
		return "", bad("answer is not a map")
	}
	p, _ := m.Keyword("s3-auth-path")
	path, ok := p.(string)
	path = strings.Trim(strings.TrimPrefix(path, "s3://"), "/")
	if !ok || path == "" {
		return "", bad("answer has no :s3-auth-path")
	}
	return path, nil
}
