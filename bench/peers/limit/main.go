// The limit: the writes every Bench operator has to make, from a trivial client-go loop with no cache, no queue,
// no watch and no decision to take. It lists the Benches of BENCH_NAMESPACE (untimed), then with BENCH_WORKERS
// goroutines creates each one's ConfigMap (with its controller reference) and updates its status, and prints
// {"objects":N,"seconds":S,"writes":W,"errors":E} on stdout. It exits 1 if any write failed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var benches = schema.GroupVersionResource{Group: "bench.converge.dev", Version: "v1", Resource: "benches"}

type result struct {
	Objects int     `json:"objects"`
	Seconds float64 `json:"seconds"`
	Writes  int64   `json:"writes"`
	Errors  int64   `json:"errors"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	namespace := os.Getenv("BENCH_NAMESPACE")
	if namespace == "" {
		return fmt.Errorf("BENCH_NAMESPACE is not set")
	}
	workers, err := strconv.Atoi(os.Getenv("BENCH_WORKERS"))
	if err != nil || workers < 1 {
		return fmt.Errorf("BENCH_WORKERS must be a positive integer, got %q", os.Getenv("BENCH_WORKERS"))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return err
	}
	cfg.QPS = -1 // no client-side rate limiter
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}

	ctx := context.Background()
	list, err := dyn.Resource(benches).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listed %d\n", len(list.Items))

	var writes, failures atomic.Int64
	var firstError sync.Once
	fail := func(err error) {
		failures.Add(1)
		firstError.Do(func() { fmt.Fprintln(os.Stderr, "error:", err) })
	}
	items := make(chan *unstructured.Unstructured)
	var wg sync.WaitGroup
	started := time.Now()
	for range workers {
		wg.Go(func() {
			for bench := range items {
				if _, err := core.CoreV1().ConfigMaps(namespace).Create(ctx, configMapFor(bench), metav1.CreateOptions{}); err != nil {
					fail(err)
					continue
				}
				writes.Add(1)
				if err := unstructured.SetNestedField(bench.Object, bench.GetGeneration(), "status", "observedGeneration"); err != nil {
					fail(err)
					continue
				}
				if _, err := dyn.Resource(benches).Namespace(namespace).UpdateStatus(ctx, bench, metav1.UpdateOptions{}); err != nil {
					fail(err)
					continue
				}
				writes.Add(1)
			}
		})
	}
	for i := range list.Items {
		items <- &list.Items[i]
	}
	close(items)
	wg.Wait()
	seconds := time.Since(started).Seconds()

	out, err := json.Marshal(result{Objects: len(list.Items), Seconds: seconds, Writes: writes.Load(), Errors: failures.Load()})
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	if failures.Load() > 0 {
		os.Exit(1)
	}
	return nil
}

func configMapFor(bench *unstructured.Unstructured) *corev1.ConfigMap {
	value, _, _ := unstructured.NestedString(bench.Object, "spec", "value")
	controller := true
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      bench.GetName(),
			Namespace: bench.GetNamespace(),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         benches.GroupVersion().String(),
				Kind:               "Bench",
				Name:               bench.GetName(),
				UID:                bench.GetUID(),
				Controller:         &controller,
				BlockOwnerDeletion: &controller,
			}},
		},
		Data: map[string]string{"value": value},
	}
}
