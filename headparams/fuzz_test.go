package headparams

import (
	"encoding/json"
	"testing"
)

// FuzzParamsJSON: any JSON either fails Validate or gives a head whose Forward works.
func FuzzParamsJSON(f *testing.F) {
	f.Add([]byte(`{"kind":"linear","in":2,"out":1,"w1":[1,2],"b1":[0]}`))
	f.Add([]byte(`{"kind":"mlp","in":1,"hidden":2,"out":1,"w1":[1,2],"b1":[0,0],"w2":[1,1],"b2":[0]}`))
	f.Add([]byte(`{"kind":"linear","in":2,"out":1,"w1":[1,2],"b1":[0],"mean":[0,0],"std":[1,0]}`))
	f.Add([]byte(`{"kind":"mlp","in":-1}`))
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
