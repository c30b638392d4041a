package serve

import (
	"context"
	"image"
	"image/color"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/prediction"
)

// TestPageInChromium loads the web page in headless Chromium, drops an image on it (a
// DataTransfer carrying a File, dispatched as a real drop event), and reads the labels the
// page shows after its own fetch to /v1/predict.
func TestPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found in CI (.ci/run installs Debian's chromium)")
		}
		t.Skip("skipping: chromium not installed (apt-get install chromium)")
	}
	img := pngBytes(t, color.RGBA{255, 0, 0, 255}) // the fake model says: red
	s, err := New(&explainPredictor{infoPredictor{fakePredictor: &fakePredictor{id: strings.Repeat("ab", 32)}, trained: "2026-01-02T03:04:05Z"}, img}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dropper := `<script>
fetch("/__test/image.png").then(r => r.blob()).then(b => {
  const dt = new DataTransfer();
  dt.items.add(new File([b], "red.png", {type: "image/png"}));
  document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
});
window.addEventListener("error", e => { document.body.dataset.jserror = e.message; });
</script></body>`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__test/image.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(strings.Replace(pageHTML, "</body>", dropper, 1)))
	})
	mux.Handle("/", s.Handler())
	ts := httptest.NewServer(mux)
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", ts.URL+"/")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if m := regexp.MustCompile(`data-jserror="([^"]*)"`).FindStringSubmatch(dom); m != nil {
		t.Fatalf("script error on the page: %s", m[1])
	}
	if !strings.Contains(dom, `data-state="done"`) {
		t.Fatalf("page did not finish a prediction; DOM:\n%s", dom)
	}
	if !strings.Contains(dom, `data-predicted="red"`) {
		t.Fatalf("page shows the wrong labels; DOM:\n%s", dom)
	}
	if n := strings.Count(dom, `class="row`); n != 3 {
		t.Fatalf("want one score bar per label (3), found %d", n)
	}
	if !strings.Contains(dom, `class="row on" data-label="red"`) {
		t.Fatalf("the passing label is not highlighted; DOM:\n%s", dom)
	}
	// The model draws maps: the page asked for them and shows the predicted label's.
	if !strings.Contains(dom, `<img class="map" src="data:image/png;base64,`) || !strings.Contains(dom, `alt="where the model sees red"`) ||
		strings.Count(dom, `class="map"`) != 1 || !strings.Contains(dom, `<p id="mapnote" class="note">`) {
		t.Errorf("page shows no activation map; DOM:\n%s", dom)
	}
	// The model line names the labels and the training date, not only the id; the
	// threshold tick is explained; no token box on a server without a token.
	for _, want := range []string{"Model abababababab…, trained 2026-01-02 03:04:05 UTC — 3 labels", "Labels: red, green, big label",
		`<p id="legend" class="note">`, "the red tick marks that label's threshold", `title="threshold 0.900"`, `<p id="tokenbox" hidden="">`} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %q; DOM:\n%s", want, dom)
		}
	}
}

// infoPredictor is a fakePredictor whose Info has a training date, as model.Model's.
type infoPredictor struct {
	*fakePredictor
	trained string
}

func (p *infoPredictor) Info() map[string]any {
	return map[string]any{"id": p.id, "trained": p.trained}
}

// explainPredictor is an infoPredictor that draws maps: its map of every chosen label
// is the PNG given.
type explainPredictor struct {
	infoPredictor
	png []byte
}

func (p *explainPredictor) Info() map[string]any {
	info := p.infoPredictor.Info()
	info["explain"] = true
	return info
}
func (p *explainPredictor) CanExplain() bool { return true }
func (p *explainPredictor) ExplainScores(ctx context.Context, imgs []image.Image, pick func(int, []float32) []int) ([][]float32, [][]prediction.Map, error) {
	scores, err := p.Scores(ctx, imgs)
	if err != nil {
		return nil, nil, err
	}
	maps := make([][]prediction.Map, len(imgs))
	for i, s := range scores {
		for _, j := range pick(i, s) {
			maps[i] = append(maps[i], prediction.Map{Label: p.Labels()[j], PNG: p.png, Width: 1, Height: 1})
		}
	}
	return scores, maps, nil
}

// TestPageTokenBox: the page shows its token box only when the server has a token.
func TestPageTokenBox(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", "s3cret"} {
		s, err := New(&fakePredictor{id: "x"}, Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		s.Close()
		page := rec.Body.String()
		hidden := strings.Contains(page, `<p id="tokenbox" hidden>`)
		if rec.Code != 200 || hidden != (token == "") || !strings.Contains(page, `id="token"`) {
			t.Errorf("token %q: status %d, token box hidden %v", token, rec.Code, hidden)
		}
		if !strings.Contains(page, "red tick marks that label's threshold") {
			t.Errorf("token %q: the threshold tick is not explained", token)
		}
	}
}
