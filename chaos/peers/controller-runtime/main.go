// The chaos suite's ledger operator written the way a controller-runtime user writes it, doing what
// chaos/operator.ts does in its `ledger` mode: for each Task whose status.applied differs from spec.step, a live
// list (the API reader, not the cache) of the step's effects, a create with generateName when there is none, and
// a merge patch of status.applied. Leader election on a Lease with the same timings as the Converge replicas.
//
// Environment: KUBECONFIG, CHAOS_NAMESPACE, CHAOS_IDENTITY (the writer label), CHAOS_WORKERS (default 4),
// CHAOS_LEASE=<duration>/<renew deadline>/<retry period> in ms (default 4000/3000/500).
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
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

var GroupVersion = schema.GroupVersion{Group: "chaos.converge.dev", Version: "v1"}

const (
	labelTask   = "chaos.converge.dev/task"
	labelStep   = "chaos.converge.dev/step"
	labelWriter = "chaos.converge.dev/writer"
)

type TaskSpec struct {
	Step int64 `json:"step"`
}

type TaskStatus struct {
	Applied *int64 `json:"applied,omitempty"`
}

type Task struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TaskSpec   `json:"spec,omitempty"`
	Status TaskStatus `json:"status,omitempty"`
}

type TaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Task `json:"items"`
}

func (in *Task) DeepCopyInto(out *Task) {
	*out = *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Status.Applied != nil {
		v := *in.Status.Applied
		out.Status.Applied = &v
	}
}

func (in *Task) DeepCopy() *Task {
	if in == nil {
		return nil
	}
	out := new(Task)
	in.DeepCopyInto(out)
	return out
}

func (in *Task) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *TaskList) DeepCopyInto(out *TaskList) {
	*out = *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Task, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

func (in *TaskList) DeepCopy() *TaskList {
	if in == nil {
		return nil
	}
	out := new(TaskList)
	in.DeepCopyInto(out)
	return out
}

func (in *TaskList) DeepCopyObject() runtime.Object { return in.DeepCopy() }

type LedgerReconciler struct {
	client.Client
	Live   client.Reader
	Writer string
}

func (r *LedgerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var task Task
	if err := r.Get(ctx, req.NamespacedName, &task); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	step := task.Spec.Step
	if task.Status.Applied != nil && *task.Status.Applied == step {
		return ctrl.Result{}, nil
	}
	var effects corev1.ConfigMapList
	if err := r.Live.List(ctx, &effects, client.InNamespace(req.Namespace),
		client.MatchingLabels{labelTask: req.Name, labelStep: strconv.FormatInt(step, 10)}); err != nil {
		return ctrl.Result{}, err
	}
	if len(effects.Items) == 0 {
		effect := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			GenerateName: "effect-" + req.Name + "-",
			Namespace:    req.Namespace,
			Labels:       map[string]string{labelTask: req.Name, labelStep: strconv.FormatInt(step, 10), labelWriter: r.Writer},
		}}
		if err := r.Create(ctx, effect); err != nil {
			return ctrl.Result{}, err
		}
	}
	patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"status":{"applied":%d}}`, step)))
	if err := r.Status().Patch(ctx, &task, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel), zap.WriteTo(os.Stderr)))
	namespace := os.Getenv("CHAOS_NAMESPACE")
	writer := os.Getenv("CHAOS_IDENTITY")
	if namespace == "" || writer == "" {
		return fmt.Errorf("CHAOS_NAMESPACE and CHAOS_IDENTITY must be set")
	}
	workers := 4
	if w := os.Getenv("CHAOS_WORKERS"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return fmt.Errorf("CHAOS_WORKERS must be a positive integer, got %q", w)
		}
		workers = n
	}
	lease := []time.Duration{4 * time.Second, 3 * time.Second, 500 * time.Millisecond}
	if l := os.Getenv("CHAOS_LEASE"); l != "" {
		for i, part := range strings.Split(l, "/") {
			ms, err := strconv.Atoi(part)
			if err != nil || i > 2 {
				return fmt.Errorf("CHAOS_LEASE must be <duration>/<renew deadline>/<retry period> in ms, got %q", l)
			}
			lease[i] = time.Duration(ms) * time.Millisecond
		}
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	scheme.AddKnownTypes(GroupVersion, &Task{}, &TaskList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg.QPS = -1
	cfg.UserAgent = "chaos-operator/" + writer + " (controller-runtime)"

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                true,
		LeaderElectionID:              "chaos-operator-leader",
		LeaderElectionNamespace:       namespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease[0],
		RenewDeadline:                 &lease[1],
		RetryPeriod:                   &lease[2],
	})
	if err != nil {
		return err
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(&Task{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&LedgerReconciler{Client: mgr.GetClient(), Live: mgr.GetAPIReader(), Writer: writer})
	if err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
