package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/dcbackup/dcbackup"
)

// encodeFlags are the flags of the commands that write segments: the age
// recipients to encrypt them to.
type encodeFlags struct {
	recipients     fileList // age1... public keys
	recipientFiles fileList
}

func addEncodeFlags(fs *flag.FlagSet) *encodeFlags {
	f := &encodeFlags{}
	fs.Var(&f.recipients, "recipient", "age public `KEY` (age1...) to encrypt written segments to; repeat for several (give all the backup encrypts to: the escrow key too)")
	fs.Var(&f.recipientFiles, "recipients-file", "`FILE` of age public keys, one per line (# comments), to encrypt written segments to; repeatable")
	return f
}

// given reports whether any recipient flag was given.
func (f *encodeFlags) given() bool { return len(f.recipients)+len(f.recipientFiles) > 0 }

// options parses the recipients and returns the encode options.
func (f *encodeFlags) options() (dcbackup.EncodeOptions, error) {
	var opts dcbackup.EncodeOptions
	for _, r := range f.recipients {
		rs, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil {
			return opts, fmt.Errorf("-recipient %q: %w", r, err)
		}
		opts.Recipients = append(opts.Recipients, rs...)
	}
	for _, name := range f.recipientFiles {
		rs, err := readRecipients(name)
		if err != nil {
			return opts, err
		}
		opts.Recipients = append(opts.Recipients, rs...)
	}
	return opts, nil
}

func readRecipients(name string) ([]age.Recipient, error) {
	file, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("-recipients-file: %w", err)
	}
	defer file.Close()
	rs, err := age.ParseRecipients(file)
	if err != nil {
		return nil, fmt.Errorf("-recipients-file %s: %w", name, err)
	}
	return rs, nil
}

// errNoRecipients refuses to decrypt segments without a key to encrypt
// what is written from them.
var errNoRecipients = errors.New("-identity without -recipient: merged segments would be written unencrypted; " +
	"give -recipient KEY or -recipients-file FILE with every recipient the backup encrypts to (or leave out -identity: encrypted segments are then left as they are)")
