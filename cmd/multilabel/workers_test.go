package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
)

// asCLI makes the test binary act as the multilabel command (TestMain), so that tests can
// start real worker processes without building the binary.
const asCLI = "MULTILABEL_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// worker starts the command as a separate process, like one pod of an Indexed Job.
func worker(t *testing.T, index, n int, args ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), asCLI+"=1", fmt.Sprintf("JOB_COMPLETION_INDEX=%d", index), fmt.Sprintf("MULTILABEL_NUM_SHARDS=%d", n))
	var errb bytes.Buffer
	c.Stderr = &errb
	c.Stdout = &errb
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker %d/%d output:\n%s", index, n, errb.String())
		}
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestIndexedJobWorkers runs features as N worker processes told their index by
// $JOB_COMPLETION_INDEX (as a Kubernetes Indexed Job does), over a folder and over tar
// shards of it, and over those shards in an S3 server (read by range, outputs written
// there); worker 1 is killed once it has started extracting and then restarted.
// The merge of the shards equals the single-process output.
func TestIndexedJobWorkers(t *testing.T) {
	t.Parallel()
	dir := shardFixture(t, 40)
	bb := tinyBackbone(t)
	out := t.TempDir()
	if code, o := runCLI(t, "dataset", "pack", "--data", filepath.Join(dir, "labels.csv"), "--out", filepath.Join(out, "s-%02d.tar"), "--shard-size", "8KB"); code != exitOK {
		t.Fatalf("pack: %d %s", code, o)
	}
	whole := filepath.Join(out, "whole.npy")
	common := []string{"features", "--backbone", bb, "--engine", "go", "--threads", "1", "--workers", "1", "--batch-size", "1"}
	if code, o := runCLI(t, append(common, "--no-cache", "--data", filepath.Join(dir, "labels.csv"), "--out", whole)...); code != exitOK {
		t.Fatalf("single process: %d %s", code, o)
	}
	// The same tar shards in an S3 server (in this process; the workers reach it over
	// HTTP), read by range, the shard outputs written there.
	srv := fakes3.Start(t, "jobs")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	tars, _ := filepath.Glob(filepath.Join(out, "s-*.tar"))
	for _, f := range tars {
		if err := st.Write(context.Background(), srv.URL("jobs", "tars/"+filepath.Base(f)), readAll(t, f)[0]); err != nil {
			t.Fatal(err)
		}
	}
	// exists and read see a local path or a URL.
	exists := func(p string) bool {
		if objstore.IsURL(p) {
			ok, err := st.Exists(context.Background(), p)
			return err == nil && ok
		}
		_, err := os.Stat(p)
		return err == nil
	}
	read := func(p string) []byte {
		if objstore.IsURL(p) {
			b, err := st.ReadAll(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return readAll(t, p)[0]
	}
	const n = 3
	for _, src := range []struct{ name, data, out string }{
		{"folder", filepath.Join(dir, "labels.csv"), ""},
		{"tar", filepath.Join(out, "s-*.tar"), ""},
		{"s3-tar", srv.URL("jobs", "tars/s-*.tar"), "s3"},
	} {
		f := filepath.Join(out, src.name+".npy")
		at := func(name string) string { return filepath.Join(out, name) } // an output's path or URL
		if src.out == "s3" {
			at = func(name string) string { return srv.URL("jobs", "run/"+name) }
			f = at(src.name + ".npy")
		}
		cache := filepath.Join(out, src.name+"-cache")
		args := append(common, "--data", src.data, "--out", f, "--cache-dir", cache)
		var cmds []*exec.Cmd
		for i := range n {
			cmds = append(cmds, worker(t, i, n, args...))
		}
		// Kill worker 1 as soon as its first features reach the cache (or it ends).
		killed := false
		done := make(chan error, 1)
		go func() { done <- cmds[1].Wait() }()
		deadline := time.After(60 * time.Second)
	poll:
		for {
			select {
			case <-done:
				break poll
			case <-deadline:
				t.Fatal("worker 1 did not finish")
			case <-time.After(2 * time.Millisecond):
				if entries, _ := filepath.Glob(filepath.Join(cache, "*", "*", "*")); len(entries) > 0 {
					cmds[1].Process.Kill()
					<-done
					killed = true
					break poll
				}
			}
		}
		shard1 := at(src.name + ".shard-1-of-3.npy")
		if killed {
			if exists(strings.Replace(shard1, ".npy", ".npy.manifest.json", 1)) {
				t.Logf("%s: worker 1 was killed after it finished", src.name)
			} else if code, _ := runCLI(t, "features", "merge", filepath.Join(out, "early.npy"), shard1); code == exitOK {
				t.Fatalf("%s: the killed shard merges as complete", src.name)
			}
		} else {
			t.Logf("%s: worker 1 finished before it could be killed", src.name)
		}
		for i, c := range cmds {
			if i != 1 {
				if err := c.Wait(); err != nil {
					t.Fatalf("%s: worker %d: %v", src.name, i, err)
				}
			}
		}
		// The restarted worker redoes its shard (from the cache where it got that far).
		if err := worker(t, 1, n, args...).Wait(); err != nil {
			t.Fatalf("%s: restarted worker 1: %v", src.name, err)
		}
		merged := at(src.name + "-merged.npy")
		code, o := runCLI(t, "features", "merge", merged, at(src.name+".shard-{0..2}-of-3.npy"))
		if code != exitOK {
			t.Fatalf("%s: merge: %d %s", src.name, code, o)
		}
		for _, suf := range []string{"", ".names.txt", ".manifest.json"} {
			if !bytes.Equal(read(strings.Replace(merged, ".npy", ".npy"+suf, 1)), readAll(t, whole+suf)[0]) {
				t.Errorf("%s: merged%s differs from the single-process output", src.name, suf)
			}
		}
	}
}
