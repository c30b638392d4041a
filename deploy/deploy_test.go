// Package deploy holds the container image and Kubernetes manifests of multilabel
// (Dockerfile, extract-job.yaml; docs/scale.md). Its test checks them without a cluster.
package deploy

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// job is the part of a batch/v1 Job the contract depends on.
type job struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy   string `yaml:"restartPolicy"`
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []struct {
					Image     string   `yaml:"image"`
					Args      []string `yaml:"args"`
					Resources struct {
						Requests map[string]string `yaml:"requests"`
						Limits   map[string]string `yaml:"limits"`
					} `yaml:"resources"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestExtractJob: extract-job.yaml is valid YAML and an Indexed Job whose pods follow the
// JOB_COMPLETION_INDEX contract: features with --num-shards equal to completions (the
// index comes from the environment Kubernetes sets, so no --shard), output to object
// storage, resources set, run as the image's non-root user.
func TestExtractJob(t *testing.T) {
	raw, err := os.ReadFile("extract-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var j job
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(false)
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("extract-job.yaml: %v", err)
	}
	s := j.Spec
	if j.APIVersion != "batch/v1" || j.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions < 1 || s.Parallelism < 1 {
		t.Fatalf("not an Indexed Job: %+v", j)
	}
	ps := s.Template.Spec
	if ps.RestartPolicy != "Never" && ps.RestartPolicy != "OnFailure" {
		t.Errorf("restartPolicy %q", ps.RestartPolicy)
	}
	if !ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.RunAsUser != 10001 {
		t.Errorf("securityContext %+v: want non-root user 10001 (the Dockerfile's)", ps.SecurityContext)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "features" {
		t.Fatalf("args %q: want the features command", c.Args)
	}
	flags := map[string]string{}
	for _, a := range c.Args[1:] {
		k, v, _ := strings.Cut(a, "=")
		flags[k] = v
	}
	if flags["--num-shards"] != strconv.Itoa(s.Completions) {
		t.Errorf("--num-shards %q differs from completions %d", flags["--num-shards"], s.Completions)
	}
	if _, ok := flags["--shard"]; ok {
		t.Error("--shard set: the index must come from JOB_COMPLETION_INDEX")
	}
	for _, f := range []string{"--backbone", "--data", "--out"} {
		if !strings.Contains(flags[f], "://") {
			t.Errorf("%s %q: want an object-storage URL", f, flags[f])
		}
	}
	if !strings.HasSuffix(flags["--out"], ".npy") {
		t.Errorf("--out %q: want a .npy", flags["--out"])
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("resources %s: requests %q limits %q", r, c.Resources.Requests[r], c.Resources.Limits[r])
		}
	}
}

// TestDockerfile: the image is built the documented way: the object-storage drivers, the
// pinned ONNX Runtime from the checksumming install script, libjpeg-turbo, and a
// non-root user matching the Job's runAsUser.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := string(raw)
	for _, want := range []string{
		"-tags gcs,azure", "./cmd/multilabel", "scripts/install-onnxruntime.sh", "libturbojpeg0",
		"useradd --uid 10001", "USER 10001", "ONNXRUNTIME_LIB=/opt/onnxruntime/libonnxruntime.so.1",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, err := os.Stat("../scripts/install-onnxruntime.sh"); err != nil {
		t.Error(err)
	}
}
