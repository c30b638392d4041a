package headparams

import (
	"encoding/json"
	"testing"
)

// attentionJSON is a small valid attention head as JSON (a fuzz seed).
func attentionJSON(f *testing.F) []byte {
	p, err := NewAttention(2, 3, 3, AttnOptions{Dim: 8, Heads: 2, FFN: 4, MaxQueries: 2}, 1)
	if err != nil {
		f.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzParamsJSON: any JSON either fails Validate or gives a head whose Forward works.
func FuzzParamsJSON(f *testing.F) {
	f.Add([]byte(`{"kind":"linear","in":2,"out":1,"w1":[1,2],"b1":[0]}`))
	f.Add([]byte(`{"kind":"mlp","in":1,"hidden":2,"out":1,"w1":[1,2],"b1":[0,0],"w2":[1,1],"b2":[0]}`))
	f.Add([]byte(`{"kind":"linear","in":2,"out":1,"w1":[1,2],"b1":[0],"mean":[0,0],"std":[1,0]}`))
	f.Add([]byte(`{"kind":"mlp","in":-1}`))
	f.Add([]byte(`{"kind":"linear","in":4,"out":1,"channels":2,"tokens":2,"pool":"gem","gem_p":[3],"w1":[1,2],"b1":[0]}`))
	f.Add([]byte(`{"kind":"linear","in":4,"out":1,"channels":2,"tokens":2,"pool":"avgmax","w1":[1,2,3,4],"b1":[0]}`))
	f.Add(attentionJSON(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Params
		if json.Unmarshal(b, &p) != nil || p.Validate() != nil {
			return
		}
		if p.In > 1<<12 {
			return
		}
		if _, err := p.Forward(make([]float32, 2*p.In), 2); err != nil {
			t.Fatalf("valid head, Forward failed: %v", err)
		}
	})
}
