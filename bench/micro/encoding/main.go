// Command encoding measures what the apiserver spends per object on the wire format a client speaks: for each
// content type it creates N ConfigMaps in a namespace of its own while an informer (of the same content type)
// watches them, and prints the apiserver's CPU (from /proc/<pid>/stat) per object once the informer saw them all.
// It tells how much of an operator's apiserver cost is JSON against protobuf (which client-go, and so
// controller-runtime, uses for built-in kinds).
//
//	KUBECONFIG=... go run . -pid <kube-apiserver pid> [-n 2000] [-workers 4] [-types protobuf,json,protobuf,json]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// cpuSeconds is the user+system CPU of a process so far, from /proc/<pid>/stat (fields 14 and 15, in clock ticks).
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		panic(err)
	}
	// The command name may hold spaces: the fields start after its closing parenthesis.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

func main() {
	pid := flag.Int("pid", 0, "the kube-apiserver's process id")
	n := flag.Int("n", 2000, "ConfigMaps per content type")
	workers := flag.Int("workers", 4, "creates in flight")
	types := flag.String("types", "json,protobuf", "content types: json, protobuf, cbor")
	flag.Parse()
	if *pid == 0 {
		fmt.Fprintln(os.Stderr, "-pid is required")
		os.Exit(2)
	}
	base, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		panic(err)
	}
	base.QPS, base.Burst = -1, 0
	mediaTypes := map[string]string{
		"json":     "application/json",
		"protobuf": "application/vnd.kubernetes.protobuf",
		"cbor":     "application/cbor",
	}
	ctx := context.Background()
	var namespaces []string
	for _, t := range strings.Split(*types, ",") {
		cfg := *base
		cfg.ContentType = mediaTypes[t]
		cfg.AcceptContentTypes = mediaTypes[t]
		client := kubernetes.NewForConfigOrDie(&cfg)
		ns := fmt.Sprintf("encoding-%s-%d", t, time.Now().UnixNano())
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			fmt.Printf("%-9s %v\n", t, err)
			continue
		}
		var seen atomic.Int64
		factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
		informer := factory.Core().V1().ConfigMaps().Informer()
		_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) { seen.Add(1) }})
		stop := make(chan struct{})
		factory.Start(stop)
		factory.WaitForCacheSync(stop)
		before := seen.Load() // kube-root-ca.crt
		time.Sleep(time.Second)
		cpu := cpuSeconds(*pid)
		started := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(*n); i = next.Add(1) {
					cm := &corev1.ConfigMap{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Labels: map[string]string{"app": "encoding"}},
						Data:       map[string]string{"value": strconv.FormatInt(i, 10), "owner": "bench"},
					}
					if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
						panic(err)
					}
				}
			}()
		}
		wg.Wait()
		for seen.Load()-before < int64(*n) {
			time.Sleep(10 * time.Millisecond)
		}
		wall := time.Since(started)
		used := cpuSeconds(*pid) - cpu
		close(stop)
		fmt.Printf("%-9s %d creates + watch: apiserver CPU %.3f ms/object, wall %.2f s\n", t, *n, used*1000/float64(*n), wall.Seconds())
		namespaces = append(namespaces, ns)
	}
	// Deleted at the end: a namespace being emptied meanwhile would be counted in the next content type's figure.
	for _, ns := range namespaces {
		_ = kubernetes.NewForConfigOrDie(base).CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}
}
