package dcbackup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
)

// RecipientFingerprint returns the public name of an age recipient, as
// segment headers list it: the hex of the first 8 bytes of the SHA-256 of
// its text form (the "age1..." string of an X25519 or hybrid recipient, or
// whatever String returns). A recipient without a text form (one that is
// not a fmt.Stringer, such as an *age.ScryptRecipient) is named by its Go
// type in parentheses. The fingerprint tells which key a segment needs
// without telling the key.
func RecipientFingerprint(r age.Recipient) string {
	if s, ok := r.(fmt.Stringer); ok && r != nil {
		return textFingerprint(s.String())
	}
	return fmt.Sprintf("(%T)", r)
}

// IdentityFingerprint returns the fingerprint (see RecipientFingerprint)
// of the recipient that identity id opens: for *age.X25519Identity,
// *age.HybridIdentity and any identity with a Recipient method returning
// an age.Recipient. It returns "" for an identity whose recipient it
// cannot tell.
func IdentityFingerprint(id age.Identity) string {
	switch i := id.(type) {
	case *age.X25519Identity:
		return RecipientFingerprint(i.Recipient())
	case *age.HybridIdentity:
		return RecipientFingerprint(i.Recipient())
	case interface{ Recipient() age.Recipient }:
		return RecipientFingerprint(i.Recipient())
	}
	return ""
}

func textFingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// sealer encrypts bodies to a fixed set of recipients.
type sealer struct {
	recipients   []age.Recipient
	fingerprints []string
	buf          bytes.Buffer
}

func newSealer(recipients []age.Recipient) (*sealer, error) {
	if len(recipients) == 0 {
		return nil, nil
	}
	s := &sealer{recipients: slices.Clone(recipients)}
	for i, r := range recipients {
		if r == nil {
			return nil, fmt.Errorf("dcbackup: recipient %d is nil", i)
		}
		fp := RecipientFingerprint(r)
		if len(fp) > maxFingerprintLen {
			return nil, fmt.Errorf("dcbackup: recipient %d: fingerprint %q longer than %d bytes", i, fp, maxFingerprintLen)
		}
		s.fingerprints = append(s.fingerprints, fp)
	}
	// Fail now, not at the first segment, for recipients age refuses to
	// mix (post-quantum and classic, or a scrypt recipient with others).
	w, err := age.Encrypt(io.Discard, s.recipients...)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: age: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("dcbackup: age: %w", err)
	}
	return s, nil
}

// begin starts the encryption of a body of plainLen bytes and returns its
// encrypted length; the body is then written to the returned writer.
func (s *sealer) begin(plainLen int) (io.WriteCloser, int, error) {
	s.buf.Reset()
	w, err := age.Encrypt(&s.buf, s.recipients...)
	if err != nil {
		return nil, 0, fmt.Errorf("age: %w", err)
	}
	return w, s.buf.Len() + ageStreamLen(plainLen), nil
}

// ageStreamLen is the size of age's STREAM encryption of n bytes after its
// header and nonce: 64 KiB chunks (at least one), 16 bytes of tag each.
func ageStreamLen(n int) int {
	const chunk, tag = 64 << 10, 16
	chunks := max((n+chunk-1)/chunk, 1)
	return n + chunks*tag
}

// openBody decrypts body into dst[:0] (reused when large enough) and returns
// the plaintext. h is the segment's verified header, for the recipients it
// names.
func openBody(body []byte, ids []age.Identity, h *SegmentHeader, dst []byte) ([]byte, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: it is encrypted to %s, and no identity was given", ErrNoKey, recipientList(h.Recipients))
	}
	r, err := age.Decrypt(bytes.NewReader(body), ids...)
	if err != nil {
		if nm := (*age.NoIdentityMatchError)(nil); errors.As(err, &nm) {
			return nil, noKey(ids, h)
		}
		return nil, corruptf("age: %v", err)
	}
	// The plaintext is shorter than the body.
	if cap(dst) < len(body) {
		dst = make([]byte, 0, len(body))
	}
	dst = dst[:0]
	for {
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, corruptf("age: %v", err)
		}
		if len(dst) == cap(dst) {
			return nil, corruptf("age: plaintext longer than its ciphertext")
		}
	}
}

// noKey is the error of identities that do not open a segment. If one of
// them is a recipient the header names, its stanza did not open: the
// segment was damaged or forged after its checksums were computed.
func noKey(ids []age.Identity, h *SegmentHeader) error {
	var given []string
	for _, id := range ids {
		fp := IdentityFingerprint(id)
		if fp != "" && slices.Contains(h.Recipients, fp) {
			return corruptf("identity %s is a recipient of the segment but does not open it: the segment was altered", fp)
		}
		if fp == "" {
			fp = fmt.Sprintf("(%T)", id)
		}
		given = append(given, fp)
	}
	return fmt.Errorf("%w: it is encrypted to %s; the identities given are %s", ErrNoKey, recipientList(h.Recipients), strings.Join(given, ", "))
}

func recipientList(fps []string) string {
	if len(fps) == 1 {
		return "recipient " + fps[0]
	}
	return "recipients " + strings.Join(fps, ", ")
}
