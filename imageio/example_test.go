package imageio_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/multilabel/multilabel/imageio"
)

// A flat mid-gray picture becomes the same value everywhere, normalized per channel.
func ExampleSpec_Fill() {
	img := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	s := imageio.ImageNetSpec()
	dst := make([]float32, s.TensorLen())
	s.Fill(img, dst)
	plane := s.Width * s.Height
	fmt.Printf("shape %v, R %.4f G %.4f B %.4f\n", s.Shape(), dst[0], dst[plane], dst[2*plane])
	// Output: shape [3 224 224], R 0.0741 G 0.2052 B 0.4265
}

// Loading a folder in batches; bad files are reported per item and their slots are zero.
func ExampleNewLoader() {
	dir, _ := os.MkdirTemp("", "imageio-example")
	defer os.RemoveAll(dir)
	var paths []string
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		f, _ := os.Create(p)
		m := image.NewNRGBA(image.Rect(0, 0, 32, 24))
		for j := range m.Pix {
			m.Pix[j] = 200
		}
		m.SetNRGBA(0, 0, color.NRGBA{A: 255})
		png.Encode(f, m)
		f.Close()
		paths = append(paths, p)
	}
	os.WriteFile(paths[3], []byte("oops"), 0o644) // a text file named .png

	s := imageio.Spec{Width: 16, Height: 16, Resize: imageio.ResizeShorterCrop, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}
	l := imageio.NewLoader(context.Background(), paths, s, imageio.LoaderOptions{Workers: 2, BatchSize: 2})
	defer l.Close()
	for {
		b, err := l.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		for i, e := range b.Errs {
			if e != nil {
				fmt.Printf("item %d: %v\n", b.Start+i, errors.Is(e, imageio.ErrUnknownFmt))
			}
		}
		fmt.Printf("batch at %d: %d images, %d failed\n", b.Start, b.N, b.Failed())
		l.Release(b)
	}
	// Output:
	// batch at 0: 2 images, 0 failed
	// item 3: true
	// batch at 2: 2 images, 1 failed
	// batch at 4: 1 images, 0 failed
}

// The same (seed, epoch, index) always gives the same augmented tensor; another epoch
// gives another one.
func ExampleAugment_Fill() {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	s := imageio.Spec{Width: 16, Height: 16, Resize: imageio.ResizeShorterCrop, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}
	a := imageio.DefaultAugment()
	x1 := make([]float32, s.TensorLen())
	x2 := make([]float32, s.TensorLen())
	x3 := make([]float32, s.TensorLen())
	a.Fill(img, s, 42, 0, 7, x1)
	a.Fill(img, s, 42, 0, 7, x2)
	a.Fill(img, s, 42, 1, 7, x3)
	fmt.Println(slices.Equal(x1, x2), slices.Equal(x1, x3))
	// Output: true false
}
