// Package laketest serves a data lake from an in-process S3 server, for tests of code that reads
// or writes s3:// paths through Beam's filesystem API (the lake, dead letters, the raw archive).
//
// # Usage
//
//	srv := laketest.StartS3(t, "bucket")             // points Beam's S3 filesystem at it
//	srv.Upload(t, "../../testdata/lake", "bucket", "lake") // s3://bucket/lake/raw/dt=.../...
//
// The server is gofakes3 with its in-memory backend, on 127.0.0.1 (with "localhost" the AWS SDK
// tries virtual-host addressing and fails). Beam's S3 filesystem reads its configuration only
// from the AWS environment variables, so StartS3 sets them with t.Setenv: tests that use it cannot
// run in parallel. Workers of a pipeline see the server when they run in the test process, as
// they do on Prism and in LOOPBACK mode.
package laketest

import (
	"bytes"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an in-process S3 server.
type S3 struct {
	// URL is the server's endpoint, http://127.0.0.1:PORT.
	URL     string
	backend *s3mem.Backend
}

// StartS3 starts an S3 server that holds the empty buckets named, stops it when t ends, and
// sets the AWS environment variables for the rest of t so that Beam's S3 filesystem uses it
// with fixed test credentials (and no shared config or credentials file).
func StartS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatalf("laketest: create bucket %s: %v", b, err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	setEnv(t, srv.URL)
	return &S3{URL: srv.URL, backend: backend}
}

// setEnv points the AWS SDK at endpoint and nowhere else.
func setEnv(t testing.TB, endpoint string) {
	empty := filepath.Join(t.TempDir(), "aws-empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatalf("laketest: %v", err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3":         endpoint,
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// Upload copies every file under dir, byte for byte, to s3://bucket/prefix/<its path relative to
// dir>, and returns how many it copied.
func (s *S3) Upload(t testing.TB, dir, bucket, prefix string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		n++
		return s.Put(bucket, path.Join(prefix, filepath.ToSlash(rel)), p)
	})
	if err != nil {
		t.Fatalf("laketest: upload %s to s3://%s/%s: %v", dir, bucket, prefix, err)
	}
	return n
}

// Put copies the local file src to the object key of bucket.
func (s *S3) Put(bucket, key, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	_, err = s.backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(b), int64(len(b)), nil)
	return err
}

// Download copies every object of bucket under prefix to dir/<its key relative to prefix>, byte
// for byte, and returns how many it copied: what a job wrote to s3:// can then be checked by
// code that reads local files (the reference, for one).
func (s *S3) Download(t testing.TB, bucket, prefix, dir string) int {
	t.Helper()
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{HasPrefix: true, Prefix: prefix + "/"}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatalf("laketest: list s3://%s/%s: %v", bucket, prefix, err)
	}
	for _, c := range list.Contents {
		if err := s.get(bucket, c.Key, filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(c.Key, prefix+"/")))); err != nil {
			t.Fatalf("laketest: download s3://%s/%s: %v", bucket, c.Key, err)
		}
	}
	return len(list.Contents)
}

// get copies the object key of bucket to the local file dst.
func (s *S3) get(bucket, key, dst string) error {
	obj, err := s.backend.GetObject(bucket, key, nil)
	if err != nil {
		return err
	}
	defer obj.Contents.Close()
	b, err := io.ReadAll(obj.Contents)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
