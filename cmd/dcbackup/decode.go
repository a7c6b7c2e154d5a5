package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"filippo.io/age"

	"github.com/dcbackup/dcbackup"
)

// decodeFlags are the flags of the commands that decode payloads: the
// identities that open encrypted segments and the decode size limit.
type decodeFlags struct {
	identities       fileList
	maxDecoded       byteSize
	allowUnencrypted bool
}

func addDecodeFlags(fs *flag.FlagSet) *decodeFlags {
	f := &decodeFlags{maxDecoded: dcbackup.DefaultMaxDecodedBytes}
	fs.Var(&f.identities, "identity", "age identity `FILE` (age-keygen's key file) that opens encrypted segments; repeat for several (after a key rotation, give the old and the new)")
	fs.Var(&f.maxDecoded, "max-decoded", "refuse a segment whose payload decodes to more than `BYTES` (suffixes KiB, MiB, GiB)")
	fs.BoolVar(&f.allowUnencrypted, "allow-unencrypted", false, "with -identity, accept unencrypted segments too (a store that was not always encrypted)")
	return f
}

// options reads the identity files and returns the decode options.
func (f *decodeFlags) options() (dcbackup.DecodeOptions, error) {
	opts := dcbackup.DecodeOptions{MaxDecodedBytes: int64(f.maxDecoded), AllowUnencrypted: f.allowUnencrypted}
	for _, name := range f.identities {
		ids, err := readIdentities(name)
		if err != nil {
			return opts, err
		}
		opts.Identities = append(opts.Identities, ids...)
	}
	return opts, nil
}

func readIdentities(name string) ([]age.Identity, error) {
	file, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("-identity: %w", err)
	}
	defer file.Close()
	ids, err := age.ParseIdentities(file)
	if err != nil {
		return nil, fmt.Errorf("-identity %s: %w", name, err)
	}
	return ids, nil
}

// fileList is a repeatable flag of names (files, keys).
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

// byteSize is a flag holding a number of bytes, with an optional binary
// suffix.
type byteSize int64

func (b *byteSize) String() string {
	if b == nil {
		return ""
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// parseBytes parses "1048576", "512KiB", "256MiB", "1GiB" (also K, M, G).
func parseBytes(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGiBkmgb")
	mult := int64(1)
	switch strings.ToLower(strings.TrimSpace(s[len(num):])) {
	case "", "b":
	case "k", "kib", "kb":
		mult = 1 << 10
	case "m", "mib", "mb":
		mult = 1 << 20
	case "g", "gib", "gb":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("%q: want a number of bytes, e.g. 268435456 or 256MiB", s)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a positive number of bytes, e.g. 268435456 or 256MiB", s)
	}
	return n * mult, nil
}
