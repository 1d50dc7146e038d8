package charts_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/authbridge/authbridge/pkg/server"
)

func itoa(i int) string { return strconv.Itoa(i) }

// authbridgePod returns the pod spec of the authbridge Deployment.
func authbridgePod(t *testing.T, objs []object) corev1.PodSpec {
	t.Helper()
	dep := one[*appsv1.Deployment](t, objs, fullname)
	require.Len(t, dep.Spec.Template.Spec.Containers, 1)
	return dep.Spec.Template.Spec
}

func containerPorts(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, p := range c.Ports {
		out[p.Name] = itoa(int(p.ContainerPort))
	}
	return out
}

// checkWorkloads asserts what a platform team checks in review: every pod runs non-root with a
// read-only root filesystem, no capabilities and RuntimeDefault seccomp; authbridge's probes hit the
// admin listener's real paths; termination outlasts the drain; replicas spread over nodes and zones.
func checkWorkloads(t *testing.T, objs []object) {
	t.Helper()
	for _, dep := range find[*appsv1.Deployment](objs) {
		spec := dep.Spec.Template.Spec
		require.NotNil(t, spec.SecurityContext, dep.Name)
		require.Equal(t, ptrTrue, spec.SecurityContext.RunAsNonRoot, dep.Name)
		require.NotNil(t, spec.SecurityContext.RunAsUser, dep.Name)
		require.NotZero(t, *spec.SecurityContext.RunAsUser, dep.Name)
		require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type, dep.Name)
		require.Equal(t, ptrFalse, spec.AutomountServiceAccountToken, dep.Name)
		require.Equal(t, ptrFalse, spec.EnableServiceLinks, "%s: service links inject AUTHBRIDGE_* variables the binary rejects", dep.Name)
		for _, c := range spec.Containers {
			sc := c.SecurityContext
			require.NotNil(t, sc, c.Name)
			require.Equal(t, ptrTrue, sc.ReadOnlyRootFilesystem, c.Name)
			require.Equal(t, ptrFalse, sc.AllowPrivilegeEscalation, c.Name)
			require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, c.Name)
			require.Empty(t, sc.Capabilities.Add, c.Name)
			require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type, c.Name)
			require.NotNil(t, c.ReadinessProbe, c.Name)
			require.NotNil(t, c.LivenessProbe, c.Name)
			require.NotEmpty(t, c.Resources.Requests, c.Name)
		}
	}

	spec := authbridgePod(t, objs)
	c := spec.Containers[0]
	ports := containerPorts(c)
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.ReadinessProbe, "/readyz"}, {c.LivenessProbe, "/healthz"}, {c.StartupProbe, "/healthz"}} {
		require.NotNil(t, p.probe)
		require.NotNil(t, p.probe.HTTPGet)
		require.Equal(t, p.path, p.probe.HTTPGet.Path)
		require.Equal(t, "admin", p.probe.HTTPGet.Port.String(), "probes go to the admin listener")
		require.NotEmpty(t, ports["admin"])
	}
	// The startup probe must outlast authbridge's retrying of an unreachable provider.
	sp := c.StartupProbe
	require.Greater(t, time.Duration(sp.PeriodSeconds*sp.FailureThreshold)*time.Second, server.DiscoveryTimeout)

	drain := server.DrainTimeout
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	require.NotNil(t, spec.TerminationGracePeriodSeconds)
	require.Greater(t, time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second, time.Duration(preStop)*time.Second+drain,
		"grace period must cover the preStop sleep plus the %s drain", drain)

	require.NotNil(t, spec.Affinity)
	require.NotNil(t, spec.Affinity.PodAntiAffinity)
	require.NotEmpty(t, spec.TopologySpreadConstraints)
}

var (
	ptrTrue  = func() *bool { b := true; return &b }()
	ptrFalse = func() *bool { b := false; return &b }()
)

// checkWiring asserts that the objects point at each other: the Service and the PDB select the pods,
// named ports exist, the ServiceMonitor, Ingress and Traefik Middleware reach real Service ports, the
// HPA scales the Deployment and keeps two replicas.
func checkWiring(t *testing.T, objs []object) {
	t.Helper()
	dep := one[*appsv1.Deployment](t, objs, fullname)
	podLabels := labels.Set(dep.Spec.Template.Labels)
	ports := containerPorts(dep.Spec.Template.Spec.Containers[0])
	svc := one[*corev1.Service](t, objs, fullname)
	require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels))
	svcPorts := map[string]string{}
	for _, p := range svc.Spec.Ports {
		require.Equal(t, ports[p.Name], itoa(int(p.Port)), "service port %s", p.Name)
		require.Equal(t, p.Name, p.TargetPort.String())
		require.NotNil(t, p.AppProtocol, p.Name)
		svcPorts[p.Name] = itoa(int(p.Port))
	}
	require.Equal(t, map[string]string{"http": ports["http"], "forward-auth": ports["forward-auth"], "grpc": ports["grpc"], "admin": ports["admin"]}, svcPorts)

	for _, pdb := range find[*policyv1.PodDisruptionBudget](objs) {
		require.True(t, selects(t, pdb.Spec.Selector.MatchLabels, podLabels))
	}
	if hpas := find[*autoscalingv2.HorizontalPodAutoscaler](objs); len(hpas) > 0 {
		require.Nil(t, dep.Spec.Replicas, "the HPA owns replicas")
		require.Equal(t, dep.Name, hpas[0].Spec.ScaleTargetRef.Name)
		require.GreaterOrEqual(t, *hpas[0].Spec.MinReplicas, int32(2))
	} else {
		require.GreaterOrEqual(t, *dep.Spec.Replicas, int32(2))
	}
	for _, np := range find[*networkingv1.NetworkPolicy](objs) {
		if np.Name != fullname {
			continue
		}
		require.True(t, selects(t, np.Spec.PodSelector.MatchLabels, podLabels))
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				require.Contains(t, ports, p.Port.String())
			}
		}
	}
	for _, ing := range find[*networkingv1.Ingress](objs) {
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				require.Equal(t, svc.Name, p.Backend.Service.Name)
				require.Equal(t, "http", p.Backend.Service.Port.Name)
				require.Equal(t, "/oauth2/", p.Path)
			}
		}
	}
	for _, o := range objs {
		spec := map[string]any{}
		if c, ok := o.typed.(*customObject); ok {
			require.NoError(t, strictJSON(c.Spec, &spec))
		}
		switch o.gvk {
		case "monitoring.coreos.com/v1/ServiceMonitor":
			ep := spec["endpoints"].([]any)[0].(map[string]any)
			require.Equal(t, "admin", ep["port"])
			require.Equal(t, "/metrics", ep["path"])
		case "traefik.io/v1alpha1/Middleware":
			fa := spec["forwardAuth"].(map[string]any)
			want := fmt.Sprintf("http://%s.%s.svc.cluster.local:%s/auth", svc.Name, relNS, svcPorts["forward-auth"])
			require.Equal(t, want, fa["address"])
			require.Contains(t, fa["authResponseHeaders"], "Authorization")
		case "security.istio.io/v1/AuthorizationPolicy":
			require.Equal(t, "CUSTOM", spec["action"])
			require.NotEmpty(t, spec["rules"], "a CUSTOM policy without rules matches nothing")
		}
	}
}

func selects(t *testing.T, sel map[string]string, set labels.Set) bool {
	t.Helper()
	require.NotEmpty(t, sel)
	return labels.SelectorFromSet(sel).Matches(set)
}
