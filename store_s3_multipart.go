package dcbackup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// errKeyExists reports that a multipart upload was not started because the
// key already exists.
var errKeyExists = errors.New("object exists")

// s3AbortTimeout bounds the AbortMultipartUpload sent after a failed upload,
// which runs even when the caller's context is canceled.
const s3AbortTimeout = 30 * time.Second

// putMultipart uploads data as a multipart upload completed with
// If-None-Match: *, S3Options.PartConcurrency parts at a time. Each part
// carries its SHA-256. On any failure the upload
// is aborted, so no object and no stored parts remain.
func (s *S3Store) putMultipart(ctx context.Context, key string, data []byte, token string) (err error) {
	// Uploading gigabytes only to lose the race at the end is wasteful:
	// check first (the conditional completion still decides).
	found, _, err := s.headObject(ctx, key, token)
	if err != nil {
		return err
	}
	if found {
		return errKeyExists
	}
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		ContentType:       aws.String("application/octet-stream"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		Metadata:          map[string]string{s3WriterMetaKey: token},
	})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		if aerr := s.abortMultipart(ctx, key, uploadID); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}()

	partSize := max(s.opts.PartSize, (int64(len(data))+S3MaxParts-1)/S3MaxParts)
	parts := make([]types.CompletedPart, (int64(len(data))+partSize-1)/partSize)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.PartConcurrency)
	for i := range parts {
		off := int64(i) * partSize
		part := data[off:min(off+partSize, int64(len(data)))]
		num := int32(i + 1)
		g.Go(func() error {
			sum := sha256.Sum256(part)
			sum64 := base64.StdEncoding.EncodeToString(sum[:])
			out, err := s.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:            aws.String(s.bucket),
				Key:               aws.String(key),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(num),
				Body:              bytes.NewReader(part),
				ContentLength:     aws.Int64(int64(len(part))),
				ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
				ChecksumSHA256:    aws.String(sum64),
			})
			if err != nil {
				return fmt.Errorf("upload part %d: %w", num, err)
			}
			parts[i] = types.CompletedPart{
				ETag:           out.ETag,
				PartNumber:     aws.Int32(num),
				ChecksumSHA256: aws.String(sum64),
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
	})
	if err != nil && isNoSuchUpload(err) {
		// A retried completion whose first attempt succeeded finds the
		// upload gone: the object is ours if it carries our token.
		if _, ours, herr := s.headObject(ctx, key, token); herr == nil && ours {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// abortMultipart aborts an upload, also when ctx is canceled. An upload
// that no longer exists is not an error.
func (s *S3Store) abortMultipart(ctx context.Context, key string, uploadID *string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3AbortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(key),
		UploadId: uploadID,
	})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("abort multipart upload %s: %w", aws.ToString(uploadID), err)
	}
	return nil
}

func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	return errors.As(err, &nsu) || apiErrorCode(err) == "NoSuchUpload"
}
