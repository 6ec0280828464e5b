/**
 * The in-memory KubeClient for fast unit tests (see client.ts for what it models and where it approximates):
 * - client.ts: the verbs, the record of calls (`actions`) and interceptors;
 * - tracker.ts: the store (resourceVersions, generation, finalizers, garbage collection, selectors);
 * - watch.ts: watches (fan-out of changes, resuming from a history, 410 Expired, bookmarks);
 * - errors.ts: failures shaped like the apiserver's.
 */
export { type FakeAction, FakeClient, type FakeClientOptions, type FakeInterceptor } from "./client.ts";
export { fakeApiError } from "./errors.ts";
