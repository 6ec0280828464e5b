/**
 * kwok stages the plane adds to kwok's own (which come from the kwok module, see binaries.ts). Each acts only on
 * objects that carry its marker, so nothing changes for any other object.
 *
 * `pod-hold`: a pod annotated `kwok.converge.dev/hold: "true"` stays Pending and never becomes ready — as a pod
 * whose image cannot be pulled, or whose container keeps crashing — so tests can drive a rollout that fails. kwok
 * picks, among the stages that match a pod, by weight: weight 1 wins over `pod-ready` (weight 0), and a delay of a
 * day keeps the stage from ever completing. A pod being deleted does not match, so `pod-delete` still removes it.
 */
export const holdAnnotation = "kwok.converge.dev/hold";

export const extraStages = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-hold
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchAnnotations:
      ${holdAnnotation}: "true"
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
  weight: 1
  delay:
    durationMilliseconds: 86400000
  next:
    event:
      type: Warning
      reason: Held
      message: 'kwok holds this pod (annotation ${holdAnnotation}): it never becomes ready'
`;
