package main

import (
	"flag"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/internal/s3test"
)

// The S3 client comes from the AWS SDK's standard configuration, adjusted
// by -s3-endpoint and -s3-path-style (no request is made).
func TestS3ClientConfig(t *testing.T) {
	cases := []struct {
		name      string
		env       map[string]string
		args      []string
		endpoint  string // "" : none
		pathStyle bool
		region    string
		err       string
	}{
		{name: "AWS", env: map[string]string{"AWS_REGION": "eu-west-1"}, region: "eu-west-1"},
		{name: "no region", err: "no AWS region: set AWS_REGION"},
		{name: "endpoint from the SDK's environment",
			env:      map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:7070"},
			endpoint: "http://127.0.0.1:7070", pathStyle: true, region: "us-east-1"},
		{name: "global endpoint",
			env:      map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:7071", "AWS_REGION": "eu-north-1"},
			endpoint: "http://127.0.0.1:7071", pathStyle: true, region: "eu-north-1"},
		{name: "flag overrides the environment",
			env:      map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:7070"},
			args:     []string{"-s3-endpoint", "https://s3.example.com"},
			endpoint: "https://s3.example.com", pathStyle: true, region: "us-east-1"},
		{name: "virtual-hosted on request",
			args:     []string{"-s3-endpoint", "https://s3.example.com", "-s3-path-style=false"},
			endpoint: "https://s3.example.com", region: "us-east-1"},
		{name: "path-style on AWS", env: map[string]string{"AWS_REGION": "eu-west-1"},
			args: []string{"-s3-path-style"}, pathStyle: true, region: "eu-west-1"},
		{name: "not a URL", args: []string{"-s3-endpoint", "127.0.0.1:7070"}, err: `-s3-endpoint "127.0.0.1:7070": want a URL`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s3test.ClearAWSEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var f s3Flags
			f.add(fs)
			require.NoError(t, fs.Parse(c.args))
			client, err := f.client(t.Context())
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			o := client.Options()
			if c.endpoint == "" {
				assert.Nil(t, o.BaseEndpoint)
			} else {
				assert.Equal(t, c.endpoint, aws.ToString(o.BaseEndpoint))
			}
			assert.Equal(t, c.pathStyle, o.UsePathStyle)
			assert.Equal(t, c.region, o.Region)
		})
	}
}
