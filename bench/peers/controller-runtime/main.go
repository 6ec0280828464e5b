// The Bench operator written the way a controller-runtime user writes it: a Go type for the custom resource,
// a scheme, a manager whose cache is scoped to one namespace, and one controller that owns ConfigMaps.
//
// Environment: KUBECONFIG, BENCH_NAMESPACE, BENCH_WORKERS (MaxConcurrentReconciles) and, optionally,
// BENCH_RESYNC_SECONDS (the cache's SyncPeriod) and BENCH_CPU_PROFILE_DIR (a pprof CPU profile of the run,
// written there when it stops: `npm run bench -- --cpu-prof <dir>`).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// GroupVersion is the API group and version of Bench.
var GroupVersion = schema.GroupVersion{Group: "bench.converge.dev", Version: "v1"}

// BenchSpec is the desired state: the value its ConfigMap must hold.
type BenchSpec struct {
	Value string `json:"value"`
}

// BenchStatus records the generation the operator has acted on.
type BenchStatus struct {
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Bench is the benchmark's custom resource (benches.bench.converge.dev).
type Bench struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BenchSpec   `json:"spec,omitempty"`
	Status BenchStatus `json:"status,omitempty"`
}

// BenchList is a list of Bench, as the cache's informer lists them.
type BenchList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Bench `json:"items"`
}

// The deep copies controller-gen would generate: Spec and Status hold only values, so copying them by
// assignment is deep.

// DeepCopyInto copies the receiver into out.
func (in *Bench) DeepCopyInto(out *Bench) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
}

// DeepCopy returns a deep copy of the receiver.
func (in *Bench) DeepCopy() *Bench {
	if in == nil {
		return nil
	}
	out := new(Bench)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *Bench) DeepCopyObject() runtime.Object {
	return in.DeepCopy()
}

// DeepCopyInto copies the receiver into out.
func (in *BenchList) DeepCopyInto(out *BenchList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Bench, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of the receiver.
func (in *BenchList) DeepCopy() *BenchList {
	if in == nil {
		return nil
	}
	out := new(BenchList)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *BenchList) DeepCopyObject() runtime.Object {
	return in.DeepCopy()
}

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Bench{}, &BenchList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// BenchReconciler makes each Bench's ConfigMap match its spec, then records the generation in its status.
type BenchReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// Reconcile follows the Kubebuilder tutorial: read the object from the cache, CreateOrUpdate the child with a
// controller reference, and update the status only when it changed.
func (r *BenchReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var bench Bench
	if err := r.Get(ctx, req.NamespacedName, &bench); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: bench.Name, Namespace: bench.Namespace}}
	if _, err := ctrl.CreateOrUpdate(ctx, r.Client, cm, func() error {
		if cm.Data["value"] != bench.Spec.Value {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data["value"] = bench.Spec.Value
		}
		return ctrl.SetControllerReference(&bench, cm, r.Scheme)
	}); err != nil {
		return ctrl.Result{}, ignoreStaleCache(err)
	}

	if bench.Status.ObservedGeneration != bench.Generation {
		bench.Status.ObservedGeneration = bench.Generation
		if err := r.Status().Update(ctx, &bench); err != nil {
			return ctrl.Result{}, ignoreStaleCache(err)
		}
	}
	return ctrl.Result{}, nil
}

// ignoreStaleCache drops the errors of a write decided on a cache that was behind the server (a create of an
// object that exists, an update with an old resourceVersion): the newer object is on its way through the watch
// and triggers another reconcile, so a retry with backoff would only add a request.
func ignoreStaleCache(err error) error {
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel), zap.WriteTo(os.Stderr)))
	if dir := os.Getenv("BENCH_CPU_PROFILE_DIR"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("controller-runtime-%d.pprof", os.Getpid())))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	namespace := os.Getenv("BENCH_NAMESPACE")
	if namespace == "" {
		return fmt.Errorf("BENCH_NAMESPACE is not set")
	}
	workers, err := positiveInt("BENCH_WORKERS", 1)
	if err != nil {
		return err
	}
	var syncPeriod *time.Duration // nil: controller-runtime's default, 10 h
	if os.Getenv("BENCH_RESYNC_SECONDS") != "" {
		seconds, err := positiveInt("BENCH_RESYNC_SECONDS", 0)
		if err != nil {
			return err
		}
		d := time.Duration(seconds) * time.Second
		syncPeriod = &d
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := addKnownTypes(scheme); err != nil {
		return err
	}

	// GetConfig reads KUBECONFIG and already sets QPS = -1 (no client-side rate limiter); set it here too so
	// that the benchmark does not depend on that default.
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg.QPS = -1

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}, SyncPeriod: syncPeriod},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
	})
	if err != nil {
		return err
	}

	err = ctrl.NewControllerManagedBy(mgr).
		For(&Bench{}).
		Owns(&corev1.ConfigMap{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&BenchReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}

	// SetupSignalHandler cancels the context on SIGTERM or SIGINT; Start then returns nil once stopped.
	return mgr.Start(ctrl.SetupSignalHandler())
}

func positiveInt(name string, fallback int) (int, error) {
	raw := os.Getenv(name)
	if raw == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer, got %q", name, raw)
	}
	return n, nil
}
