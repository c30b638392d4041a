package shard_test

import (
	"fmt"

	"github.com/multilabel/multilabel/shard"
)

func Example() {
	// In a pod of a Kubernetes Indexed Job, JOB_COMPLETION_INDEX=1; the command line says
	// --num-shards 3.
	env := map[string]string{shard.EnvIndex: "1"}
	s, err := shard.FromEnv("", 3, func(k string) string { return env[k] })
	if err != nil {
		panic(err)
	}
	keys := []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"}
	fmt.Println(s, s.OutputName("features.npy"))
	for _, i := range s.Select(keys) {
		fmt.Println(keys[i])
	}
	// Output:
	// 1/3 features.shard-1-of-3.npy
	// e.jpg
}
