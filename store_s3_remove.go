package dcbackup

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var (
	_ HeadLoader     = (*S3Store)(nil)
	_ SegmentRemover = (*S3Store)(nil)
)

// LoadHead reads the first n bytes of segment seg of db with a ranged GET;
// see HeadLoader.
func (s *S3Store) LoadHead(ctx context.Context, db string, seg SegmentInfo, n int) ([]byte, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	key := s.Key(db, seg)
	data, err := s.loadHead(ctx, key, max(n, 1))
	if err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q from %s: %w", seg, db, s.where(key), err)
	}
	return data, nil
}

func (s *S3Store) loadHead(ctx context.Context, key string, n int) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
		Range:  aws.String(fmt.Sprintf("bytes=0-%d", n-1)),
	}, func(o *s3.Options) {
		// A part of an object has no checksum to validate: the segment's
		// own header checksum covers it.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	if isNotFound(err) {
		return nil, fmt.Errorf("%w (%w)", ErrSegmentNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("reading object: %w", err)
	}
	return data, nil
}

// Quarantine copies segment seg of db to
// "<prefix>.quarantine/<db>/<name>.<UTC time>", then deletes it, and returns
// the copy's s3:// address; see SegmentRemover.
func (s *S3Store) Quarantine(ctx context.Context, db string, seg SegmentInfo) (string, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q: %w", seg, db, err)
	}
	key := s.Key(db, seg)
	to := s.prefix + QuarantineDir + "/" + db + "/" + quarantineName(seg, time.Now())
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.bucket),
		Key:        aws.String(to),
		CopySource: aws.String(url.PathEscape(s.bucket) + "/" + url.PathEscape(key)),
	})
	if isNotFound(err) {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q from %s: %w (%w)", seg, db, s.where(key), ErrSegmentNotFound, err)
	}
	if err != nil {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q from %s: %w", seg, db, s.where(key), err)
	}
	if err := s.deleteObject(ctx, key); err != nil {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q: copied to %s, but %w", seg, db, s.where(to), err)
	}
	return s.where(to), nil
}

// Delete removes segment seg of db; see SegmentRemover.
func (s *S3Store) Delete(ctx context.Context, db string, seg SegmentInfo) error {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	}
	if err := s.deleteObject(ctx, s.Key(db, seg)); err != nil {
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	}
	return nil
}

func (s *S3Store) deleteObject(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting %s: %w", s.where(key), err)
	}
	return nil
}
