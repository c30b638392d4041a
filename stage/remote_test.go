package stage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
	"github.com/multilabel/multilabel/shard"
)

// tarShard builds a tar shard of n samples whose image members hold distinct bytes.
func tarShard(t *testing.T, first, n int) (shard []byte, images map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	add(dataset.VocabularyMember, []byte(`{"labels":["cat","dog"]}`))
	images = map[string][]byte{}
	for i := first; i < first+n; i++ {
		key := fmt.Sprintf("s%04d", i)
		img := bytes.Repeat([]byte{byte(i)}, 3000+i)
		images[key+".png"] = img
		add(key+".png", img)
		add(key+".json", []byte(fmt.Sprintf(`{"image":"%s.png","labels":["cat"]}`, key)))
	}
	tw.Close()
	return b.Bytes(), images
}

// TestRemoteShardsByRange: tar shards in a bucket are listed with one streamed request
// each and nothing downloaded; a member is read by range when loaded, a request failing
// twice is retried, one failing for good is an ErrUnavailable error naming the object
// (not a bad image), and so is a shard whose listing fails.
func TestRemoteShardsByRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := fakes3.Start(t, "ranged")
	s := &Stager{Store: objstore.New(objstore.Options{Attempts: 3, Backoff: time.Millisecond}), Dir: t.TempDir()}
	defer s.Store.Close()
	all := map[string][]byte{}
	for k := range 2 {
		sh, imgs := tarShard(t, 10*k, 10)
		for n, b := range imgs {
			all[n] = b
		}
		if err := s.Store.Write(ctx, srv.URL("ranged", fmt.Sprintf("tars/p-%d.tar", k)), sh); err != nil {
			t.Fatal(err)
		}
	}
	before := srv.Requests.Load()
	d, err := s.Dataset(ctx, srv.URL("ranged", "tars/p-{0..1}.tar"), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Per shard: its size (HEAD) and one streamed GET.
	if n := srv.Requests.Load() - before; n != 4 {
		t.Errorf("listing 2 shards took %d requests, want 4", n)
	}
	if len(d.Samples) != 20 || len(d.Skipped) != 0 {
		t.Fatalf("%d samples, skipped %v", len(d.Samples), d.Skipped)
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("listing downloaded %d entries into the staging folder", len(ents))
	}
	for _, smp := range d.Samples {
		if !strings.HasPrefix(smp.Path, "s3://ranged/tars/p-") {
			t.Fatalf("member path %q", smp.Path)
		}
		got, err := imageio.ReadFile(smp.Path)
		if err != nil || !bytes.Equal(got, all[smp.Image]) {
			t.Fatalf("%s: %d bytes, %v", smp.Path, len(got), err)
		}
	}
	p := d.Samples[3].Path
	srv.FailNext(2)
	if got, err := imageio.ReadFile(p); err != nil || !bytes.Equal(got, all[d.Samples[3].Image]) {
		t.Fatalf("member read after 2 failed requests: %v", err)
	}
	srv.FailNext(100)
	_, err = imageio.ReadFile(p)
	if !errkind.IsUnavailable(err) || !strings.Contains(err.Error(), "tars/p-0.tar") {
		t.Errorf("member read failing for good: %v", err)
	}
	_, err = s.Dataset(ctx, srv.URL("ranged", "tars/p-1.tar"), dataset.Options{})
	if !errkind.IsUnavailable(err) || !strings.Contains(err.Error(), "p-1.tar") {
		t.Errorf("listing failing for good: %v", err)
	}
	srv.FailNext(0)
	s.Close()
	if _, err := imageio.ReadFile(p); !errkind.IsUnavailable(err) {
		t.Errorf("member read after Close: %v", err)
	}
}

// TestStageShardImagesOnly: with Shard set, Dataset downloads the images of that shard
// only, and the dataset still lists every sample.
func TestStageShardImagesOnly(t *testing.T) {
	t.Parallel()
	bucket := t.TempDir()
	var csv strings.Builder
	csv.WriteString("image,labels\n")
	for i := range 40 {
		name := fmt.Sprintf("i%02d.png", i)
		csv.WriteString(name + ",cat\n")
		write(t, bucket+"/set/"+name, name)
	}
	write(t, bucket+"/set/labels.csv", csv.String())
	spec := shard.Spec{I: 1, N: 3}
	s := &Stager{Store: objstore.New(objstore.Options{}), Dir: t.TempDir(), Shard: spec}
	defer s.Store.Close()
	d, err := s.Dataset(context.Background(), "file://"+bucket+"/set/labels.csv", dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Samples) != 40 {
		t.Fatalf("%d samples", len(d.Samples))
	}
	staged := 0
	for _, smp := range d.Samples {
		_, err := os.Stat(smp.Path)
		if spec.Has(smp.Image) != (err == nil) {
			t.Errorf("%s: in shard %v, staged %v", smp.Image, spec.Has(smp.Image), err == nil)
		}
		if err == nil {
			staged++
		}
	}
	if staged == 0 || staged == 40 {
		t.Errorf("%d of 40 images staged", staged)
	}
}
