package finetune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Architectures of scripts/make_bench_models.py (torchvision's ResNet-18 and
// MobileNetV2, exported with random weights).
const (
	ArchResNet18    = "resnet18"
	ArchMobileNetV2 = "mobilenet_v2"
)

// BenchModelsDir is where the random-weight ResNet-18 and MobileNetV2 of
// scripts/make_bench_models.py are kept: $MULTILABEL_BENCH_MODELS, else
// <user cache>/multilabel/benchmodels. They are generated, never committed.
func BenchModelsDir() string {
	if d := os.Getenv("MULTILABEL_BENCH_MODELS"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "multilabel-benchmodels")
	}
	return filepath.Join(d, "multilabel", "benchmodels")
}

// BenchModel returns the path of architecture arch's export in dir ("" size suffix:
// 224x224 input; "-64": 64x64, for tests).
func BenchModel(dir, arch, suffix string) string {
	return filepath.Join(dir, arch+suffix+".onnx")
}

// MakeBenchModels writes the random-weight ResNet-18 and MobileNetV2 exports into dir
// by running scripts/make_bench_models.py (found in scripts, or from the working
// directory upwards when "") with python (default /usr/bin/python3), unless both are
// there already. It fails when python has no torch.
func MakeBenchModels(ctx context.Context, python, scripts, dir string) error {
	have := true
	for _, a := range []string{ArchResNet18, ArchMobileNetV2} {
		for _, s := range []string{"", "-64"} {
			if _, err := os.Stat(BenchModel(dir, a, s)); err != nil {
				have = false
			}
		}
	}
	if have {
		return nil
	}
	if python == "" {
		python = "/usr/bin/python3"
	}
	if scripts == "" {
		scripts = findScripts()
	}
	gen := filepath.Join(scripts, "make_bench_models.py")
	if scripts == "" {
		return errors.New("finetune: scripts/make_bench_models.py not found")
	}
	if err := exec.CommandContext(ctx, python, "-c", "import torch, numpy").Run(); err != nil {
		return fmt.Errorf("finetune: %s has no torch and numpy, so ResNet-18 and MobileNetV2 cannot be generated: %w", python, err)
	}
	out, err := exec.CommandContext(ctx, python, gen, "--out", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("finetune: %s: %w\n%s", gen, err, out)
	}
	return nil
}
