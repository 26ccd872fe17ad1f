// Package watch holds what the local environment's services share to follow
// the API: an informer factory with small caches, and a channel that says
// "something changed" rather than what.
package watch

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NewFactory is an informer factory whose caches drop managed fields.
func NewFactory(client kubernetes.Interface) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(stripManagedFields))
}

// stripManagedFields keeps the informers' caches small.
func stripManagedFields(obj any) (any, error) {
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
	}
	return obj, nil
}

// Changes starts the factory and waits for its caches. The channel it
// returns receives (without blocking the informers) after any add, update or
// delete seen by the given informers. It returns a nil channel and no error
// when ctx ends first; the caller shuts the factory down.
func Changes(ctx context.Context, factory informers.SharedInformerFactory, who string, infs ...cache.SharedIndexInformer) (<-chan struct{}, error) {
	changed := make(chan struct{}, 1)
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { signal(changed) },
		UpdateFunc: func(any, any) { signal(changed) },
		DeleteFunc: func(any) { signal(changed) },
	}
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return nil, fmt.Errorf("watching for the %s: %w", who, err)
		}
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("listing %v for the %s: the API server did not answer", typ, who)
		}
	}
	return changed, nil
}

// signal wakes whoever waits on c, unless it is already due to wake.
func signal(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
