package serve

import (
	"image/color"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads GET /metrics as a Prometheus server would.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// counter returns the value of the series of family name whose labels include want.
func counter(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestMetricsScrapeNamesAndCounters(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{})
	before := scrape(t, ts.URL)
	// Present before any traffic: the reload counter and the runtime and process collectors.
	for name, typ := range map[string]dto.MetricType{
		"multilabel_model_reloads_total": dto.MetricType_COUNTER,
		"go_goroutines":                  dto.MetricType_GAUGE,
		"process_resident_memory_bytes":  dto.MetricType_GAUGE,
	} {
		if f := before[name]; f == nil || f.GetType() != typ {
			t.Errorf("family %s: got %v, want type %v", name, f, typ)
		}
	}

	predict := map[string]string{"route": "/v1/predict", "code": "200"}
	n0 := counter(before, "multilabel_http_requests_total", predict)
	for i := 0; i < 3; i++ {
		if code, m := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{1, 2, 3, 255}), nil); code != 200 {
			t.Fatalf("predict: %d %v", code, m)
		}
	}
	resp, err := http.Get(ts.URL + "/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	after := scrape(t, ts.URL)
	if got := counter(after, "multilabel_http_requests_total", predict); got != n0+3 {
		t.Errorf("predict requests: %v after 3 more, was %v", got, n0)
	}
	if got := counter(after, "multilabel_errors_total", map[string]string{"kind": "not_found"}); got != 1 {
		t.Errorf(`multilabel_errors_total{kind="not_found"} = %v, want 1`, got)
	}
	for name, typ := range map[string]dto.MetricType{
		"multilabel_http_requests_total":           dto.MetricType_COUNTER,
		"multilabel_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"multilabel_batch_size":                    dto.MetricType_HISTOGRAM,
		"multilabel_errors_total":                  dto.MetricType_COUNTER,
		"multilabel_model_reloads_total":           dto.MetricType_COUNTER,
	} {
		if f := after[name]; f == nil || f.GetType() != typ {
			t.Errorf("family %s: got %v, want type %v", name, f, typ)
		}
	}
	if h := after["multilabel_batch_size"].GetMetric()[0].GetHistogram(); h.GetSampleCount() < 1 {
		t.Errorf("multilabel_batch_size observed %d batches, want ≥ 1", h.GetSampleCount())
	}
}

func TestMetricsRegistryPerServer(t *testing.T) {
	t.Parallel()
	a, _ := newTestServer(t, &fakePredictor{id: "a"}, Options{})
	b, _ := newTestServer(t, &fakePredictor{id: "b"}, Options{})
	if a.Registry() == b.Registry() {
		t.Fatal("two servers share one registry")
	}
}
