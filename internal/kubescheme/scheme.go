// Package kubescheme holds the runtime.Scheme every pgo component uses: the
// built-in Kubernetes types and pgo's own.
package kubescheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	pgov1 "pgo.dev/pgo/api/v1"
)

// Scheme knows the built-in Kubernetes types and the pgo.dev/v1 types.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(pgov1.AddToScheme(Scheme))
}
