/** The cache layer: shared informers, indexed stores and reads that see this process's own writes. */
export { builtinIndexes, Cache, type CacheOptions, type InformerScope, type ListFromCacheOptions } from "./cache.ts";
export {
  type EventHandler,
  Informer,
  type InformerEvent,
  type InformerLog,
  type InformerOptions,
  stripManagedFields,
} from "./informer.ts";
export { byControllerUid, byNamespace, byOwnerUid, type IndexFunc, keyOf, Store } from "./store.ts";
