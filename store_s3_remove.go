package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var (
	_ HeadLoader     = (*S3Store)(nil)
	_ SegmentRemover = (*S3Store)(nil)
	_ BatchRemover   = (*S3Store)(nil)
)

// deleteBatchSize is the most keys one DeleteObjects request takes.
const deleteBatchSize = 1000

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

// DeleteSegments deletes segments segs of db with DeleteObjects, up to
// 1,000 per request; see BatchRemover.
func (s *S3Store) DeleteSegments(ctx context.Context, db string, segs []SegmentInfo) error {
	for _, seg := range segs {
		if err := checkStoreArgs(ctx, db, seg); err != nil {
			return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
		}
	}
	for batch := range slices.Chunk(segs, deleteBatchSize) {
		objects := make([]types.ObjectIdentifier, len(batch))
		for i, seg := range batch {
			objects[i] = types.ObjectIdentifier{Key: aws.String(s.Key(db, seg))}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: objects, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("dcbackup: delete %d segments of database %q from %s: %w", len(batch), db, s.where(s.prefix+db+"/"), err)
		}
		var failed []error
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			failed = append(failed, fmt.Errorf("%s: %s %s", s.where(aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message)))
		}
		if len(failed) > 0 {
			return fmt.Errorf("dcbackup: delete segments of database %q: %d of %d not deleted: %w", db, len(failed), len(batch), errors.Join(failed...))
		}
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
