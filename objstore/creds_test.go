package objstore_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
)

// TestMissingCredentials: an S3 URL without credentials in the environment (and not
// anonymous) is bad input naming the variables to set, at once (no retries).
// Not parallel: it clears the AWS variables of the process.
func TestMissingCredentials(t *testing.T) {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := fakes3.Start(t, "creds")
	u := strings.Replace(srv.URL("creds", "a.txt"), "&anonymous=true", "", 1)
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	_, err := st.ReadAll(context.Background(), u)
	if !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") || !strings.Contains(err.Error(), "creds/a.txt") {
		t.Fatalf("read without credentials: %v", err)
	}
	if strings.Contains(err.Error(), "attempts") {
		t.Errorf("missing credentials were retried: %v", err)
	}
}

// TestUnreachableBucket: an endpoint nobody listens on is an infrastructure error
// (not bad input) naming the object, after the retries.
func TestUnreachableBucket(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	u := "s3://gone/k.tar?endpoint=http://" + addr + "&use_path_style=true&disable_https=true&anonymous=true&region=us-east-1"
	st := objstore.New(objstore.Options{Attempts: 2, Backoff: time.Millisecond})
	defer st.Close()
	_, err = st.ReadAll(context.Background(), u)
	if err == nil || errkind.IsBadInput(err) || !strings.Contains(err.Error(), "gone/k.tar") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("unreachable bucket: %v", err)
	}
	if _, err := st.Open(context.Background(), u); !errkind.IsUnavailable(err) {
		t.Errorf("Open on an unreachable bucket: %v", err)
	}
}
