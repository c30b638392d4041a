package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// runTorch runs the PyTorch end-to-end script on paths and returns its images/s.
func runTorch(ctx context.Context, opt *Options, m Model, paths []string) (float64, string, error) {
	list, err := os.CreateTemp("", "bench-e2e-*.txt")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(list.Name())
	if _, err := list.WriteString(strings.Join(paths, "\n") + "\n"); err != nil {
		list.Close()
		return 0, "", err
	}
	if err := list.Close(); err != nil {
		return 0, "", err
	}
	args := []string{opt.TorchScript, "--model", m.TorchName, "--list", list.Name(),
		"--batch", fmt.Sprint(opt.Batch), "--threads", fmt.Sprint(opt.Threads), "--workers", fmt.Sprint(opt.Workers),
		"--min-time", fmt.Sprint(opt.MinTime.Seconds())}
	if strings.HasPrefix(m.TorchName, "squeezenet") {
		args = append(args, "--onnx", m.Path)
	}
	cmd := exec.CommandContext(ctx, opt.Python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w: %s", opt.TorchScript, err, lastLine(stderr.String()))
	}
	var res struct {
		ImagesPerS float64 `json:"images_per_s"`
		Note       string  `json:"note"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(lastJSON(out)), &res); err != nil {
		return 0, "", fmt.Errorf("%s output %q: %w", opt.TorchScript, out, err)
	}
	return res.ImagesPerS, res.Note, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func lastJSON(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(bytes.TrimSpace(lines[i]), []byte("{")) {
			return lines[i]
		}
	}
	return b
}
